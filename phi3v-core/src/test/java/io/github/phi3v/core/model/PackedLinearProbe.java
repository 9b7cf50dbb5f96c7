package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * The measurements behind {@link PackedLinear}: for B-row inputs, the bf16 decoder linears of four full-size
 * layers (qkv, o, gate_up, down; 0.9 GB) on ATen's kernels, on oneDNN with the dense weight and on oneDNN
 * with the packed weight; and the float32 lm_head ({@code [32064, 3072]}) as B one-row {@code mv} calls
 * (the unpacked model's way), as one oneDNN call on the packed weight, and as {@link PackedLinear#apply}
 * (calls of at most {@link PackedLinear#FLOAT32_ROWS_PER_CALL} rows). Also checks that a row's packed float32
 * result does not depend on the other rows of its call. Not a test: run by hand (docs/benchmarks.md,
 * "Packed decode weights").
 */
public final class PackedLinearProbe {

    private static final int REPEATS = 5;

    private PackedLinearProbe() {
    }

    /**
     * Prints the best of {@value #REPEATS} timings (the first dropped) per way and row count.
     *
     * @param args optional: comma-separated row counts (default 1,2,4,6,7,8,12,16)
     */
    public static void main(String[] args) {
        int[] rows = args.length > 0 ? Arrays.stream(args[0].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[] {1, 2, 4, 6, 7, 8, 12, 16};
        TorchRuntime.ensureInitialized();
        long hidden = 3072;
        long inter = 8192;
        long[][] shapes = {{9216, hidden}, {hidden, hidden}, {2 * inter, hidden}, {hidden, inter}};   // [out, in]
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             Scalar std = new Scalar(0.02)) {
            List<PackedLinear> linears = new ArrayList<>();
            for (int l = 0; l < 4; l++) {
                for (long[] shape : shapes) {
                    linears.add(PackedLinear.pack(torch.randn(shape, f32).mul_(std).to(ScalarType.BFloat16)));
                }
            }
            PackedLinear lmHead = PackedLinear.pack(torch.randn(new long[] {32064, hidden}, f32).mul_(std));
            for (int b : rows) {
                Tensor[] in = {torch.randn(new long[] {b, hidden}, f32).to(ScalarType.BFloat16),
                    torch.randn(new long[] {b, hidden}, f32).to(ScalarType.BFloat16),
                    torch.randn(new long[] {b, hidden}, f32).to(ScalarType.BFloat16),
                    torch.randn(new long[] {b, inter}, f32).to(ScalarType.BFloat16)};
                time("decoder linears x4 layers bf16", b, "ATen, dense", CpuMatmulBackend.Mode.ATEN_GEMV,
                        i -> Modules.Linear.product(in[i % 4], linears.get(i).weight, null), linears.size());
                time("decoder linears x4 layers bf16", b, "oneDNN, dense", CpuMatmulBackend.Mode.ONEDNN,
                        i -> Modules.Linear.product(in[i % 4], linears.get(i).weight, null), linears.size());
                time("decoder linears x4 layers bf16", b, "oneDNN, packed", CpuMatmulBackend.Mode.ONEDNN,
                        i -> linears.get(i).applyPacked(in[i % 4]), linears.size());
                Tensor x = torch.randn(new long[] {b, hidden}, f32);
                time("lm_head float32", b, "B one-row mv", CpuMatmulBackend.Mode.ONEDNN,
                        i -> Modules.Linear.product(x.narrow(0, i, 1), lmHead.weight, null), b);
                time("lm_head float32", b, "one packed call", CpuMatmulBackend.Mode.ONEDNN,
                        i -> lmHead.applyPacked(x), 1);
                time("lm_head float32", b, "PackedLinear.apply", CpuMatmulBackend.Mode.ONEDNN,
                        i -> lmHead.apply(x), 1);
                try (InferenceScope check = InferenceScope.open()) {
                    Tensor all = lmHead.apply(x);
                    boolean same = true;
                    for (int i = 0; i < b; i++) {
                        same &= torch.equal(all.narrow(0, i, 1), lmHead.apply(x.narrow(0, i, 1)));
                    }
                    System.out.printf(Locale.ROOT, "lm_head float32, B=%d: each row of PackedLinear.apply equals the"
                            + " row alone bit for bit: %s%n", b, same);
                }
            }
        }
    }

    /** Runs {@code calls} products per pass under {@code mode}, {@value #REPEATS} passes, prints the best. */
    private static void time(String what, int b, String way, CpuMatmulBackend.Mode mode, Consumer<Integer> call,
            int calls) {
        double best = ProbeTimer.bestPassMillis(REPEATS, calls, mode, call::accept);
        System.out.printf(Locale.ROOT, "%s, B=%d, %s: %.1f ms%n", what, b, way, best);
    }
}
