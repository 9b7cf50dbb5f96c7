package io.github.phi3v.core.model;

import java.util.Locale;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeInt8Kernel;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * The measurements behind the int8 kernels' {@link Int8Kernel#maxKernelRows} (e.g.
 * {@link AtenInt8Kernel#FLOAT32_KERNEL_ROWS}): for 1..512 input rows of the Phi-3 decoder's {@code qkv_proj}
 * shape ({@code [9216, 3072]}), in float32 and bf16, the time of the native int8 kernel
 * ({@link io.github.phi3v.core.runtime.NativeInt8Kernel}, where it runs) and of ATen's
 * {@code _weight_int8pack_mm} ({@link AtenInt8Kernel#mm}: bf16 activations for a float32 model) against the
 * prompt path (the weight dequantized to the model dtype, then one GEMM; the dequantization counted in every
 * call, as a layer call pays it once), with fbgemm and the plain weight in the model dtype alongside. Best of
 * {@value #PASSES} passes after a warm-up ({@link ProbeTimer}). Not a test: run by hand (docs/benchmarks.md,
 * "int8 without AVX-512 VNNI").
 */
public final class Int8RowsProbe {

    private static final int PASSES = 4;
    private static final int CALLS = 3;

    private Int8RowsProbe() {
    }

    /**
     * Prints one line per dtype and row count.
     *
     * @param args optional row counts (default 1 2 4 16 64 256 512)
     */
    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        long[] rowCounts = args.length == 0 ? new long[] {1, 2, 4, 16, 64, 256, 512}
                : java.util.Arrays.stream(args).mapToLong(Long::parseLong).toArray();
        System.out.printf(Locale.ROOT, "CPU flags: avx512_vnni %b, avx512f %b, avx2 %b; threads %d%n",
                CpuFeatures.has("avx512_vnni"), CpuFeatures.has("avx512f"), CpuFeatures.has("avx2"),
                TorchRuntime.threads());
        long out = 9216;
        long in = 3072;
        for (ScalarType dtype : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16}) {
            try (InferenceScope scope = InferenceScope.open();
                 TensorOptions f32 = new TensorOptions(ScalarType.Float);
                 Scalar std = new Scalar(0.02)) {
                Tensor w = torch.randn(new long[] {out, in}, f32).mul_(std);                    // [out, in]
                Int8Linear aten = Int8Linear.quantize(w.clone(), "probe", dtype, Int8Kernel.Choice.ATEN);
                Int8Linear fbgemm = Int8Linear.quantize(w.clone(), "probe", dtype, Int8Kernel.Choice.FBGEMM);
                Int8Linear native8 = NativeInt8Kernel.available()
                        ? Int8Linear.quantize(w.clone(), "probe", dtype, Int8Kernel.Choice.NATIVE) : null;
                Tensor dense = w.to(dtype);
                for (long rows : rowCounts) {
                    Tensor x = torch.randn(new long[] {rows, in}, f32).to(dtype);               // [rows, in]
                    double kernel = ProbeTimer.bestPassMillis(PASSES, CALLS, CpuMatmulBackend.Mode.ONEDNN,
                            i -> aten.kernel().mm(x)) / CALLS;
                    double nat = native8 == null ? Double.NaN : ProbeTimer.bestPassMillis(PASSES, CALLS,
                            CpuMatmulBackend.Mode.ONEDNN, i -> native8.kernel().mm(x)) / CALLS;
                    double prompt = ProbeTimer.bestPassMillis(PASSES, CALLS, CpuMatmulBackend.Mode.ONEDNN,
                            i -> Modules.Linear.product(x, aten.dequantized(), null)) / CALLS;
                    double fb = ProbeTimer.bestPassMillis(PASSES, CALLS, CpuMatmulBackend.Mode.ONEDNN,
                            i -> fbgemm.apply(x)) / CALLS;
                    double plain = ProbeTimer.bestPassMillis(PASSES, CALLS, CpuMatmulBackend.Mode.ONEDNN,
                            i -> Modules.Linear.product(x, dense, null)) / CALLS;
                    System.out.printf(Locale.ROOT, "%s rows %d: native %.2f ms, _weight_int8pack_mm %.2f ms, dequantized + "
                            + "GEMM %.2f ms, fbgemm %.2f ms, %s weight %.2f ms%n", dtype, rows, nat, kernel, prompt, fb, dtype,
                            plain);
                }
                aten.resources().forEach(org.bytedeco.javacpp.Pointer::close);
                fbgemm.resources().forEach(org.bytedeco.javacpp.Pointer::close);
                if (native8 != null) {
                    native8.resources().forEach(org.bytedeco.javacpp.Pointer::close);
                }
            }
        }
    }
}
