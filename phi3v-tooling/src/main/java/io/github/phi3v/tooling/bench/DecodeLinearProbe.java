package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * How fast this machine's libtorch streams the weights of one-row decoder linears, through exactly the kernels
 * a CPU decode step uses ({@link Modules.Linear} on ATen's GEMV for bf16, {@link Int8Linear} on fbgemm for
 * int8), on random weights with the decoder's shapes. {@code phi3v bench} prints it next to the memory
 * bandwidth so that decode time can be split into "the kernel's own speed" and "everything around it"
 * (attention, norms, lm_head, overheads). Not part of inference; the probe's weights are freed on return.
 */
public final class DecodeLinearProbe {

    private DecodeLinearProbe() {
    }

    /**
     * Times one-row {@code qkv_proj, o_proj, gate_up_proj, down_proj} over {@code layers} sets of decoder-shaped
     * random weights (use enough layers that they dwarf the last-level cache), best of {@code repetitions}
     * passes after one warm-up pass.
     *
     * @param config the decoder shapes (hidden size, heads, head size, intermediate size)
     * @param precision the dtype of weights and activations
     * @param quantization {@link Quantization#INT8} for int8 weights (quantized from the random float32 ones)
     * @param layers sets of four matrices cycled through per pass (at least 1)
     * @param repetitions timed passes (at least 1)
     * @return bytes of weights (int8: plus the float32 scales) streamed per second
     */
    public static double bytesPerSecond(Phi3VConfig config, Precision precision, Quantization quantization, int layers,
            int repetitions) {
        if (layers < 1 || repetitions < 1) {
            throw new IllegalArgumentException("layers and repetitions must be >= 1, got " + layers + " and "
                    + repetitions);
        }
        TorchRuntime.ensureInitialized();
        ScalarType dtype = precision.scalarType();
        boolean int8 = quantization == Quantization.INT8;
        long hidden = config.hiddenSize();
        long inter = config.intermediateSize();
        long qkvRows = (long) (config.numAttentionHeads() + 2 * config.numKeyValueHeads()) * config.headDim();
        long attnWidth = (long) config.numAttentionHeads() * config.headDim();
        long[][] shapes = {{qkvRows, hidden}, {hidden, attnWidth}, {2 * inter, hidden}, {hidden, inter}};  // [out, in]
        List<Modules.Linear> linears = new ArrayList<>();
        List<Pointer> owned = new ArrayList<>();
        long bytes = 0;
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             Scalar std = new Scalar(0.02)) {
            for (int l = 0; l < layers; l++) {
                for (long[] shape : shapes) {
                    try (InferenceScope one = InferenceScope.open()) {
                        Tensor f = torch.randn(shape, f32).mul_(std);                      // [out, in] float32
                        if (int8) {
                            Int8Linear q = Int8Linear.quantize(f, "probe", dtype);
                            owned.addAll(q.resources());
                            linears.add(q);
                            bytes += q.streamedBytes();
                        } else {
                            Tensor w = f.to(dtype);
                            owned.add(one.keep(w));
                            linears.add(new Modules.Linear(w, null));
                            bytes += w.numel() * w.element_size();
                        }
                    }
                }
            }
            Tensor x = torch.randn(new long[] {1, hidden}, f32).to(dtype);               // [1, hidden]
            Tensor xAttn = torch.randn(new long[] {1, attnWidth}, f32).to(dtype);        // [1, H*d]
            Tensor xInter = torch.randn(new long[] {1, inter}, f32).to(dtype);           // [1, intermediate]
            Tensor[] inputs = {x, xAttn, x, xInter};
            CpuMatmulBackend.Mode mode = Phi3DecoderLayer.decodeOnAtenGemv(dtype, quantization)
                    ? CpuMatmulBackend.Mode.ATEN_GEMV : CpuMatmulBackend.Mode.ONEDNN;
            double best = Double.MAX_VALUE;
            for (int r = 0; r <= repetitions; r++) {
                long t0 = System.nanoTime();
                try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(mode)) {
                    for (int i = 0; i < linears.size(); i++) {
                        try (InferenceScope step = InferenceScope.open()) {
                            linears.get(i).apply(inputs[i % inputs.length]);
                        }
                    }
                }
                double s = (System.nanoTime() - t0) / 1e9;
                if (r > 0) {
                    best = Math.min(best, s);
                }
            }
            return bytes / best;
        } finally {
            for (Pointer p : owned) {
                p.close();
            }
        }
    }
}
