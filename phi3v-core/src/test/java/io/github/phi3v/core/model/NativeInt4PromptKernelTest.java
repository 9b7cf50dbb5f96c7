package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeInt4Kernel;
import io.github.phi3v.core.runtime.NativeKernelsOnThisCpu;
import io.github.phi3v.core.runtime.Tensors;

/**
 * The native int4 kernel's prompt kernel ({@link NativeInt4Kernel#mmPrompt}, {@code phi3v_int4_prompt.c}): its
 * arithmetic bit for bit on both builds (AVX-512 VNNI, {@code phi3v_int4_prompt.c}; AVX2, {@code
 * phi3v_int4_prompt_avx2.c}; a CPU with VNNI runs both), its error against the float product, the rows it takes
 * in {@link Int4Linear}, its argument checks.
 */
class NativeInt4PromptKernelTest {

    /** Largest 8-bit activation magnitude of the prompt kernel. */
    private static final float XI_MAX = 127;
    private static final int OUT = 40;
    private static final int IN = 352;     // 11 groups: two blocks of scale/zero exponents per row, the last short

    /** The builds of the kernel that run on this CPU, the preferred first (both where AVX-512 VNNI runs). */
    private static List<NativeInt4Kernel.Instructions> buildsHere() {
        boolean vnni = NativeKernelsOnThisCpu.requireInt4();
        List<NativeInt4Kernel.Instructions> builds = Arrays.stream(NativeInt4Kernel.Instructions.values())
                .filter(NativeInt4Kernel::runs).toList();
        assertEquals(vnni ? List.of(NativeInt4Kernel.Instructions.AVX512_VNNI, NativeInt4Kernel.Instructions.AVX2)
                : List.of(NativeInt4Kernel.Instructions.AVX2), builds);
        return builds;
    }

    /**
     * The kernel computes what {@code phi3v_int4_prompt.c} says, bit for bit: the decode kernel's scalar Java
     * rendering ({@code NativeInt4KernelTest.fixedPointProduct}) with 8-bit
     * activations per group of 32, exact integer sums, the same float32 fused multiply-adds in the same order)
     * gives the same output bits, bf16 and float32, for row counts around its 12-row tile and past its 192-row
     * chunk, over a padded block of output rows. A kernel that rounded the activations to 16 bits, as the decode
     * kernel does, would differ in most outputs.
     */
    @Test
    void equalsItsArithmeticBitForBit() {
        List<NativeInt4Kernel.Instructions> builds = buildsHere();
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             MemoryFormatOptional fmt = new MemoryFormatOptional();
             Int4Linear.Stored s = Int4Linear.quantize(torch.randn(new long[] {OUT, IN}, f32), "w")) {
            NativeInt4Kernel.Weight packed = NativeInt4Kernel.pack(s.nibbles(), s.scale(), s.zero());
            float[] bytes = Tensors.toFloats(s.nibbles().to(ScalarType.Float));                      // [out, in/2]
            float[] scale = Tensors.toFloats(s.scale().to(ScalarType.Float));                        // [out, in/32]
            float[] zero = Tensors.toFloats(s.zero().to(ScalarType.Float));
            int[] rowCounts = {1, 3, 4, 5, 11, 12, 13, 200};
            int compared = 0;
            for (NativeInt4Kernel.Instructions isa : builds) {
                for (ScalarType dtype : new ScalarType[] {ScalarType.BFloat16, ScalarType.Float}) {
                    for (int rows : rowCounts) {
                        Tensor x = torch.randn(new long[] {rows, IN}, f32).to(dtype);                   // [rows, in]
                        float[] xs = Tensors.toFloats(x.to(ScalarType.Float));
                        Tensor y = torch.empty(new long[] {rows, OUT}, new TensorOptions(dtype), fmt);
                        NativeInt4Kernel.mmPrompt(x, packed, y, isa);
                        float[] got = Tensors.toFloats(y.to(ScalarType.Float));
                        for (int r = 0; r < rows; r++) {
                            float[] expected = NativeInt4KernelTest.fixedPointProduct(Arrays.copyOfRange(xs, r * IN,
                                    r * IN + IN), bytes, scale, zero, OUT, XI_MAX);
                            for (int o = 0; o < OUT; o++) {
                                float e = dtype == ScalarType.BFloat16 ? NativeInt4KernelTest.roundToBf16(expected[o])
                                        : expected[o];
                                assertEquals(Float.floatToRawIntBits(e), Float.floatToRawIntBits(got[r * OUT + o]),
                                        isa + ", " + dtype + ", rows " + rows + ", row " + r + ", output " + o + ": "
                                        + got[r * OUT + o] + " vs " + e);
                                compared++;
                            }
                        }
                    }
                }
            }
            assertEquals(builds.size() * 2 * Arrays.stream(rowCounts).sum() * OUT, compared);
            packed.resources().forEach(org.bytedeco.javacpp.Pointer::close);
        }
    }

    /**
     * Against the float64 product of the unrounded activations with the dequantized weight, per output element
     * {@code |got - ref| <= 2^-8 |ref| + sum_g (a_g / 2) sum_(k in g) |w_k| + 1e-6 sum_k |x_k w_k|}: the bf16
     * output's rounding, each activation's rounding to 8 bits ({@code a_g = max_(k in g) |x_k| / 127}) and float32
     * summation; a zero input row gives zeros. And the 8-bit rounding is what it costs: over all outputs the
     * error is above the decode kernel's (16-bit activations) on the same rows.
     */
    @Test
    void staysWithinWhatItRoundsOfTheFloatProduct() {
        NativeKernelsOnThisCpu.requireInt4();
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             Int4Linear.Stored s = Int4Linear.quantize(torch.randn(new long[] {OUT, IN}, f32), "w")) {
            Int4Linear layer = Int4Linear.fromStored(s, ScalarType.BFloat16, Int4Kernel.Choice.NATIVE);
            try {
                float[] deq = Tensors.toFloats(NativeInt4KernelTest.dequantize(s));                    // [out, in]
                int rows = 30;
                Tensor x = torch.randn(new long[] {rows, IN}, f32).mul_(new Scalar(3.0));
                x.narrow(0, rows - 1, 1).zero_();                                                  // the last row zero
                Tensor xb = x.to(ScalarType.BFloat16);                                                // [rows, in]
                float[] xs = Tensors.toFloats(xb.to(ScalarType.Float));
                float[] got = Tensors.toFloats(layer.apply(xb, Int4Linear.Path.PROMPT_KERNEL).to(ScalarType.Float));
                float[] decode = Tensors.toFloats(layer.apply(xb, Int4Linear.Path.KERNEL).to(ScalarType.Float));
                double promptError = 0;
                double decodeError = 0;
                for (int r = 0; r < rows; r++) {
                    for (int o = 0; o < OUT; o++) {
                        double[] rb = NativeInt4KernelTest.referenceAndBound(xs, deq, r, o, IN, XI_MAX);
                        double ref = rb[0];
                        double bound = rb[1];
                        double v = got[r * OUT + o];
                        assertTrue(Math.abs(v - ref) <= bound, "row " + r + ", output " + o + ": " + v + " vs " + ref
                                + ", bound " + bound);
                        if (r == rows - 1) {
                            assertEquals(0.0, v, "a zero input row gives zero outputs");
                        }
                        promptError += (v - ref) * (v - ref);
                        decodeError += (decode[r * OUT + o] - ref) * (decode[r * OUT + o] - ref);
                    }
                }
                assertTrue(promptError > decodeError, "8-bit activations no less exact than 16-bit ones ("
                        + promptError + " vs " + decodeError + "): did the prompt kernel run?");
            } finally {
                layer.resources().forEach(org.bytedeco.javacpp.Pointer::close);
            }
        }
    }

    /** A prompt's rows take the prompt kernel, a decode step's (up to the kernel's bound) the decode kernel. */
    @Test
    void aLayerTakesItAboveTheKernelsRowBound() {
        boolean vnni = NativeKernelsOnThisCpu.requireInt4();
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             Int4Linear.Stored s = Int4Linear.quantize(torch.randn(new long[] {OUT, IN}, f32), "w")) {
            Int4Linear layer = Int4Linear.fromStored(s, ScalarType.BFloat16);
            try {
                long bound = layer.maxKernelRows();
                assertEquals(vnni ? 8 : NativeInt4Weight.AVX2_MAX_KERNEL_ROWS, bound);
                assertEquals(Int4Linear.Path.KERNEL, layer.path(1));
                assertEquals(Int4Linear.Path.KERNEL, layer.path(bound));
                assertEquals(Int4Linear.Path.PROMPT_KERNEL, layer.path(bound + 1));
                assertEquals(layer, layer.forRows(2000), "no dequantized weight is made for a prompt");
                for (long rows : new long[] {bound, bound + 1}) {
                    Tensor x = torch.randn(new long[] {rows, IN}, f32).to(ScalarType.BFloat16);
                    float[] applied = Tensors.toFloats(layer.apply(x).to(ScalarType.Float));
                    float[] onPath = Tensors.toFloats(layer.apply(x, layer.path(rows)).to(ScalarType.Float));
                    float[] other = Tensors.toFloats(layer.apply(x, rows > bound ? Int4Linear.Path.KERNEL
                            : Int4Linear.Path.PROMPT_KERNEL).to(ScalarType.Float));
                    assertTrue(Arrays.equals(onPath, applied), rows + " rows: apply took another path");
                    assertTrue(!Arrays.equals(other, applied), rows + " rows: both paths gave the same bits");
                }
            } finally {
                layer.resources().forEach(org.bytedeco.javacpp.Pointer::close);
            }
        }
    }

    @Test
    void refusesMismatchedArguments() {
        NativeKernelsOnThisCpu.requireInt4();
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions bf16 = new TensorOptions(ScalarType.BFloat16);
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             MemoryFormatOptional fmt = new MemoryFormatOptional();
             Int4Linear.Stored s = Int4Linear.quantize(torch.randn(new long[] {16, 64}, f32), "w")) {
            NativeInt4Kernel.Weight weight = NativeInt4Kernel.pack(s.nibbles(), s.scale(), s.zero());
            Tensor out = torch.empty(new long[] {20, 16}, bf16, fmt);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NativeInt4Kernel.mmPrompt(torch.zeros(new long[] {20, 32}, bf16), weight, out));
            assertTrue(e.getMessage().contains("x must be [rows, 64], found [20, 32]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativeInt4Kernel.mmPrompt(torch.zeros(new long[] {20, 64}, f32), weight, out));
            assertTrue(e.getMessage().contains("out must be [20, 16] of x's dtype Float"), e.getMessage());
            // No rows: nothing to compute, nothing refused.
            NativeInt4Kernel.mmPrompt(torch.zeros(new long[] {0, 64}, bf16), weight,
                    torch.empty(new long[] {0, 16}, bf16, fmt));
        }
    }
}
