package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link NativeInt8Kernel} against the same products in double precision: every output within float32
 * rounding of its sum ({@code 1e-6} of the sum of the products' magnitudes), on shapes with odd and even x
 * rows (the kernel pairs them) and one or many blocks of 4 weight rows, the weights' full range -127..127;
 * its layout ({@link NativeInt8Kernel#pack}) and its refusals.
 */
class NativeInt8KernelTest {

    @BeforeAll
    static void runsWhereTheCpuHasAvx2() {
        TorchRuntime.ensureInitialized();
        boolean linuxX64 = System.getProperty("os.name", "").startsWith("Linux")
                && System.getProperty("os.arch", "").matches("amd64|x86_64");
        boolean capable = linuxX64 && CpuFeatures.has("avx2", "fma");
        // The build compiles the library on Linux x86-64 (the CI platform): there it must load and run.
        assertEquals(capable, NativeInt8Kernel.available(), "native int8 kernel available exactly on Linux x86-64 "
                + "with AVX2 and FMA; library: " + NativeKernels.unavailableReason());
        assumeTrue(capable, "the native int8 kernel cannot run here");
    }

    @ParameterizedTest
    @CsvSource({"1, 4, 8", "1, 4, 64", "1, 8, 3072", "2, 12, 16", "3, 8, 24", "5, 20, 64", "8, 36, 128", "1, 4096, 8",
            "64, 44, 256"})
    void equalsTheProductsSummedInDouble(int m, int n, int k) {
        SplittableRandom random = new SplittableRandom(31L * m + 7L * n + k);
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextDouble(-4, 4) * (random.nextInt(50) == 0 ? 100 : 1));   // a few outliers
        }
        byte[] q = new byte[n * k];
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) random.nextInt(-127, 128);
        }
        float[] scale = new float[n];
        for (int i = 0; i < n; i++) {
            scale[i] = (float) random.nextDouble(1e-4, 1e-2);
        }
        float[] got;
        try (InferenceScope scope = InferenceScope.open()) {
            Tensor out = Tensors.empty(ScalarType.Float, m, n);
            NativeInt8Kernel.mm(Tensors.fromFloats(x, (long) m, (long) k), NativeInt8Kernel.pack(int8(q, n, k)),
                    Tensors.fromFloats(scale, (long) n), out);
            got = Tensors.toFloats(out);
        }
        assertEquals(m * n, got.length);
        double worst = 0;
        for (int i = 0; i < m; i++) {
            for (int o = 0; o < n; o++) {
                double sum = 0;
                double magnitude = 0;
                for (int c = 0; c < k; c++) {
                    double p = (double) x[i * k + c] * q[o * k + c];
                    sum += p;
                    magnitude += Math.abs(p);
                }
                double want = sum * scale[o];
                double err = Math.abs(got[i * n + o] - want) / (magnitude * scale[o] + 1e-30);
                worst = Math.max(worst, err);
                assertTrue(err <= 1e-6, "out[" + i + ", " + o + "] = " + got[i * n + o] + ", want " + want
                        + " (error " + err + " of the products' magnitude)");
            }
        }
        assertTrue(worst > 0 || k == 8, "bit-exact on every output of a long sum: was the result computed at all?");
    }

    @Test
    void packAndUnpackAreInverse() {
        byte[] values = new byte[8 * 16];
        for (int i = 0; i < values.length; i++) {
            values[i] = (byte) (i % 255 - 127);
        }
        try (InferenceScope scope = InferenceScope.open()) {
            Tensor q = int8(values, 8, 16);
            Tensor packed = NativeInt8Kernel.pack(q);
            assertEquals(List.of(2L, 2L, 4L, 8L), List.of(packed.size(0), packed.size(1), packed.size(2), packed.size(3)));
            // Block 0, column block 1, row 2, column 3 is row 2's column 11.
            float[] p = Tensors.toFloats(packed.to(ScalarType.Float));
            assertEquals(values[2 * 16 + 11], (byte) p[((0 * 2 + 1) * 4 + 2) * 8 + 3]);
            float[] back = Tensors.toFloats(NativeInt8Kernel.unpack(packed).to(ScalarType.Float));
            for (int i = 0; i < values.length; i++) {
                assertEquals(values[i], (byte) back[i], "element " + i);
            }
        }
    }

    @Test
    void refusesWhatItCannotRead() {
        try (InferenceScope scope = InferenceScope.open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NativeInt8Kernel.pack(int8(new byte[24], 2, 12)));
            assertTrue(e.getMessage().startsWith("native int8 kernel: q must be [n, k] int8 with n a multiple of 4 "
                    + "and k of 8"), e.getMessage());
            Tensor x = Tensors.fromFloats(new float[8], 1L, 8L);
            Tensor scale = Tensors.fromFloats(new float[4], 4L);
            Tensor out = Tensors.empty(ScalarType.Float, 1, 4);
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativeInt8Kernel.mm(x, int8(new byte[32], 4, 8), scale, out));
            assertTrue(e.getMessage().contains("q must be [n / 4, k / 8, 4, 8] int8 contiguous"), e.getMessage());
            Tensor q8 = NativeInt8Kernel.pack(int8(new byte[32], 4, 8));
            Tensor x8 = x;
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativeInt8Kernel.mm(x8, q8, Tensors.fromFloats(new float[3], 3L), out));
            assertTrue(e.getMessage().contains("scale must be [4] float32"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativeInt8Kernel.mm(x8.to(ScalarType.BFloat16), q8, scale, out));
            assertTrue(e.getMessage().contains("x must be [rows, 8] float32 contiguous"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativeInt8Kernel.mm(x8, q8, scale, Tensors.empty(ScalarType.Float, 1, 8).view(1, 4, 2)
                            .select(2, 0)));                                 // [1, 4] with stride 2
            assertTrue(e.getMessage().contains("out must be [1, 4] float32 contiguous"), e.getMessage());
        }
    }

    /** A {@code [rows, cols]} int8 tensor of {@code values}, in the caller's scope. */
    private static Tensor int8(byte[] values, long rows, long cols) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = values[i];
        }
        return Tensors.fromFloats(f, new long[] {rows, cols}).to(ScalarType.Char).contiguous();
    }
}
