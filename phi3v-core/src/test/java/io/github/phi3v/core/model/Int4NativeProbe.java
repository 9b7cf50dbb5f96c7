package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeInt4Kernel;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * Hand-run: ATen's int4 kernel against the native one on four layers' worth of Phi-3's decoder linears
 * (qkv, o, gate_up, down; 0.24 GB of int4 weights, far beyond any cache, as in a decode step), for the
 * given input row counts: per pass all sixteen linears on one kernel, then on the other, interleaved, best of
 * {@code PASSES} passes each; and each kernel's relative error against the float32 product with the
 * dequantized weight (first linear). {@code java -cp "$CP" io.github.phi3v.core.model.Int4NativeProbe 1 4 16}
 */
final class Int4NativeProbe {

    private static final int LAYERS = 4;
    private static final int PASSES = 7;

    private Int4NativeProbe() {
    }

    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        System.out.println("native available: " + NativeKernels.available() + " " + NativeKernels.unavailableReason());
        long[][] shapes = {{9216, 3072}, {3072, 3072}, {16384, 3072}, {3072, 8192}};                 // [out, in]
        int[] rowsList = args.length > 0 ? java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray()
                : new int[] {1, 4, 16, 128};
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             TensorOptions bf16 = new TensorOptions(ScalarType.BFloat16)) {
            List<AtenInt4Kernel> aten = new ArrayList<>();
            List<NativeInt4Kernel.Weight> own = new ArrayList<>();
            double bytes = 0;
            Tensor firstDequantized = null;
            for (int l = 0; l < LAYERS; l++) {
                for (long[] shape : shapes) {
                    Tensor f = torch.randn(new long[] {shape[0], shape[1]}, f32).mul_(new Scalar(0.02));
                    Int4Linear.Stored s = Int4Linear.quantize(f, "probe");
                    aten.add(AtenInt4Kernel.of(s, ScalarType.BFloat16));
                    NativeInt4Kernel.Weight nw = NativeInt4Kernel.pack(s.nibbles(), s.scale(), s.zero());
                    own.add(nw);
                    bytes += nw.streamedBytes();
                    if (firstDequantized == null) {
                        firstDequantized = Int4Linear.fromStored(s, ScalarType.BFloat16, Int4Kernel.Choice.ATEN)
                                .dequantized().to(ScalarType.Float);                                 // [9216, 3072]
                    }
                }
            }
            System.out.printf(Locale.ROOT, "%d linears, %.3f GB of int4 weights with scales and zeros%n",
                    own.size(), bytes / 1e9);
            for (int rows : rowsList) {
                List<Tensor> xs = new ArrayList<>();
                List<Tensor> outs = new ArrayList<>();
                for (NativeInt4Kernel.Weight w : own) {
                    xs.add(torch.randn(new long[] {rows, w.inFeatures()}, f32).to(ScalarType.BFloat16));
                    outs.add(torch.empty(new long[] {rows, w.outFeatures()}, bf16, new MemoryFormatOptional()));
                }
                Tensor ref = xs.get(0).to(ScalarType.Float).matmul(firstDequantized.t());
                double eA = relErr(aten.get(0).mm(xs.get(0)), ref);
                NativeInt4Kernel.mm(xs.get(0), own.get(0), outs.get(0));
                double eN = relErr(outs.get(0), ref);
                double bestA = Double.MAX_VALUE;
                double bestN = Double.MAX_VALUE;
                for (int p = 0; p <= PASSES; p++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < own.size(); i++) {
                        aten.get(i).mm(xs.get(i)).close();
                    }
                    long t1 = System.nanoTime();
                    for (int i = 0; i < own.size(); i++) {
                        NativeInt4Kernel.mm(xs.get(i), own.get(i), outs.get(i));
                    }
                    long t2 = System.nanoTime();
                    if (p > 0) {                                                     // pass 0 warms up
                        bestA = Math.min(bestA, (t1 - t0) / 1e6);
                        bestN = Math.min(bestN, (t2 - t1) / 1e6);
                    }
                }
                System.out.printf(Locale.ROOT, "rows %3d: aten %.1f ms (%.1f GB/s, err %.4f)  native %.1f ms (%.1f GB/s, "
                        + "err %.4f)  aten/native %.2fx%n", rows, bestA, bytes / bestA / 1e6, eA, bestN,
                        bytes / bestN / 1e6, eN, bestA / bestN);
            }
        }
    }

    private static double relErr(Tensor out, Tensor ref) {
        Tensor d = out.to(ScalarType.Float).sub(ref);
        return d.norm().item_double() / ref.norm().item_double();
    }
}
