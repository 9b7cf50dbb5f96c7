package io.github.phi3v.core.model;

import java.util.Locale;
import java.util.function.IntConsumer;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * The measurements behind the decode step's attention orientation and its one-call rotary and RMSNorm: for 32
 * full-size layers' bf16 caches ({@code [32, P, 96]} each, contiguous as {@link KvCache} lays them out, read
 * from memory once per pass like a decode step) the two orientations of the score product ({@code keys·qᵀ},
 * {@code q·keysᵀ}) and the probability product under oneDNN; then per layer the rotary of the queries and keys as two official-formula calls against one
 * {@link LongRopeEmbedding#apply} on both, and the RMSNorm as five calls against one {@code rms_norm}. Not a
 * test: run by hand (docs/benchmarks.md, "Decode step: attention orientation and fewer calls").
 */
public final class DecodeOpsProbe {

    private static final int REPEATS = 5;
    private static final long HEADS = ProbeCaches.HEADS;
    private static final long HEAD_DIM = ProbeCaches.HEAD_DIM;
    private static final long HIDDEN = 3072;
    private static final int LAYERS = ProbeCaches.LAYERS;

    private DecodeOpsProbe() {
    }

    /**
     * Prints the best of {@value #REPEATS} passes (the first dropped) per product and cache length (all layers
     * per pass), then the small ops per call.
     *
     * @param args optional: comma-separated cache lengths (default 64,512,1024,2048,4096)
     */
    public static void main(String[] args) {
        long[] lengths = ProbeCaches.lengths(args, 64, 512, 1024, 2048, 4096);
        TorchRuntime.ensureInitialized();
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            for (long p : lengths) {
                Tensor[] keys = ProbeCaches.randomLayers(p, f32);
                Tensor[] values = ProbeCaches.randomLayers(p, f32);
                Tensor q = torch.randn(new long[] {HEADS, 1, HEAD_DIM}, f32).to(ScalarType.BFloat16);
                Tensor probs = torch.softmax(torch.randn(new long[] {HEADS, 1, p}, f32), -1).to(ScalarType.BFloat16);
                boolean same = torch.equal(torch.matmul(keys[0], q.transpose(1, 2)).transpose(1, 2),
                        torch.matmul(q, keys[0].transpose(1, 2)));
                double mb = LAYERS * HEADS * p * HEAD_DIM * 2 / 1e6;
                double kq = time(1, () -> eachLayer(l -> torch.matmul(keys[l], q.transpose(1, 2))));
                double qk = time(1, () -> eachLayer(l -> torch.matmul(q, keys[l].transpose(1, 2))));
                double pv = time(1, () -> eachLayer(l -> torch.matmul(probs, values[l])));
                System.out.printf(Locale.ROOT, "P=%d, %d layers (%.0f MB of keys): keys.q^T %.1f ms (%.1f GB/s),"
                        + " q.keys^T %.1f ms (%.1f GB/s), same scores: %s; probs.values %.1f ms (%.1f GB/s)%n", p, LAYERS,
                        mb, kq, mb / kq, qk, mb / qk, same, pv, mb / pv);
                // Two other ways to the same scores: one ATen GEMV per head (the fast one-row kernel of the
                // decode linears), and a cache stored transposed, [heads, headDim, P], multiplied as q·keys.
                double perHead = time(1, () -> eachLayer(l -> {
                    for (long h = 0; h < HEADS; h++) {
                        torch.mv(keys[l].select(0, h), q.select(0, h).view(HEAD_DIM));
                    }
                }), CpuMatmulBackend.Mode.ATEN_GEMV);
                for (int l = 0; l < LAYERS; l++) {
                    values[l].close();
                    values[l] = keys[l].transpose(1, 2).contiguous();                   // [H, d, P]
                    keys[l].close();
                }
                double transposed = time(1, () -> eachLayer(l -> torch.matmul(q, values[l])));
                System.out.printf(Locale.ROOT, "P=%d: scores as %d ATen mv calls per layer %.1f ms, on a cache stored"
                        + " [heads, headDim, P] %.1f ms%n", p, HEADS, perHead, transposed);
                for (int l = 0; l < LAYERS; l++) {
                    values[l].close();
                }
            }
            smallOps(f32);
        }
    }

    /** One layer's rotary and one RMSNorm of a decode step, both ways, per call in microseconds. */
    private static void smallOps(TensorOptions f32) {
        long kvHeads = HEADS;
        Tensor qkv = torch.randn(new long[] {1, (HEADS + 2 * kvHeads) * HEAD_DIM}, f32).to(ScalarType.BFloat16);
        Tensor angles = torch.randn(new long[] {1, HEAD_DIM / 2}, f32);
        Tensor cos = torch.cos(torch.cat(new TensorVector(angles, angles), 1)).to(ScalarType.BFloat16);
        Tensor sin = torch.sin(torch.cat(new TensorVector(angles, angles), 1)).to(ScalarType.BFloat16);
        Tensor s = torch.sin(angles);
        LongRopeEmbedding.CosSin signed = new LongRopeEmbedding.CosSin(cos,
                torch.cat(new TensorVector(torch.neg(s), s), 1).to(ScalarType.BFloat16));
        Tensor q = qkv.narrow(1, 0, HEADS * HEAD_DIM).view(1, HEADS, HEAD_DIM).transpose(0, 1);
        Tensor k = qkv.narrow(1, HEADS * HEAD_DIM, kvHeads * HEAD_DIM).view(1, kvHeads, HEAD_DIM).transpose(0, 1);
        Tensor qk = qkv.narrow(1, 0, (HEADS + kvHeads) * HEAD_DIM).view(1, HEADS + kvHeads, HEAD_DIM).transpose(0, 1);
        double two = time(2000, () -> {
            official(q, cos, sin);
            official(k, cos, sin);
        }) * 1000;
        double one = time(2000, () -> LongRopeEmbedding.apply(qk, signed)) * 1000;
        Tensor x = torch.randn(new long[] {1, HIDDEN}, f32);
        long[] shape = {HIDDEN};
        long[] lastDim = {-1};
        try (Scalar square = new Scalar(2L);
             Scalar eps = new Scalar(1e-5);
             TensorOptional noWeight = new TensorOptional();
             DoubleOptional epsOpt = new DoubleOptional(1e-5);
             ScalarTypeOptional sameType = new ScalarTypeOptional()) {
            double five = time(2000, () -> torch.mul(x, torch.rsqrt(torch.add(
                    torch.mean(torch.pow(x, square), lastDim, true, sameType), eps)))) * 1000;
            double fused = time(2000, () -> torch.rms_norm(x, shape, noWeight, epsOpt)) * 1000;
            System.out.printf(Locale.ROOT, "rotary of one layer's queries and keys: two official calls %.1f us, one"
                    + " call on both %.1f us; RMSNorm of one row: five calls %.1f us, rms_norm %.1f us%n",
                    two, one, five, fused);
        }
    }

    /** One product per layer, each in its own scope. */
    private static void eachLayer(IntConsumer product) {
        for (int l = 0; l < LAYERS; l++) {
            try (InferenceScope layer = InferenceScope.open()) {
                product.accept(l);
            }
        }
    }

    /** The official {@code x·cos + rotate_half(x)·sin}. */
    private static Tensor official(Tensor x, Tensor cos, Tensor sin) {
        long half = x.size(-1) / 2;
        Tensor rotated = torch.cat(new TensorVector(torch.neg(x.narrow(-1, half, half)), x.narrow(-1, 0, half)), -1);
        return torch.add(torch.mul(x, cos), torch.mul(rotated, sin));
    }

    /** Best of {@value #REPEATS} passes of {@code calls} runs under oneDNN, in milliseconds per run. */
    private static double time(int calls, Runnable call) {
        return time(calls, call, CpuMatmulBackend.Mode.ONEDNN);
    }

    /** Best of {@value #REPEATS} passes of {@code calls} runs under {@code mode}, in milliseconds per run. */
    private static double time(int calls, Runnable call, CpuMatmulBackend.Mode mode) {
        return ProbeTimer.bestPassMillis(REPEATS, calls, mode, i -> call.run()) / calls;
    }
}
