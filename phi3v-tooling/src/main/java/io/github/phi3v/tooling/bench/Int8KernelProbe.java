package io.github.phi3v.tooling.bench;

import java.util.Locale;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.model.DecoderLinear;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.AtenOps;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * Issue #20's int8 kernel question: ATen's weight-only {@code _weight_int8pack_mm} (bf16 activations,
 * per-channel int8 weights) against the fbgemm path {@link Quantization#INT8} runs today
 * ({@link DecoderLinear}, activations quantized per tensor to uint8), on one-row inputs of the Phi-3
 * decoder's four linear shapes. Each shape is held in {@value #COPIES} copies applied in turn (more than
 * any cache), median of {@value #REPS} calls per kernel, kernels interleaved in {@value #ROUNDS} rounds so
 * both see the same machine. Prints milliseconds and GB/s of int8 weights per call, and
 * {@code _weight_int8pack_mm}'s relative output error against the float32 product.
 *
 * <pre>java -cp "$CP" io.github.phi3v.tooling.bench.Int8KernelProbe</pre>
 */
public final class Int8KernelProbe {

    static final int COPIES = 3;
    static final int REPS = 40;
    static final int ROUNDS = 3;

    private Int8KernelProbe() {
    }

    /**
     * Runs the comparison and prints one line per shape and round.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        long[][] shapes = {{9216, 3072}, {3072, 3072}, {16384, 3072}, {3072, 8192}};
        for (long[] shape : shapes) {
            long out = shape[0];
            long in = shape[1];
            DecoderLinear[] fbgemm = new DecoderLinear[COPIES];
            try (InferenceScope scope = InferenceScope.open();
                 TensorOptions f32 = new TensorOptions(ScalarType.Float);
                 ScalarOptional lo = new ScalarOptional(new Scalar(-127.0));
                 ScalarOptional hi = new ScalarOptional(new Scalar(127.0))) {
                Tensor[] q = new Tensor[COPIES];
                Tensor[] scales = new Tensor[COPIES];
                Tensor x = torch.randn(new long[] {1, in}, f32).to(ScalarType.BFloat16);       // [1, in]
                double error = 0;
                for (int c = 0; c < COPIES; c++) {
                    fbgemm[c] = DecoderLinear.random(out, in, Precision.BFLOAT16, Quantization.INT8);
                    Tensor w = torch.randn(new long[] {out, in}, f32).mul_(new Scalar(0.02));     // [out, in]
                    Tensor s = torch.amax(torch.abs(w), new long[] {1}, true).div(new Scalar(127.0)); // [out, 1]
                    q[c] = w.div(s).round().clamp(lo, hi).to(ScalarType.Char).contiguous();
                    scales[c] = s.view(-1).to(ScalarType.BFloat16);                              // [out]
                    if (c == 0) {
                        Tensor ref = torch.matmul(x.to(ScalarType.Float), w.t());
                        Tensor got = AtenOps.weightInt8PackMm(x, q[c], scales[c]).to(ScalarType.Float);
                        error = torch.norm(got.sub(ref)).item_double() / torch.norm(ref).item_double();
                    }
                }
                double gb = out * in / 1e9;
                for (int round = 0; round < ROUNDS; round++) {
                    double tf = median(i -> fbgemm[i % COPIES].applyOneRow());
                    double ta = median(i -> {
                        try (InferenceScope step = InferenceScope.open()) {
                            AtenOps.weightInt8PackMm(x, q[i % COPIES], scales[i % COPIES]);
                        }
                    });
                    System.out.printf(Locale.ROOT, "%dx%d round %d: fbgemm %.3f ms (%.1f GB/s); _weight_int8pack_mm "
                            + "%.3f ms (%.1f GB/s, relative error %.4f); fbgemm/aten time %.2f%n", out, in, round, tf,
                            gb / tf * 1e3, ta, gb / ta * 1e3, error, tf / ta);
                }
            } finally {
                for (DecoderLinear l : fbgemm) {
                    if (l != null) {
                        l.close();
                    }
                }
            }
        }
    }

    private static double median(java.util.function.IntConsumer call) {
        for (int i = 0; i < COPIES * 2; i++) {
            call.accept(i);
        }
        double[] ms = new double[REPS];
        for (int i = 0; i < REPS; i++) {
            long t0 = System.nanoTime();
            call.accept(i);
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        java.util.Arrays.sort(ms);
        return ms[REPS / 2];
    }
}
