package io.github.phi3v.tooling.bench;

import java.util.Arrays;
import java.util.Locale;

import io.github.phi3v.core.model.DecoderLinear;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.NativeInt4Kernel;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * Where int4 linears should leave the int4 kernel for a prompt's path (each kernel's {@code maxKernelRows}): each
 * Phi-3 decoder linear shape on 1 to 1024 rows, bf16 against the int4 kernel (one call of all the rows, up to
 * {@value #KERNEL_PROBE_MAX_ROWS}), against its prompt kernel where it has one
 * ({@link DecoderLinear#applyRowsOnPromptKernel}) and against the product with the dequantized weight
 * ({@link DecoderLinear#applyRowsDequantized}); median of {@value #REPS} calls, the paths interleaved per row
 * count so all see the same machine. Prints milliseconds per call, the ratios to bf16, and per shape the largest
 * row count at which the kernel was still faster than both other paths. The int4 kernel
 * is the one a model of that precision gets here (the native one where it runs; {@code
 * -Dphi3v.nativeKernels=false} for ATen's). The first argument, if given, is the precision ({@code bfloat16},
 * the default, or {@code float32}: then "bf16" below means the float32 weight), the others the row counts.
 *
 * <pre>java -cp "$CP" io.github.phi3v.tooling.bench.Int4PrefillProbe [float32|bfloat16 [rows ...]]</pre>
 */
public final class Int4PrefillProbe {

    static final int REPS = 7;
    static final int[] ROWS = {1, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512, 1024};
    /** Rows above which the kernel is not timed (it is far behind there and slow to time). */
    static final int KERNEL_PROBE_MAX_ROWS = 256;

    private Int4PrefillProbe() {
    }

    /**
     * Runs the comparison and prints one line per shape and row count.
     *
     * @param args the precision, then row counts (both optional)
     */
    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        Precision precision = args.length > 0 && args[0].equals("float32") ? Precision.FLOAT32 : Precision.BFLOAT16;
        int[] rowCounts = args.length > 1
                ? Arrays.stream(args).skip(1).mapToInt(Integer::parseInt).toArray() : ROWS;
        System.out.println(precision + ", int4 kernel: " + (NativeInt4Kernel.available() ? "native"
                : "ATen (" + NativeKernels.unavailableReason() + ")") + "; AVX-512 kernels: "
                + (NativeKernels.available() ? "on" : NativeKernels.unavailableReason()));
        long[][] shapes = {{9216, 3072}, {3072, 3072}, {16384, 3072}, {3072, 8192}};
        for (long[] shape : shapes) {
            try (DecoderLinear bf16 = DecoderLinear.random(shape[0], shape[1], precision, Quantization.NONE);
                 DecoderLinear int4 = DecoderLinear.random(shape[0], shape[1], precision, Quantization.INT4)) {
                int kernelFasterUpTo = 0;
                boolean kernelFaster = true;   // at every row count so far
                for (int rows : rowCounts) {
                    double tb = median(() -> bf16.applyRows(rows));
                    double td = median(() -> int4.applyRowsDequantized(rows));
                    String prompt = "none here";
                    double other = td;   // the faster of the paths a prompt can take instead of the kernel
                    if (int4.hasPromptKernel()) {
                        double tp = median(() -> int4.applyRowsOnPromptKernel(rows));
                        other = Math.min(other, tp);
                        prompt = String.format(Locale.ROOT, "%.2f ms (%.2fx)", tp, tp / tb);
                    }
                    String kernel = "not timed";
                    if (rows <= KERNEL_PROBE_MAX_ROWS) {
                        double tk = median(() -> int4.applyRowsOnKernel(rows));
                        kernel = String.format(Locale.ROOT, "%.2f ms (%.2fx)", tk, tk / tb);
                        kernelFaster &= tk < other;
                        kernelFasterUpTo = kernelFaster ? rows : kernelFasterUpTo;
                    }
                    System.out.printf(Locale.ROOT, "%dx%d rows %d: bf16 %.2f ms, int4 kernel %s, int4 prompt kernel "
                            + "%s, int4 dequantized %.2f ms (%.2fx)%n", shape[0], shape[1], rows, tb, kernel, prompt,
                            td, td / tb);
                }
                System.out.printf(Locale.ROOT, "%dx%d: the int4 kernel is the faster path up to %d rows%n", shape[0],
                        shape[1], kernelFasterUpTo);
            }
        }
    }

    /** Median milliseconds of {@value #REPS} runs of {@code op} after one warm-up. */
    private static double median(Runnable op) {
        op.run();
        double[] ms = new double[REPS];
        for (int i = 0; i < REPS; i++) {
            long t0 = System.nanoTime();
            op.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return ms[REPS / 2];
    }
}
