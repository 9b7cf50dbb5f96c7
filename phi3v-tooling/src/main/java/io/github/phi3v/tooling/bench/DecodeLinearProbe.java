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
 * speed" and "everything around it" (attention, norms, lm_head, overheads).
 *
 * <p>Two uses: {@link #bytesPerSecond} measures once, on its own (before a model loads); an open probe
 * ({@link #open}) times single passes ({@link #passSeconds}) that {@link WindowedDecode} interleaves with
 * decode steps, so that the kernels' speed and the step's are measured in the same seconds of this VM, whose
 * speed moves by 20-40 % within minutes. Not thread-safe; {@link #close} frees the weights.
 */
final class DecodeLinearProbe implements AutoCloseable {

    /** Timed passes continue (beyond {@code repetitions}) until they add up to this. */
    static final long MIN_TIMED_NANOS = 1_000_000_000L;
    /** At most this many timed passes. */
    static final int MAX_PASSES = 400;

    private final List<DecoderLinear> linears;
    private final long bytes;

    private DecodeLinearProbe(List<DecoderLinear> linears, long bytes) {
        this.linears = linears;
        this.bytes = bytes;
    }

    /**
     * Allocates {@code layers} sets of {@code qkv_proj, o_proj, gate_up_proj, down_proj} with random weights of
     * the decoder's shapes (use enough that they dwarf the last-level cache: one Phi-3 set is 0.07 GB in int4,
     * 0.23 GB in bf16, against a 32 MB cache here).
     *
     * @param config the decoder shapes (hidden size, heads, head size, intermediate size)
     * @param precision the dtype of weights and activations
     * @param quantization the variant's quantization (int8 and int4 weights are quantized from random float32 ones)
     * @param layers sets of four matrices (at least 1)
     * @return the probe; close it
     */
    static DecodeLinearProbe open(Phi3VConfig config, Precision precision, Quantization quantization, int layers) {
        if (layers < 1) {
            throw new IllegalArgumentException("layers must be >= 1, got " + layers);
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
            return new DecodeLinearProbe(linears, bytes);
        } catch (RuntimeException | Error e) {
            linears.forEach(DecoderLinear::close);
            throw e;
        }
    }

    /**
     * Times one-row linears over {@code layers} sets of decoder-shaped random weights, best of at least
     * {@code repetitions} passes after one warm-up pass, and of as many more (up to {@value #MAX_PASSES}) as fit
     * in {@value #MIN_TIMED_NANOS} ns of timed passes. The weights are freed on return.
     *
     * @param config the decoder shapes
     * @param precision the dtype of weights and activations
     * @param quantization the variant's quantization
     * @param layers sets of four matrices cycled through per pass (at least 1)
     * @param repetitions timed passes (at least 1)
     * @return bytes of weights (quantized: plus their scales and zeros) streamed per second
     */
    static double bytesPerSecond(Phi3VConfig config, Precision precision, Quantization quantization, int layers,
            int repetitions) {
        if (repetitions < 1) {
            throw new IllegalArgumentException("repetitions must be >= 1, got " + repetitions);
        }
        try (DecodeLinearProbe probe = open(config, precision, quantization, layers)) {
            double best = Double.MAX_VALUE;
            long timedNanos = 0;
            // Pass 0 warms up. A pass of int4 weights takes ~10 ms, short enough for one stall (a thread
            // waking, a collector pause) to spoil three in a row: keep timing until MIN_TIMED_NANOS have passed.
            for (int r = 0; r <= repetitions || (timedNanos < MIN_TIMED_NANOS && r <= MAX_PASSES); r++) {
                double t = probe.passSeconds();
                if (r > 0) {
                    best = Math.min(best, t);
                    timedNanos += (long) (t * 1e9);
                }
            }
            return probe.bytes() / best;
        }
    }

    /**
     * Runs every linear once on one input row.
     *
     * @return the wall time of the pass in seconds
     */
    double passSeconds() {
        long t0 = System.nanoTime();
        for (DecoderLinear linear : linears) {
            linear.applyOneRow();
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * @return bytes one pass streams: the weights, and for quantized ones their scales and zeros
     */
    long bytes() {
        return bytes;
    }

    @Override
    public void close() {
        linears.forEach(DecoderLinear::close);
    }
}
