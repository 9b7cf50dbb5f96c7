package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.AtenOps;
import io.github.phi3v.core.runtime.Tensors;

/**
 * An int8 weight for ATen's weight-only {@code _weight_int8pack_mm} (through {@link AtenOps}): per-channel
 * scales, activations unquantized in 16 bits, no packing at load. The fallback where neither fbgemm (exact only
 * with AVX-512 VNNI) nor the native kernel (no native library, or {@code -Dphi3v.nativeKernels=false}) runs.
 *
 * <p>On a CPU without AVX-512 a float32 model's calls take bf16 activations and scales
 * ({@link AtenOps#weightOnlyActivationType}): ATen's AVX2 build vectorizes the kernel for 16-bit activations
 * only, and float32 rows took 8x as long ({@code Int8RowsProbe}).
 *
 * @param q {@code [out, in]} int8, the stored matrix (a reference of the kernel's own)
 * @param scales {@code [out]} in {@link AtenOps#weightOnlyActivationType}
 * @param outType the layer's output dtype
 */
record AtenInt8Kernel(Tensor q, Tensor scales, ScalarType outType) implements Int8Kernel {

    /**
     * Most input rows of a float32 model the kernel multiplies; more (a prompt) run on the dequantized weight
     * in float32. Measured on the {@code qkv_proj} shape ({@code Int8RowsProbe}, AMD EPYC with AVX2,
     * docs/benchmarks.md): the kernel took 24 ms for 16 rows against 69 ms, 114 ms for 64 rows against 108 ms,
     * 567 ms for 512 rows against 432 ms. bf16 models always run the kernel: there a bf16 GEMM on a CPU without
     * bf16 instructions took 2.8x the kernel's time at 512 rows.
     */
    static final long FLOAT32_KERNEL_ROWS = 64;

    static AtenInt8Kernel of(Int8Linear.Stored s, ScalarType outType) {
        Tensor q = s.q().contiguous();                                           // [out, in], shared, read-only
        Tensor scaleRow = s.scale().to(AtenOps.weightOnlyActivationType(outType)).contiguous();        // [out]
        return new AtenInt8Kernel(q, scaleRow, outType);
    }

    @Override
    public Tensor mm(Tensor x) {
        ScalarType type = Tensors.dtype(scales);
        Tensor xk = Tensors.dtype(x) == type ? x : x.to(type);
        Tensor y = AtenOps.weightInt8PackMm(xk.contiguous(), q, scales);      // [n, out] in the kernel's dtype
        return type == outType ? y : y.to(outType);
    }

    @Override
    public long maxKernelRows() {
        return outType == ScalarType.Float ? FLOAT32_KERNEL_ROWS : Long.MAX_VALUE;
    }

    @Override
    public Tensor dequantized(ScalarType type) {
        Tensor w = q.to(ScalarType.Float).mul_(scales.to(ScalarType.Float).view(-1, 1));        // [out, in]
        return type == ScalarType.Float ? w : w.to(type);
    }

    @Override
    public List<Pointer> resources() {
        return List.of(q, scales);
    }

    /** The int8 weights and the 16-bit scales. */
    @Override
    public long streamedBytes() {
        return q.size(0) * q.size(1) + scales.element_size() * q.size(0);
    }
}
