package io.github.phi3v.tooling.bench;

import java.util.ArrayList;
import java.util.List;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.DecoderLinear;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;

/**
 * How fast this machine's libtorch streams the weights of one-row decoder linears, through exactly the kernels
 * a CPU decode step uses ({@link DecoderLinear}), on random weights with the decoder's shapes. {@code phi3v
 * bench} prints it next to the memory bandwidth so that decode time can be split into "the kernel's own
 * speed" and "everything around it" (attention, norms, lm_head, overheads). The probe's weights are freed
 * on return.
 */
final class DecodeLinearProbe {

    /** Timed passes continue (beyond {@code repetitions}) until they add up to this. */
    static final long MIN_TIMED_NANOS = 1_000_000_000L;
    /** At most this many timed passes. */
    static final int MAX_PASSES = 400;

    private DecodeLinearProbe() {
    }

    /**
     * Times one-row {@code qkv_proj, o_proj, gate_up_proj, down_proj} over {@code layers} sets of decoder-shaped
     * random weights (use enough layers that they dwarf the last-level cache), best of at least
     * {@code repetitions} passes after one warm-up pass, and of as many more (up to {@value #MAX_PASSES}) as fit
     * in {@value #MIN_TIMED_NANOS} ns of timed passes.
     *
     * @param config the decoder shapes (hidden size, heads, head size, intermediate size)
     * @param precision the dtype of weights and activations
     * @param quantization {@link Quantization#INT8} for int8 weights (quantized from the random float32 ones)
     * @param layers sets of four matrices cycled through per pass (at least 1)
     * @param repetitions timed passes (at least 1)
     * @return bytes of weights (int8: plus the float32 scales) streamed per second
     */
    static double bytesPerSecond(Phi3VConfig config, Precision precision, Quantization quantization, int layers,
            int repetitions) {
        if (layers < 1 || repetitions < 1) {
            throw new IllegalArgumentException("layers and repetitions must be >= 1, got " + layers + " and "
                    + repetitions);
        }
        long hidden = config.hiddenSize();
        long inter = config.intermediateSize();
        long qkvRows = (long) (config.numAttentionHeads() + 2 * config.numKeyValueHeads()) * config.headDim();
        long attnWidth = (long) config.numAttentionHeads() * config.headDim();
        long[][] shapes = {{qkvRows, hidden}, {hidden, attnWidth}, {2 * inter, hidden}, {hidden, inter}};  // [out, in]
        List<DecoderLinear> linears = new ArrayList<>();
        try {
            long bytes = 0;
            for (int l = 0; l < layers; l++) {
                for (long[] shape : shapes) {
                    DecoderLinear linear = DecoderLinear.random(shape[0], shape[1], precision, quantization);
                    linears.add(linear);
                    bytes += linear.streamedBytes();
                }
            }
            double best = Double.MAX_VALUE;
            long timedNanos = 0;
            // Pass 0 warms up. A pass of int4 weights takes ~10 ms, short enough for one stall (a thread
            // waking, a collector pause) to spoil three in a row: keep timing until MIN_TIMED_NANOS have passed.
            for (int r = 0; r <= repetitions || (timedNanos < MIN_TIMED_NANOS && r <= MAX_PASSES); r++) {
                long t0 = System.nanoTime();
                for (DecoderLinear linear : linears) {
                    linear.applyOneRow();
                }
                long t = System.nanoTime() - t0;
                if (r > 0) {
                    best = Math.min(best, t / 1e9);
                    timedNanos += t;
                }
            }
            return bytes / best;
        } finally {
            linears.forEach(DecoderLinear::close);
        }
    }
}
