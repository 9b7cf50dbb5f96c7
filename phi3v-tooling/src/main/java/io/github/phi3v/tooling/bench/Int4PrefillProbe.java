package io.github.phi3v.tooling.bench;

import java.util.Arrays;
import java.util.Locale;

import io.github.phi3v.core.model.DecoderLinear;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * Where int4 linears should leave ATen's int4 kernel for the dequantized bf16 weight: each Phi-3 decoder
 * linear shape, bf16 and int4 ({@link DecoderLinear#applyRows}, so int4 switches paths above
 * {@code Int4Linear.KERNEL_MAX_ROWS} rows as the model does), on 1 to 1024 rows, and the int4 kernel alone
 * on the same rows as calls of {@value #KERNEL_ROWS} rows (the kernel's cost grows with the rows in blocks
 * of 4); median of {@value #REPS} calls, the variants interleaved per row count so all see the same
 * machine. Prints milliseconds per call and the ratios to bf16.
 *
 * <pre>java -cp "$CP" io.github.phi3v.tooling.bench.Int4PrefillProbe</pre>
 */
public final class Int4PrefillProbe {

    static final int REPS = 7;
    static final int[] ROWS = {1, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    /** Rows per call of the kernel-only variant (the model's largest kernel call, at most). */
    static final int KERNEL_ROWS = 16;

    private Int4PrefillProbe() {
    }

    /**
     * Runs the comparison and prints one line per shape and row count.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        long[][] shapes = {{9216, 3072}, {3072, 3072}, {16384, 3072}, {3072, 8192}};
        for (long[] shape : shapes) {
            try (DecoderLinear bf16 = DecoderLinear.random(shape[0], shape[1], Precision.BFLOAT16, Quantization.NONE);
                 DecoderLinear int4 = DecoderLinear.random(shape[0], shape[1], Precision.BFLOAT16, Quantization.INT4)) {
                for (int rows : ROWS) {
                    double tb = median(bf16, rows, rows);
                    double t4 = median(int4, rows, rows);
                    double tk = median(int4, rows, Math.min(rows, KERNEL_ROWS));
                    System.out.printf(Locale.ROOT, "%dx%d rows %d: bf16 %.2f ms, int4 %.2f ms (%.2fx), int4 kernel in "
                            + "%d-row calls %.2f ms (%.2fx)%n", shape[0], shape[1], rows, tb, t4, t4 / tb, KERNEL_ROWS, tk,
                            tk / tb);
                }
            }
        }
    }

    /** Median time of {@code rows} rows computed as calls of {@code perCall} rows. */
    private static double median(DecoderLinear l, int rows, int perCall) {
        l.applyRows(perCall);                                                 // warm
        double[] ms = new double[REPS];
        for (int i = 0; i < REPS; i++) {
            long t0 = System.nanoTime();
            for (int done = 0; done < rows; done += perCall) {
                l.applyRows(perCall);
            }
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return ms[REPS / 2];
    }
}
