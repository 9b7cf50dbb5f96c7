package io.github.phi3v.core.model;

import java.util.Arrays;
import java.util.Locale;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeInt4Kernel;
import io.github.phi3v.core.runtime.Tensors;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * The int4 kernels' builds side by side on the four decoder linear shapes, per row count, summed over the shapes:
 * the decode kernel and the prompt kernel of every build that runs here (on a CPU with AVX-512 VNNI both the VNNI
 * and the AVX2 builds), and the float32 GEMM with the dequantized weight; float32 rows (the precision a CPU without
 * AVX-512 runs by default), best of 7 passes ({@link ProbeTimer}). Where {@code NativeInt4Weight}'s AVX2 bound
 * comes from. Not a test: run by hand (docs/benchmarks.md, "The int4 prompt kernel with AVX2").
 *
 * <pre>java -cp "$CP" io.github.phi3v.core.model.Int4PromptBuildsProbe rows...</pre>
 */
public final class Int4PromptBuildsProbe {

    /** Passes per measurement, the first dropped. */
    private static final int PASSES = 8;

    private Int4PromptBuildsProbe() {
    }

    /**
     * Prints one line per row count.
     *
     * @param args the row counts
     */
    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        long[][] shapes = {{9216, 3072}, {3072, 3072}, {16384, 3072}, {3072, 8192}};
        NativeInt4Kernel.Instructions[] builds = Arrays.stream(NativeInt4Kernel.Instructions.values())
                .filter(NativeInt4Kernel::runs).toArray(NativeInt4Kernel.Instructions[]::new);
        for (int rows : Arrays.stream(args).mapToInt(Integer::parseInt).toArray()) {
            double[] decode = new double[builds.length];
            double[] prompt = new double[builds.length];
            double gemm = 0;
            for (long[] shape : shapes) {
                try (InferenceScope scope = InferenceScope.open();
                     TensorOptions f32 = new TensorOptions(ScalarType.Float);
                     Scalar std = new Scalar(0.02);
                     Int4Linear.Stored s = Int4Linear.quantize(torch.randn(shape, f32).mul_(std), "probe")) {
                    NativeInt4Kernel.Weight w = NativeInt4Kernel.pack(s.nibbles(), s.scale(), s.zero());
                    Tensor x = torch.randn(new long[] {rows, shape[1]}, f32);                  // [rows, in]
                    Tensor out = Tensors.empty(ScalarType.Float, rows, shape[0]);               // [rows, out]
                    Tensor wf = Tensors.empty(ScalarType.Float, shape[0], shape[1]);            // [out, in]
                    NativeInt4Kernel.dequantize(w, 0, wf);
                    for (int b = 0; b < builds.length; b++) {
                        NativeInt4Kernel.Instructions isa = builds[b];
                        decode[b] += time(() -> NativeInt4Kernel.mm(x, w, out, isa));
                        prompt[b] += time(() -> NativeInt4Kernel.mmPrompt(x, w, out, isa));
                    }
                    gemm += time(() -> torch.matmul(x, wf.t()));     // in ProbeTimer's scope per call
                    w.resources().forEach(org.bytedeco.javacpp.Pointer::close);
                }
            }
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "rows %d, four linears:", rows));
            for (int b = 0; b < builds.length; b++) {
                line.append(String.format(Locale.ROOT, " %s decode kernel %.2f ms, prompt kernel %.2f ms (%.2fx);",
                        builds[b], decode[b], prompt[b], prompt[b] / decode[b]));
            }
            System.out.println(line.append(String.format(Locale.ROOT, " float32 GEMM %.2f ms", gemm)));
        }
    }

    /** {@link ProbeTimer}'s best pass of one call, after one dropped pass. */
    private static double time(Runnable op) {
        return ProbeTimer.bestPassMillis(PASSES, 1, CpuMatmulBackend.Mode.ONEDNN, i -> op.run());
    }
}
