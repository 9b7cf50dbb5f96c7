package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeInt4Kernel;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.NativeKernelsOnThisCpu;
import io.github.phi3v.core.runtime.Tensors;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * The project's native int4 kernel ({@link NativeInt4Kernel#mm}, {@link NativeInt4Weight}) against the
 * float32 product with the dequantized weight, within the bound of what it rounds; its layout read back;
 * its argument checks. On CPUs without AVX-512 VNNI all of it runs the AVX2 twin.
 */
class NativeInt4KernelTest {

    /** Largest 16-bit fixed-point activation magnitude of the kernel ({@code XI_MAX} in phi3v_kernels.c). */
    private static final double XI_MAX = 32639;

    /** The kernel's builds that run on this CPU, the preferred first. */
    private static List<NativeInt4Kernel.Instructions> BUILDS_HERE;

    @BeforeAll
    static void theLibraryIsBuiltAndLoadsHere() {
        TorchRuntime.ensureInitialized();
        // The build compiles it into the jar on Linux x86-64 (the CI platform); only a CPU without AVX2 may
        // refuse it (asserted against /proc/cpuinfo), and then nothing here can run. Without VNNI every case
        // runs the AVX2 twin, which must meet the same bounds.
        boolean vnni = NativeKernelsOnThisCpu.requireInt4();
        // A CPU with AVX-512 VNNI runs the AVX2 twin too: the bit-for-bit tests below check both there.
        BUILDS_HERE = Arrays.stream(NativeInt4Kernel.Instructions.values()).filter(NativeInt4Kernel::runs).toList();
        assertEquals(vnni ? List.of(NativeInt4Kernel.Instructions.AVX512_VNNI, NativeInt4Kernel.Instructions.AVX2)
                : List.of(NativeInt4Kernel.Instructions.AVX2), BUILDS_HERE);
        assertEquals(BUILDS_HERE.get(0), NativeInt4Kernel.preferred());
        assertEquals(Int4Kernel.Choice.NATIVE, Int4Kernel.Choice.preferred(ScalarType.BFloat16));
        // A float32 model takes ATen's exact float products where ATen multiplies float32 (AVX-512); without
        // AVX-512 ATen rounds the activations to bf16, coarser than the native kernel.
        assertEquals(vnni ? Int4Kernel.Choice.ATEN : Int4Kernel.Choice.NATIVE,
                Int4Kernel.Choice.preferred(ScalarType.Float));
    }

    /**
     * Per output element, {@code |native - ref| <= 2^-8 |ref| + sum_g (a_g / 2) sum_(k in g) |w_k| + 1e-6
     * sum_k |x_k w_k|}: the bf16 rounding of the output (unit roundoff 2^-8), the activations' rounding to
     * 16-bit fixed point ({@code a_g = max_(k in g) |x_k| / 32639}, at most {@code a_g / 2} each) and float32
     * summation. Output rows not a multiple of 16 (padding), in-features not a multiple of 128, input rows
     * beyond one tile of 4 and a single row (decode), and a zero input row.
     */
    @Test
    void matchesTheDequantizedProductWithinWhatItRounds() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            long out = 40;
            long in = 96;
            Tensor w = torch.randn(new long[] {out, in}, f32);                                  // [out, in]
            try (Int4Linear.Stored s = Int4Linear.quantize(w, "w")) {
                Int4Linear layer = Int4Linear.fromStored(s, ScalarType.BFloat16, Int4Kernel.Choice.NATIVE);
                assertEquals(Int4Kernel.Choice.NATIVE, layer.kernelChoice());
                try {
                    float[] deq = Tensors.toFloats(dequantize(s));                              // [out, in]
                    for (int rows : new int[] {1, 5, 9}) {
                        Tensor x = torch.randn(new long[] {rows, in}, f32).mul_(new org.bytedeco.pytorch.Scalar(3.0));
                        boolean zeroRow = rows > 1;                                            // the last row all zero
                        if (zeroRow) {
                            x.narrow(0, rows - 1, 1).zero_();
                        }
                        Tensor xb = x.to(ScalarType.BFloat16);                                 // [rows, in]
                        float[] xs = Tensors.toFloats(xb.to(ScalarType.Float));
                        float[] got = Tensors.toFloats(layer.apply(xb, Int4Linear.Path.KERNEL).to(ScalarType.Float));
                        assertEquals(rows * out, got.length);
                        int differing = 0;
                        for (int r = 0; r < rows; r++) {
                            for (int o = 0; o < out; o++) {
                                double[] rb = referenceAndBound(xs, deq, r, o, (int) in, XI_MAX);
                                double ref = rb[0];
                                double bound = rb[1];
                                double v = got[(int) (r * out + o)];
                                assertTrue(Math.abs(v - ref) <= bound, "rows " + rows + ", row " + r + ", output " + o
                                        + ": " + v + " vs " + ref + ", bound " + bound);
                                differing += v != (float) ref ? 1 : 0;
                                if (zeroRow && r == rows - 1) {
                                    assertEquals(0.0, v, "a zero input row gives zero outputs");
                                }
                            }
                        }
                        assertTrue(differing > 0, "bf16 outputs all equal the float32 reference: was bf16 computed?");
                    }
                } finally {
                    layer.resources().forEach(org.bytedeco.javacpp.Pointer::close);
                }
            }
        }
    }

    /**
     * The native layout keeps nothing but its packing: dequantizing from it gives exactly what the stored form
     * gives ({@code (q - 8) * scale + zero} in float32, rounded once to bf16; or kept in float32), for the
     * whole weight and for a row range that starts at a block and ends in the padded one; on every build of the
     * kernel that runs here.
     */
    @Test
    void dequantizesFromItsOwnLayoutAsFromTheStoredForm() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            long out = 40;                                    // two full blocks of 16 and half a padded one
            long in = 32768;
            Tensor w = torch.randn(new long[] {out, in}, f32);
            try (Int4Linear.Stored s = Int4Linear.quantize(w, "w")) {
                Int4Linear own = Int4Linear.fromStored(s, ScalarType.BFloat16, Int4Kernel.Choice.NATIVE);
                NativeInt4Kernel.Weight packed = NativeInt4Kernel.pack(s.nibbles(), s.scale(), s.zero());
                try {
                    Tensor exact = dequantize(s);                                            // [out, in] float32
                    // bf16 -> float32 is exact: equal floats are equal bf16 bits.
                    float[] expected = Tensors.toFloats(exact.to(ScalarType.BFloat16).to(ScalarType.Float));
                    float[] got = Tensors.toFloats(own.dequantized().to(ScalarType.Float));
                    assertEquals(out * in, got.length);
                    assertArrayEquals(expected, got);

                    float[] range = Tensors.toFloats(exact.narrow(0, 16, 24).contiguous());
                    for (NativeInt4Kernel.Instructions isa : BUILDS_HERE) {
                        Tensor rows = torch.empty(new long[] {24, in}, f32, fmt);            // rows 16 .. 39
                        NativeInt4Kernel.dequantize(packed, 16, rows, isa);
                        assertArrayEquals(range, Tensors.toFloats(rows), isa + ", float32 rows 16 .. 39");
                        Tensor rowsBf16 = torch.empty(new long[] {out, in}, new TensorOptions(ScalarType.BFloat16),
                                fmt);
                        NativeInt4Kernel.dequantize(packed, 0, rowsBf16, isa);
                        assertArrayEquals(expected, Tensors.toFloats(rowsBf16.to(ScalarType.Float)), isa + ", bf16");
                    }
                } finally {
                    own.resources().forEach(org.bytedeco.javacpp.Pointer::close);
                    packed.resources().forEach(org.bytedeco.javacpp.Pointer::close);
                }
            }
        }
    }

    /**
     * The kernel computes exactly what its comment says, bit for bit, on either CPU (the AVX-512 VNNI kernel or
     * its AVX2 twin): a scalar Java rendering of that arithmetic (the 16-bit fixed-point activations per group,
     * exact integer sums, the same float32 fused multiply-adds in the same order) gives the same output bits,
     * bf16 and float32, over a padded block and row tiles of 1 to 4; on every build that runs here (both on a CPU
     * with AVX-512 VNNI, so there too the twin is held to the same bits).
     */
    @Test
    void equalsItsArithmeticBitForBit() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            int out = 40;
            int in = 352;                                     // 11 groups: two blocks of exponents per row, the last short
            try (Int4Linear.Stored s = Int4Linear.quantize(torch.randn(new long[] {out, in}, f32), "w")) {
                NativeInt4Kernel.Weight packed = NativeInt4Kernel.pack(s.nibbles(), s.scale(), s.zero());
                float[] bytes = Tensors.toFloats(s.nibbles().to(ScalarType.Float));                  // [out, in/2]
                float[] scale = Tensors.toFloats(s.scale().to(ScalarType.Float));                    // [out, in/32]
                float[] zero = Tensors.toFloats(s.zero().to(ScalarType.Float));
                int compared = 0;
                for (NativeInt4Kernel.Instructions isa : BUILDS_HERE) {
                    for (ScalarType dtype : new ScalarType[] {ScalarType.BFloat16, ScalarType.Float}) {
                        for (int rows : new int[] {1, 2, 3, 7}) {
                            Tensor x = torch.randn(new long[] {rows, in}, f32).to(dtype);                 // [rows, in]
                            float[] xs = Tensors.toFloats(x.to(ScalarType.Float));
                            Tensor y = torch.empty(new long[] {rows, out}, new TensorOptions(dtype), fmt);
                            NativeInt4Kernel.mm(x, packed, y, isa);
                            float[] got = Tensors.toFloats(y.to(ScalarType.Float));
                            for (int r = 0; r < rows; r++) {
                                float[] expected = fixedPointProduct(Arrays.copyOfRange(xs, r * in, r * in + in), bytes,
                                        scale, zero, out, (float) XI_MAX);
                                for (int o = 0; o < out; o++) {
                                    float e = dtype == ScalarType.BFloat16 ? roundToBf16(expected[o]) : expected[o];
                                    assertEquals(Float.floatToRawIntBits(e), Float.floatToRawIntBits(got[r * out + o]),
                                            isa + ", " + dtype + ", rows " + rows + ", row " + r + ", output " + o + ": "
                                            + got[r * out + o] + " vs " + e);
                                    compared++;
                                }
                            }
                        }
                    }
                }
                assertEquals(BUILDS_HERE.size() * 2 * (1 + 2 + 3 + 7) * out, compared);
                packed.resources().forEach(org.bytedeco.javacpp.Pointer::close);
            }
        }
    }

    /**
     * One row through the kernel's arithmetic (phi3v_kernels.c, prepare_row and int4_block), in scalar Java; with
     * {@code xiMax} 127 the prompt kernel's (phi3v_int4_prompt.c), which rounds the activations to 8 bits.
     *
     * @param x the row's {@code in} activations (their float values)
     * @param bytes the stored nibble bytes, {@code [out, in / 2]}
     * @param scale {@code [out, in / 32]}
     * @param zero {@code [out, in / 32]}
     * @param out output features
     * @param xiMax the largest rounded activation magnitude ({@code a = max |x| / xiMax} per group)
     * @return the float32 outputs before any rounding to bf16
     */
    static float[] fixedPointProduct(float[] x, float[] bytes, float[] scale, float[] zero, int out, float xiMax) {
        int in = x.length;
        int groups = in / 32;
        float[] f = new float[out];
        for (int g = 0; g < groups; g++) {
            float sum = 0;
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                sum += x[g * 32 + j];
                amax = Math.max(amax, Math.abs(x[g * 32 + j]));
            }
            float a = amax / xiMax;
            float inv = a > 0 ? 1.0f / a : 0.0f;
            int[] xi = new int[32];
            int isum = 0;
            for (int j = 0; j < 32; j++) {
                xi[j] = (int) Math.max(-xiMax, Math.min(xiMax, Math.rint(x[g * 32 + j] * inv)));
                isum += xi[j];
            }
            float c = -8.0f * a * (float) isum;
            for (int o = 0; o < out; o++) {
                int d = 0;                                                   // sum of level * xi, exact
                for (int j = 0; j < 32; j++) {
                    int b = (int) bytes[o * (in / 2) + g * 16 + j / 2];
                    d += ((j % 2 == 0) ? b & 15 : b >> 4) * xi[j];
                }
                float t = Math.fma((float) d, a, c);
                f[o] = Math.fma(scale[o * groups + g], t, f[o]);
                f[o] = Math.fma(zero[o * groups + g], sum, f[o]);
            }
        }
        return f;
    }

    /**
     * Output {@code o} of input row {@code r} against the float64 product of the row with the dequantized weight:
     * {@code {ref, bound}} with the bound {@code 2^-8 |ref| + sum_g (a_g / 2) sum_(k in g) |w_k| + 1e-6 sum_k
     * |x_k w_k|} (a bf16 output's rounding, each activation's rounding with {@code a_g = max_(k in g) |x_k| /
     * xiMax}, float32 sums).
     *
     * @param xs the input rows {@code [rows, in]}
     * @param deq the dequantized weight {@code [out, in]}
     * @param r the row
     * @param o the output
     * @param in input columns
     * @param xiMax the largest rounded activation magnitude of the kernel
     * @return the reference and the bound
     */
    static double[] referenceAndBound(float[] xs, float[] deq, int r, int o, int in, double xiMax) {
        double ref = 0;
        double abs = 0;
        double activation = 0;
        for (int g = 0; g < in / 32; g++) {
            double amax = 0;
            double wsum = 0;
            for (int k = g * 32; k < g * 32 + 32; k++) {
                double xv = xs[r * in + k];
                double wv = deq[o * in + k];
                ref += xv * wv;
                abs += Math.abs(xv * wv);
                amax = Math.max(amax, Math.abs(xv));
                wsum += Math.abs(wv);
            }
            activation += amax / xiMax / 2 * wsum;
        }
        return new double[] {ref, Math.scalb(Math.abs(ref), -8) + activation + 1e-6 * abs};
    }

    /** float32 to bf16 to nearest even (finite values), as the kernel's output. */
    static float roundToBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        bits += 0x7fff + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(bits & 0xffff0000);
    }

    /** {@code (q - 8) * scale + zero} in float32 from the stored form: {@code [out, in]}. */
    static Tensor dequantize(Int4Linear.Stored s) {
        long out = s.nibbles().size(0);
        long in = s.nibbles().size(1) * 2;
        Tensor bytes = s.nibbles().to(ScalarType.Int);
        Tensor q = torch.stack(new org.bytedeco.pytorch.TensorVector(torch.bitwise_and(bytes,
                new org.bytedeco.pytorch.Scalar(15L)), torch.bitwise_right_shift(bytes,
                new org.bytedeco.pytorch.Scalar(4L))), 2).reshape(out, in).to(ScalarType.Float);   // [out, in]
        Tensor scale = s.scale().to(ScalarType.Float).repeat_interleave(32, new org.bytedeco.pytorch.LongOptional(1),
                new org.bytedeco.pytorch.LongOptional());                                           // [out, in]
        Tensor zero = s.zero().to(ScalarType.Float).repeat_interleave(32, new org.bytedeco.pytorch.LongOptional(1),
                new org.bytedeco.pytorch.LongOptional());
        // (q - 8) * scale is exact in float32, + zero rounds once (as the dequantizing path's multiply-add).
        return q.sub(new org.bytedeco.pytorch.Scalar(8.0)).mul(scale).add(zero);
    }

    @Test
    void packedBytesCountTheLayoutsTensors() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            // 20 rows: padded to 32; 11 groups: two runs of exponents per row (8 + 3 groups).
            long[][] shapes = {{16, 64}, {20, 352}, {48, 256}};
            for (long[] shape : shapes) {
                try (Int4Linear.Stored s = Int4Linear.quantize(torch.randn(shape, f32), "w")) {
                    NativeInt4Kernel.Weight w = NativeInt4Kernel.pack(s.nibbles(), s.scale(), s.zero());
                    long tensors = w.weights().numel() + w.codes().numel() + w.exponents().numel();
                    assertEquals(tensors, NativeInt4Kernel.packedBytes(shape[0], shape[1]),
                            java.util.Arrays.toString(shape));
                    assertEquals(tensors, w.streamedBytes());
                }
            }
            // The full model's qkv_proj [9216, 3072]: 576 blocks x (96 groups x 288 bytes + 12 runs x 32).
            assertEquals(576L * (96 * 288 + 12 * 32), NativeInt4Kernel.packedBytes(9216, 3072));
        }
    }

    @Test
    void refusesMismatchedArguments() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions bf16 = new TensorOptions(ScalarType.BFloat16);
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            try (Int4Linear.Stored s = Int4Linear.quantize(torch.randn(new long[] {16, 64}, f32), "w")) {
                NativeInt4Kernel.Weight weight = NativeInt4Kernel.pack(s.nibbles(), s.scale(), s.zero());
                Tensor out = torch.empty(new long[] {2, 16}, bf16, fmt);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> NativeInt4Kernel.mm(torch.zeros(new long[] {2, 32}, bf16), weight, out));
                assertTrue(e.getMessage().contains("x must be [rows, 64], found [2, 32]"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class,
                        () -> NativeInt4Kernel.mm(torch.zeros(new long[] {2, 64}, f32), weight, out));
                assertTrue(e.getMessage().contains("out must be [2, 16] of x's dtype Float"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class,
                        () -> NativeInt4Kernel.mm(torch.zeros(new long[] {2, 64}, bf16).t().contiguous().t(), weight,
                                out));
                assertTrue(e.getMessage().endsWith("x must be contiguous"), e.getMessage());
                Tensor rows = torch.empty(new long[] {8, 64}, bf16, fmt);
                e = assertThrows(IllegalArgumentException.class, () -> NativeInt4Kernel.dequantize(weight, 8, rows));
                assertTrue(e.getMessage().contains("firstRow must be a non-negative multiple of 16, got 8"),
                        e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> NativeInt4Kernel.dequantize(weight, 0,
                        torch.empty(new long[] {17, 64}, bf16, fmt)));
                assertTrue(e.getMessage().contains("out must be [rows, 64] with 0 + rows <= 16, found [17, 64]"),
                        e.getMessage());
                // No rows: nothing to compute, nothing refused.
                NativeInt4Kernel.mm(torch.zeros(new long[] {0, 64}, bf16), weight, torch.empty(new long[] {0, 16}, bf16,
                        fmt));
            }
        }
    }
}
