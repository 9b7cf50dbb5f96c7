package io.github.phi3v.core.model;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeEncoderAttention;
import io.github.phi3v.core.runtime.Tensors;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * Where one CLIP-L/14 encoder layer's time goes in a bf16 model on the rows of a num_crops 4 image (5 crops of 577
 * positions): its operations as {@link ClipVisionTower} runs them, with random weights, timed one by one, and its
 * attention both ways, libtorch's float32 attention with the copies around it and {@link NativeEncoderAttention}.
 * Mean of {@value #PASSES} passes after one warm-up pass. Not a test: run by hand (docs/benchmarks.md, "CLIP's
 * attention").
 *
 * <pre>java -cp "$CP" io.github.phi3v.core.model.ClipLayerProbe [crops]</pre>
 */
public final class ClipLayerProbe {

    private static final int PASSES = 5;
    private static final long POSITIONS = 577;
    private static final long HIDDEN = 1024;
    private static final long INTERMEDIATE = 4096;
    private static final long HEADS = 16;

    private final Map<String, Double> millis = new LinkedHashMap<>();
    private boolean timing;

    private ClipLayerProbe() {
    }

    /**
     * Prints milliseconds per layer of each operation group.
     *
     * @param args optional: the number of crops (default 5)
     */
    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        long n = args.length > 0 ? Long.parseLong(args[0]) : 5;
        new ClipLayerProbe().run(n);
    }

    private void run(long n) {
        long d = HIDDEN / HEADS;
        float scale = (float) Math.pow(d, -0.5);
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             Scalar std = new Scalar(0.02);
             Scalar alpha = new Scalar(1.702);
             DoubleOptional sdpaScale = new DoubleOptional(scale);
             TensorOptional noMask = new TensorOptional()) {
            Tensor[] w = new Tensor[6];                                   // q, k, v, out, fc1, fc2
            long[][] shapes = {{HIDDEN, HIDDEN}, {HIDDEN, HIDDEN}, {HIDDEN, HIDDEN}, {HIDDEN, HIDDEN},
                {INTERMEDIATE, HIDDEN}, {HIDDEN, INTERMEDIATE}};
            TensorOptional[] b = new TensorOptional[6];
            for (int i = 0; i < 6; i++) {
                w[i] = torch.randn(shapes[i], f32).mul_(std).to(ScalarType.BFloat16);
                b[i] = new TensorOptional(torch.zeros(new long[] {shapes[i][0]}, f32).to(ScalarType.BFloat16));
            }
            TensorOptional lnWeight = new TensorOptional(torch.ones(new long[] {HIDDEN}, f32).to(ScalarType.BFloat16));
            TensorOptional lnBias = new TensorOptional(torch.zeros(new long[] {HIDDEN}, f32).to(ScalarType.BFloat16));
            Tensor x = torch.randn(new long[] {n, POSITIONS, HIDDEN}, f32).to(ScalarType.BFloat16);
            long[] norm = {HIDDEN};
            for (int pass = 0; pass <= PASSES; pass++) {
                timing = pass > 0;
                try (InferenceScope p = InferenceScope.open()) {
                    Tensor h = time("layer norms", () -> torch.layer_norm(x, norm, lnWeight, lnBias, 1e-5, false));
                    Tensor q = time("q, k, v linears", () -> torch.linear(h, w[0], b[0]));
                    Tensor k = time("q, k, v linears", () -> torch.linear(h, w[1], b[1]));
                    Tensor v = time("q, k, v linears", () -> torch.linear(h, w[2], b[2]));
                    Tensor attn = time("attention, libtorch float32 (with its copies)", () -> {
                        Tensor qf = q.view(n, POSITIONS, HEADS, d).transpose(1, 2).to(ScalarType.Float);
                        Tensor kf = k.view(n, POSITIONS, HEADS, d).transpose(1, 2).to(ScalarType.Float);
                        Tensor vf = v.view(n, POSITIONS, HEADS, d).transpose(1, 2).to(ScalarType.Float);
                        Tensor o = torch.scaled_dot_product_attention(qf, kf, vf, noMask, 0.0, false, sdpaScale,
                                false);                                                  // [n, heads, L, d]
                        return o.to(ScalarType.BFloat16).transpose(1, 2).reshape(n, POSITIONS, HIDDEN);
                    });
                    if (NativeEncoderAttention.available()) {
                        time("attention, native", () -> {
                            Tensor o = Tensors.empty(ScalarType.BFloat16, n, POSITIONS, HIDDEN);
                            NativeEncoderAttention.attention(q, k, v, HEADS, scale, o);
                            return o;
                        });
                    }
                    Tensor o = time("out_proj", () -> torch.linear(attn, w[3], b[3]));
                    Tensor x2 = time("residual adds", () -> torch.add(x, o));
                    Tensor h2 = time("layer norms", () -> torch.layer_norm(x2, norm, lnWeight, lnBias, 1e-5, false));
                    Tensor f1 = time("fc1", () -> torch.linear(h2, w[4], b[4]));
                    Tensor g = time("quick_gelu", () -> torch.mul(f1, torch.sigmoid(torch.mul(f1, alpha))));
                    time("quick_gelu in place (the same bits)", () -> torch.mul(f1, alpha).sigmoid_().mul_(f1));
                    Tensor f2 = time("fc2", () -> torch.linear(g, w[5], b[5]));
                    time("residual adds", () -> torch.add(x2, f2));
                }
            }
        }
        double libtorch = 0;
        for (Map.Entry<String, Double> e : millis.entrySet()) {
            System.out.printf(Locale.ROOT, "%-48s %7.1f ms per layer%n", e.getKey(), e.getValue() / PASSES);
            libtorch += e.getKey().startsWith("attention, native") || e.getKey().startsWith("quick_gelu in place") ? 0
                    : e.getValue() / PASSES;
        }
        double nat = millis.getOrDefault("attention, native", Double.NaN) / PASSES;
        double lib = millis.get("attention, libtorch float32 (with its copies)") / PASSES;
        System.out.printf(Locale.ROOT, "layer with libtorch's attention %.1f ms, with the native one %.1f ms; "
                + "attention native / libtorch %.2f%n", libtorch, libtorch - lib + nat, nat / lib);
    }

    private Tensor time(String what, Supplier<Tensor> op) {
        long t0 = System.nanoTime();
        Tensor r = op.get();
        if (timing) {
            millis.merge(what, (System.nanoTime() - t0) / 1e6, Double::sum);
        }
        return r;
    }
}
