package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link NativeKernels#bf16WeightMm} against libtorch's float32 product with the weight's float32 copy. */
class NativeBf16WeightMmTest {

    @BeforeAll
    static void nativeKernelsRun() {
        NativeKernelsOnThisCpu.require();
    }

    /**
     * The same float32 products summed in another order: each logit within k float32 roundings of the sum
     * of |products| (k = 3072 terms, so 3072 * 2^-24 of sum |x w|), with odd shapes (vocab not a multiple
     * of the kernel's 4 rows) and 1 to 40 rows.
     */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 5, 40})
    void equalsTheFloat32ProductWithinSummationOrder(long rows) {
        long vocab = 1003;
        long hidden = 3072;
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            torch.manual_seed(rows);
            Tensor w = torch.randn(new long[] {vocab, hidden}, f32).to(ScalarType.BFloat16);     // [vocab, hidden]
            Tensor x = torch.randn(new long[] {rows, hidden}, f32);                             // [rows, hidden]
            Tensor wf = w.to(ScalarType.Float);
            float[] ref = Tensors.toFloats(torch.matmul(x, wf.t()));
            float[] bound = Tensors.toFloats(torch.matmul(torch.abs(x), torch.abs(wf).t()));
            Tensor out = torch.empty(new long[] {rows, vocab}, f32, fmt);
            NativeKernels.bf16WeightMm(x, w, out);
            float[] mine = Tensors.toFloats(out);
            assertEquals(rows * vocab, mine.length);
            double worst = 0;
            for (int i = 0; i < ref.length; i++) {
                double tol = hidden * Math.scalb((double) bound[i], -24);
                assertTrue(Math.abs(ref[i] - mine[i]) <= tol, "logit " + i + ": " + mine[i] + " vs " + ref[i]);
                worst = Math.max(worst, Math.abs(ref[i] - mine[i]) / Math.abs(ref[i]));
            }
            System.out.printf(Locale.ROOT, "[NativeBf16WeightMmTest] %d rows: largest relative difference %.2e%n",
                    rows, worst);
        }
    }

    @Test
    void refusesWhatItCannotRead() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             TensorOptions bf16 = new TensorOptions(ScalarType.BFloat16)) {
            Tensor w = torch.zeros(new long[] {8, 32}, bf16);
            Tensor x = torch.zeros(new long[] {2, 32}, f32);
            Tensor out = torch.zeros(new long[] {2, 8}, f32);
            assertRefused("w must be", () -> NativeKernels.bf16WeightMm(x, torch.zeros(new long[] {8, 24}, bf16), out));
            assertRefused("w must be", () -> NativeKernels.bf16WeightMm(x, w.to(ScalarType.Float), out));
            assertRefused("x must be", () -> NativeKernels.bf16WeightMm(x.to(ScalarType.BFloat16), w, out));
            assertRefused("out must be", () -> NativeKernels.bf16WeightMm(x, w, torch.zeros(new long[] {2, 9}, f32)));
        }
    }

    private static void assertRefused(String expected, Runnable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
