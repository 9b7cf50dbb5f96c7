package io.github.phi3v.core.model;

import java.util.Locale;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * Hand-run: ATen's int4 kernel against the native one on Phi-3's four decoder linear shapes, for 1 to 128
 * input rows ({@link ProbeTimer}'s best pass), and each one's relative error against the float32 product
 * with the dequantized weight. {@code java -cp "$CP" io.github.phi3v.core.model.Int4NativeProbe}
 */
final class Int4NativeProbe {

    private Int4NativeProbe() {
    }

    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        System.out.println("native available: " + NativeKernels.available() + " " + NativeKernels.unavailableReason());
        long[][] shapes = {{9216, 3072}, {3072, 3072}, {16384, 3072}, {3072, 8192}};
        int[] rowsList = args.length > 0 ? java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray()
                : new int[] {1, 2, 4, 8, 16, 32, 64, 128};
        for (long[] shape : shapes) {
            long n = shape[0];
            long k = shape[1];
            try (InferenceScope scope = InferenceScope.open();
                 TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
                Tensor f = torch.randn(new long[] {n, k}, f32).mul_(new Scalar(0.02));
                Int4Linear.Stored s = Int4Linear.quantize(f, "probe");
                AtenInt4Kernel aten = AtenInt4Kernel.of(s, ScalarType.BFloat16);
                Int4Linear dequant = Int4Linear.fromStored(s, ScalarType.BFloat16, Int4Kernel.Choice.ATEN);
                NativeKernels.Int4Weight nw = NativeKernels.packInt4(s.nibbles(), s.scale(), s.zero());
                Tensor wq = dequant.dequantized().to(ScalarType.Float);                              // [n, k]
                double bytes = nw.streamedBytes();
                for (int rows : rowsList) {
                    Tensor x = torch.randn(new long[] {rows, k}, f32).to(ScalarType.BFloat16);
                    Tensor ref = x.to(ScalarType.Float).matmul(wq.t());
                    Tensor outA = aten.mm(x);
                    Tensor outN = torch.empty(new long[] {rows, n}, new TensorOptions(ScalarType.BFloat16), new org.bytedeco.pytorch.MemoryFormatOptional());
                    NativeKernels.int4Mm(x, nw, outN);
                    double eA = relErr(outA, ref);
                    double eN = relErr(outN, ref);
                    double tA = ProbeTimer.bestPassMillis(6, 20, CpuMatmulBackend.Mode.ONEDNN,
                            i -> aten.mm(x)) / 20;
                    double tN = ProbeTimer.bestPassMillis(6, 20, CpuMatmulBackend.Mode.ONEDNN,
                            i -> NativeKernels.int4Mm(x, nw, outN)) / 20;
                    System.out.printf(Locale.ROOT, "%dx%d rows %3d: aten %.3f ms (%.1f GB/s, err %.4f) native %.3f ms "
                            + "(%.1f GB/s, err %.4f) aten/native %.2fx%n", n, k, rows, tA, bytes / tA / 1e6, eA, tN,
                            bytes / tN / 1e6, eN, tA / tN);
                }
            }
        }
    }

    private static double relErr(Tensor out, Tensor ref) {
        Tensor d = out.to(ScalarType.Float).sub(ref);
        return d.norm().item_double() / ref.norm().item_double();
    }
}
