package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;

import io.github.phi3v.core.runtime.NativeInt4Kernel;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.Tensors;

/**
 * An int4 weight for the project's native kernel ({@link NativeInt4Kernel#mm}): the levels multiply the
 * activations rounded to 16-bit fixed point per group of 32 columns, exactly in int32, then scale and zero
 * in float32. That rounding moves each activation by at most {@code max|x| / 65278} of its group, under
 * 1/256 of a bf16 ulp of the group's largest activation (docs/architecture.md, "Native kernels").
 * The weight is kept only in the kernel's layout ({@link NativeInt4Kernel.Weight}); prompts of many rows
 * run on the prompt kernel of the same weight ({@link #promptMm}). On CPUs without AVX-512 VNNI the same weight
 * runs on both kernels' AVX2 twins, with the same results ({@link NativeInt4Kernel#available()}).
 */
record NativeInt4Weight(NativeInt4Kernel.Weight weight) implements Int4Kernel {

    /** {@link #maxKernelRows()} of the AVX2 build (see there). */
    static final long AVX2_MAX_KERNEL_ROWS = 3;

    static NativeInt4Weight of(Int4Linear.Stored s) {
        return new NativeInt4Weight(NativeInt4Kernel.pack(s.nibbles(), s.scale(), s.zero()));
    }

    @Override
    public Tensor mm(Tensor x) {
        Tensor out = Tensors.empty(Tensors.dtype(x), x.size(0), weight.outFeatures());      // [n, out]
        NativeInt4Kernel.mm(x, weight, out);
        return out;
    }

    @Override
    public void dequantize(long firstRow, Tensor out) {
        NativeInt4Kernel.dequantize(weight, firstRow, out);
    }

    /**
     * With AVX-512 VNNI 8: summed over the four linears of a decoder layer (the decoder's shapes, {@code
     * Int4PrefillProbe}, docs/benchmarks.md "int4 prompts on 8-bit activations") the kernel took 3.2 ms on 4 rows
     * and 6.8 ms on 8, the prompt kernel 5.5 and 6.1 ms (its time is about flat up to its 12-row tile): so
     * batched decode steps of up to 8 sequences keep the kernel's finer rounding, and the prompt kernel takes
     * more rows. With AVX2 ({@value #AVX2_MAX_KERNEL_ROWS}): the same four shapes on the AVX2 builds ({@code
     * Int4PromptBuildsProbe}, float32 rows, measured on a CPU with AVX-512 running the AVX2 code): the kernel 3.27
     * ms on 2 rows, 4.37 on 3 and 6.18 on 4, the prompt kernel 4.79, 4.46 and 5.02 ms, and 0.50x the kernel's time
     * on 512 rows (docs/benchmarks.md, "The int4 prompt kernel with AVX2").
     */
    @Override
    public long maxKernelRows() {
        return NativeKernels.available() ? 8 : AVX2_MAX_KERNEL_ROWS;
    }

    /** Both builds have one ({@code phi3v_int4_prompt.c}, {@code phi3v_int4_prompt_avx2.c}). */
    @Override
    public boolean hasPromptKernel() {
        return NativeInt4Kernel.available();
    }

    /**
     * {@link NativeInt4Kernel#mmPrompt}: the activations rounded to 8 bits per group of 32 columns (at most
     * {@code max|x| / 254} of the group per activation, where {@link #mm} rounds to 16 bits).
     */
    @Override
    public Tensor promptMm(Tensor x) {
        Tensor out = Tensors.empty(Tensors.dtype(x), x.size(0), weight.outFeatures());      // [n, out]
        NativeInt4Kernel.mmPrompt(x, weight, out);
        return out;
    }

    @Override
    public List<Pointer> resources() {
        return weight.resources();
    }

    @Override
    public long streamedBytes() {
        return weight.streamedBytes();
    }
}
