package io.github.phi3v.tooling.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.runtime.Logits;

/**
 * Greedy decode steps timed one by one, with one pass of a {@link DecodeLinearProbe} after each step: the
 * decode speed and what the decoder linears stream on their own, measured in the same seconds ({@link #run}).
 * {@link #steps} times a run of steps without the probe (the probes that compare windows of steps).
 *
 * <p>Why: the bench's kernel efficiency divides a step's weight stream by the linears' own speed. Measured
 * once before the model loads, that speed came from a moment 30-150 s away from the decode it judged, and
 * this VM's speed moves by 20-40 % within minutes: in one run the probe read 31.6 GB/s for int8 where the
 * three runs before read 47.5-62.1, and the int8 efficiency came out above 1 (docs/benchmarks.md). Passes
 * between the steps sample the same moments as the steps. The probe's time is not counted as decode time;
 * a pass streams a few hundred MB more than the 32 MB last-level cache holds, as every decode step itself
 * does, so it leaves the next step the same (cold) cache.
 */
final class WindowedDecode {

    /**
     * What a windowed decode measured.
     *
     * @param tokens decode steps timed
     * @param decodeSeconds their summed wall time (the probe passes excluded)
     * @param linearBytesPerSecond the probe's bytes over its median pass time: the median, as the decode figure
     *     is a mean over its steps, not its best
     * @param lastToken the last token chosen
     */
    record Result(int tokens, double decodeSeconds, double linearBytesPerSecond, int lastToken) {
    }

    private WindowedDecode() {
    }

    /**
     * Decodes {@code tokens} greedy tokens after {@code firstToken} (stop tokens ignored), one probe pass after
     * each step; one untimed probe pass first warms the probe.
     *
     * @param model the model
     * @param cache its cache, holding the prompt
     * @param firstToken the token chosen from the prompt's logits
     * @param tokens decode steps (at least 1)
     * @param probe the probe; left open
     * @return the figures
     */
    static Result run(Phi3VModel model, KvCache cache, int firstToken, int tokens, DecodeLinearProbe probe) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(cache, "cache");
        Objects.requireNonNull(probe, "probe");
        if (tokens < 1) {
            throw new IllegalArgumentException("tokens must be >= 1, got " + tokens);
        }
        probe.passSeconds();
        double[] passes = new double[tokens];
        long decodeNanos = 0;
        int[] one = new int[1];
        int token = firstToken;
        for (int i = 0; i < tokens; i++) {
            one[0] = token;
            long t0 = System.nanoTime();
            token = Logits.argmax(model.forward(one, List.of(), cache, cache.length()));
            decodeNanos += System.nanoTime() - t0;
            passes[i] = probe.passSeconds();
        }
        Arrays.sort(passes);
        double median = tokens % 2 == 1 ? passes[tokens / 2] : (passes[tokens / 2 - 1] + passes[tokens / 2]) / 2;
        return new Result(tokens, decodeNanos / 1e9, probe.bytes() / median, token);
    }

    /**
     * Greedy steps without probe passes: decodes {@code steps} tokens into {@code tokens[from ..]}, each after
     * the one before (stop tokens ignored).
     *
     * @return their wall time in seconds
     */
    static double steps(Phi3VModel model, KvCache cache, int[] tokens, int from, int steps) {
        int[] one = new int[1];
        long t0 = System.nanoTime();
        for (int i = from; i < from + steps; i++) {
            one[0] = tokens[i - 1];
            tokens[i] = Logits.argmax(model.forward(one, List.of(), cache, cache.length()));
        }
        return (System.nanoTime() - t0) / 1e9;
    }
}
