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
 * dequantize from it natively ({@link NativeInt4Kernel#dequantize}). On CPUs without AVX-512 VNNI the same
 * weight runs on the kernel's AVX2 twin, with the same results ({@link NativeInt4Kernel#available()}).
 */
record NativeInt4Weight(NativeInt4Kernel.Weight weight) implements Int4Kernel {

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
     * With AVX-512 VNNI 64: summed over the four linears of a decoder layer the kernel is faster up to 64 rows
     * (51 against 57 ms) and the chunked dequantized product from 96 (67 against 77 ms; {@code
     * Int4PrefillProbe}, docs/benchmarks.md). The kernel's time grows with the rows, the product's far more
     * slowly. The AVX2 twin has no bound: there the product would run float32 GEMMs (or bf16 ones without
     * bf16 instructions), and the kernel was faster than the float32 GEMM itself on every Phi-3 shape up to
     * 256 rows, the most the probe times it at (0.57-0.81x its time; docs/benchmarks.md, "int4 without
     * AVX-512").
     */
    @Override
    public long maxKernelRows() {
        return NativeKernels.available() ? 64 : Long.MAX_VALUE;
    }

    @Override
    public long rowAlignment() {
        return 16;
    }

    @Override
    public boolean fastDequantize() {
        return true;
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
