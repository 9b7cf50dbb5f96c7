package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.AtenOps;
import io.github.phi3v.core.runtime.Tensors;

/**
 * An int4 weight for ATen's CPU kernel {@code _weight_int4pack_mm_for_cpu} (through {@link AtenOps}): the
 * activations enter in the model dtype ({@link AtenOps#weightOnlyActivationType}: bf16 for a float32 model on
 * a CPU without AVX-512), each weight is converted to float and multiplied in float. The
 * packed layout is the kernel's own (it depends on the instruction set and is not read back), so the stored
 * nibbles are kept next to it for {@link #dequantize}: half a byte more per weight. Used where the native
 * kernel does not run.
 *
 * @param packed the kernel's packing of the levels
 * @param scaleAndZeros {@code [groups, out, 2]} (scale, zero) pairs in the kernel's activation dtype
 *     ({@link AtenOps#weightOnlyActivationType}), the kernel's layout
 * @param nibbles {@code [out, in / 2]} the stored levels
 */
record AtenInt4Kernel(Tensor packed, Tensor scaleAndZeros, Tensor nibbles) implements Int4Kernel {

    /** Weights dequantized at a time: bounds the float32 temporaries to a few MB. */
    private static final long DEQUANTIZE_CHUNK = 1L << 20;

    static AtenInt4Kernel of(Int4Linear.Stored s, ScalarType outType) {
        long out = s.nibbles().size(0);
        long in = s.nibbles().size(1) * 2;
        Tensor bytes = s.nibbles().to(ScalarType.Int);                                      // [out, in/2]
        Tensor q = torch.stack(new TensorVector(torch.bitwise_and(bytes, new Scalar(15L)),
                torch.bitwise_right_shift(bytes, new Scalar(4L))), 2).reshape(out, in).contiguous(); // [out, in]
        Tensor packed = AtenOps.convertWeightToInt4Pack(q);
        Tensor sz = torch.stack(new TensorVector(s.scale().t(), s.zero().t()), 2).to(AtenOps.weightOnlyActivationType(outType))
                .contiguous();                                                                   // [g, out, 2]
        // A reference of the kernel's own to the stored nibbles: the caller's Stored may be freed right after.
        return new AtenInt4Kernel(packed, sz, s.nibbles().contiguous());
    }

    @Override
    public Tensor mm(Tensor x) {
        ScalarType type = Tensors.dtype(scaleAndZeros);
        if (Tensors.dtype(x) == type) {
            return AtenOps.weightInt4PackMm(x, packed, Int4Linear.GROUP_SIZE, scaleAndZeros);
        }
        return AtenOps.weightInt4PackMm(x.to(type), packed, Int4Linear.GROUP_SIZE, scaleAndZeros)
                .to(Tensors.dtype(x));                                             // [n, out] in x's dtype
    }

    @Override
    public void dequantize(long firstRow, Tensor out) {
        long rows = out.size(0);
        long in = nibbles.size(1) * 2;
        long groups = in / Int4Linear.GROUP_SIZE;
        long chunk = Math.max(1, Math.min(rows, DEQUANTIZE_CHUNK / in));   // a few MB of float32 temporaries
        try (Scalar fifteen = new Scalar(15L);
             Scalar four = new Scalar(4L);
             Scalar eight = new Scalar(8L)) {
            for (long r = 0; r < rows; r += chunk) {
                long len = Math.min(chunk, rows - r);
                Tensor b = nibbles.narrow(0, firstRow + r, len);                             // [len, in/2] uint8
                Tensor sz = scaleAndZeros.narrow(1, firstRow + r, len).to(ScalarType.Float); // [g, len, 2]
                // Byte j holds column 2j (low nibble) and 2j+1 (high): stacked on a last axis they interleave.
                Tensor levels = torch.stack(new TensorVector(torch.bitwise_and(b, fifteen),
                        torch.bitwise_right_shift(b, four)), 2)                              // [len, in/2, 2] 0..15
                        .to(ScalarType.Char).sub_(eight)                                     // q - 8, exact in int8
                        .to(ScalarType.Float).view(len, groups, Int4Linear.GROUP_SIZE);     // [len, g, 32]
                // In place: (q - 8) * scale is exact in float32 (4-bit level times 8-bit bf16 mantissa), + zero
                // rounds once, as a fused multiply-add; the copy rounds once more to out's dtype.
                levels.mul_(sz.select(2, 0).t().unsqueeze(2)).add_(sz.select(2, 1).t().unsqueeze(2)); // [len, g, 32]
                out.narrow(0, r, len).view(len, groups, Int4Linear.GROUP_SIZE).copy_(levels);
            }
        }
    }

    /**
     * 128: the kernel's time grows with the rows (2.5-2.8x bf16's GEMM from 128 rows on) while the whole
     * dequantization costs a fixed 6-42 ms per full-size linear; the two paths cost the same at 128 rows
     * ({@code Int4PrefillProbe}, docs/benchmarks.md).
     */
    @Override
    public long maxKernelRows() {
        return 128;
    }

    /** None: ATen's kernel hands a prompt's rows to the dequantized weight. */
    @Override
    public boolean hasPromptKernel() {
        return false;
    }

    @Override
    public Tensor promptMm(Tensor x) {
        throw new UnsupportedOperationException("ATen's int4 kernel has no prompt kernel");
    }

    @Override
    public List<Pointer> resources() {
        return List.of(packed, scaleAndZeros, nibbles);
    }

    @Override
    public long streamedBytes() {
        return packed.numel() + scaleAndZeros.numel() * scaleAndZeros.element_size();
    }
}
