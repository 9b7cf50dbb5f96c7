package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * Which kernels a B-row decode step's linears should run on (the choice behind
 * {@link Phi3DecoderLayer#BATCH_GEMV_MAX_ROWS}): times the bf16 decoder linears of four full-size layers
 * (qkv, o, gate_up, down; 0.9 GB) with B = 1, 2, 4, 8 rows under ATen's kernels and under oneDNN, and the
 * float32 lm_head ({@code [32064, 3072]}) as one B-row {@code linear} and as B one-row ones. Not a test: run
 * by hand (docs/benchmarks.md, "Batched decoding").
 */
public final class BatchLinearProbe {

    private BatchLinearProbe() {
    }

    /**
     * Prints milliseconds per pass for each mode and row count.
     *
     * @param args unused
     */
    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        long hidden = 3072;
        long inter = 8192;
        long[][] shapes = {{9216, hidden}, {hidden, hidden}, {2 * inter, hidden}, {hidden, inter}};   // [out, in]
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             Scalar std = new Scalar(0.02)) {
            List<Modules.Linear> linears = new ArrayList<>();
            for (int l = 0; l < 4; l++) {
                for (long[] shape : shapes) {
                    linears.add(new Modules.Linear(torch.randn(shape, f32).mul_(std).to(ScalarType.BFloat16), null));
                }
            }
            Modules.Linear lmHead = new Modules.Linear(torch.randn(new long[] {32064, hidden}, f32).mul_(std), null);
            for (int b : new int[] {1, 2, 4, 8}) {
                Tensor[] inputs = {torch.randn(new long[] {b, hidden}, f32).to(ScalarType.BFloat16),
                    torch.randn(new long[] {b, hidden}, f32).to(ScalarType.BFloat16),
                    torch.randn(new long[] {b, hidden}, f32).to(ScalarType.BFloat16),
                    torch.randn(new long[] {b, inter}, f32).to(ScalarType.BFloat16)};
                for (CpuMatmulBackend.Mode mode : CpuMatmulBackend.Mode.values()) {
                    double best = Double.MAX_VALUE;
                    for (int r = 0; r < 4; r++) {
                        long t0 = System.nanoTime();
                        try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(mode)) {
                            for (int i = 0; i < linears.size(); i++) {
                                try (InferenceScope step = InferenceScope.open()) {
                                    linears.get(i).apply(inputs[i % 4]);
                                }
                            }
                        }
                        best = r == 0 ? best : Math.min(best, (System.nanoTime() - t0) / 1e6);
                    }
                    System.out.printf(Locale.ROOT, "decoder linears x4 layers, B=%d, %s: %.1f ms%n", b, mode, best);
                }
                Tensor x = torch.randn(new long[] {b, hidden}, f32);
                String[] ways = {"one B-row linear", "B one-row mv", "mm(W, xT)", "one B-row linear, ATen"};
                for (int way = 0; way < ways.length; way++) {
                    double best = Double.MAX_VALUE;
                    for (int r = 0; r < 4; r++) {
                        long t0 = System.nanoTime();
                        try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(way == 3
                                ? CpuMatmulBackend.Mode.ATEN_GEMV : CpuMatmulBackend.Mode.ONEDNN);
                             InferenceScope step = InferenceScope.open()) {
                            if (way == 1) {
                                for (int i = 0; i < b; i++) {
                                    lmHead.apply(x.narrow(0, i, 1));
                                }
                            } else if (way == 2) {
                                torch.mm(lmHead.weight, x.t()).t().contiguous();
                            } else {
                                lmHead.apply(x);
                            }
                        }
                        best = r == 0 ? best : Math.min(best, (System.nanoTime() - t0) / 1e6);
                    }
                    System.out.printf(Locale.ROOT, "lm_head float32, B=%d, %s: %.1f ms%n", b, ways[way], best);
                }
            }
        }
    }
}
