package io.github.phi3v.core.generate;

import io.github.phi3v.core.runtime.Logits;
import java.util.Arrays;

/**
 * One step of logits processing: a pure function from the next-token logits (and the context so far)
 * to new logits. Processors never modify their input array; chain them with {@link #andThen}.
 *
 * <p>The factories reproduce Hugging Face transformers' processors and warpers, value for value
 * (filtered logits become {@code -Infinity}, the default {@code filter_value}):
 * {@link #repetitionPenalty} ({@code RepetitionPenaltyLogitsProcessor}), {@link #temperature}
 * ({@code TemperatureLogitsWarper}), {@link #topK} ({@code TopKLogitsWarper}), {@link #topP}
 * ({@code TopPLogitsWarper}) and {@link #minP} ({@code MinPLogitsWarper}), each with
 * {@code min_tokens_to_keep = 1}. One numeric difference: probabilities for top-p and min-p are
 * computed in double precision where PyTorch uses float32, so a token whose cumulative probability is
 * within about 1e-7 of the threshold may fall on the other side.
 *
 * <pre>{@code
 * LogitsProcessor chain = LogitsProcessor.repetitionPenalty(1.1f)
 *         .andThen(LogitsProcessor.temperature(0.7f))
 *         .andThen(LogitsProcessor.topP(0.9f));
 * float[] warped = chain.apply(logits, contextIds);
 * }</pre>
 */
@FunctionalInterface
interface LogitsProcessor {

    /**
     * Processes one row of logits.
     *
     * @param logits the next-token logits, one per vocabulary id; not modified
     * @param context the ids so far (prompt and generated); image placeholder ids are negative
     * @return processed logits (a new array, or {@code logits} itself when nothing changes)
     */
    float[] apply(float[] logits, int[] context);

    /**
     * Runs this processor, then {@code next}.
     *
     * @param next the processor to run on this one's output
     * @return the composition
     */
    default LogitsProcessor andThen(LogitsProcessor next) {
        java.util.Objects.requireNonNull(next, "next");
        return (logits, context) -> next.apply(apply(logits, context), context);
    }

    /**
     * The processor that changes nothing.
     *
     * @return the identity processor
     */
    static LogitsProcessor identity() {
        return (logits, context) -> logits;
    }

    /**
     * HF repetition penalty: every distinct id present in {@code context} gets its logit divided by
     * {@code penalty} when positive and multiplied by it otherwise (each id once, however often it
     * occurs). Negative ids (image placeholders) are not tokens and are skipped.
     *
     * @param penalty finite and &gt; 0; 1 is the identity
     * @return the processor
     * @throws IllegalArgumentException if {@code penalty} is out of range
     * @throws IndexOutOfBoundsException at apply time if a context id is not a valid logits index
     */
    static LogitsProcessor repetitionPenalty(float penalty) {
        if (!(penalty > 0) || Float.isInfinite(penalty)) {
            throw new IllegalArgumentException("repetition penalty must be a finite value > 0, got " + penalty);
        }
        return (logits, context) -> {
            float[] out = logits.clone();
            boolean[] done = new boolean[logits.length];
            for (int id : context) {
                if (id < 0) {
                    continue;
                }
                if (id >= logits.length) {
                    throw new IndexOutOfBoundsException("context id " + id + " is outside the vocabulary of "
                            + logits.length + " logits");
                }
                if (!done[id]) {
                    done[id] = true;
                    float v = logits[id];
                    out[id] = v < 0 ? v * penalty : v / penalty;
                }
            }
            return out;
        };
    }

    /**
     * HF temperature: logits divided by {@code temperature}.
     *
     * @param temperature finite and &gt; 0
     * @return the processor
     * @throws IllegalArgumentException if {@code temperature} is out of range
     */
    static LogitsProcessor temperature(float temperature) {
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite value > 0, got " + temperature);
        }
        return (logits, context) -> {
            float[] out = new float[logits.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = logits[i] / temperature;
            }
            return out;
        };
    }

    /**
     * HF top-k: every logit strictly below the k-th largest becomes {@code -Infinity}; ties with the
     * k-th largest are all kept. {@code k} larger than the vocabulary keeps everything.
     *
     * @param k at least 1
     * @return the processor
     * @throws IllegalArgumentException if {@code k < 1}
     */
    static LogitsProcessor topK(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("top-k must be >= 1, got " + k + " (leave top-k out to disable it)");
        }
        return (logits, context) -> {
            int kk = Math.min(k, logits.length);
            float[] sorted = logits.clone();
            Arrays.sort(sorted);
            float kth = sorted[sorted.length - kk];
            float[] out = logits.clone();
            for (int i = 0; i < out.length; i++) {
                if (out[i] < kth) {
                    out[i] = Float.NEGATIVE_INFINITY;
                }
            }
            return out;
        };
    }

    /**
     * HF top-p (nucleus): sort probabilities ascending, accumulate, and drop every token whose cumulative
     * probability is {@code <= 1 - p}; the most probable token is always kept. What remains is the
     * smallest set of most probable tokens whose probabilities sum to at least {@code p}. Ties are
     * ordered by id (lower id first in the ascending order, so dropped first).
     *
     * @param p in [0, 1]; 1 keeps everything, 0 keeps only the most probable token
     * @return the processor
     * @throws IllegalArgumentException if {@code p} is out of range
     */
    static LogitsProcessor topP(float p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("top-p must be in [0, 1], got " + p);
        }
        return (logits, context) -> {
            int n = logits.length;
            int[] order = Logits.argsortAscending(logits);
            double[] probs = Logits.softmax(logits);
            double threshold = 1.0 - p;
            float[] out = logits.clone();
            double cumulative = 0;
            // The last (largest) position is never removed: min_tokens_to_keep = 1.
            for (int r = 0; r < n - 1; r++) {
                cumulative += probs[order[r]];
                if (cumulative <= threshold) {
                    out[order[r]] = Float.NEGATIVE_INFINITY;
                } else {
                    break; // cumulative sums only grow, so nothing further is removed
                }
            }
            return out;
        };
    }

    /**
     * HF min-p: drop every token whose probability is strictly below {@code minP} times the largest
     * probability; the most probable token is always kept.
     *
     * @param minP in [0, 1]; 0 keeps everything
     * @return the processor
     * @throws IllegalArgumentException if {@code minP} is out of range
     */
    static LogitsProcessor minP(float minP) {
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("min-p must be in [0, 1], got " + minP);
        }
        return (logits, context) -> {
            double[] probs = Logits.softmax(logits);
            int top = Logits.argmax(logits);
            double threshold = minP * probs[top];
            float[] out = logits.clone();
            for (int i = 0; i < out.length; i++) {
                if (probs[i] < threshold && i != top) {
                    out[i] = Float.NEGATIVE_INFINITY;
                }
            }
            return out;
        };
    }

    /**
     * The processor chain HF's {@code generate} builds for {@code config}: repetition penalty (if not
     * 1), then, only when sampling, temperature (if not 1), top-k (if not 0), top-p (if below 1) and
     * min-p (if above 0). Greedy decoding gets only the repetition penalty, because the warpers never
     * change the argmax.
     *
     * @param config the generation configuration
     * @return the chain (the identity if nothing applies)
     */
    static LogitsProcessor forConfig(GenerationConfig config) {
        LogitsProcessor chain = identity();
        if (config.repetitionPenalty() != 1f) {
            chain = chain.andThen(repetitionPenalty(config.repetitionPenalty()));
        }
        if (config.doSample()) {
            if (config.temperature() != 1f) {
                chain = chain.andThen(temperature(config.temperature()));
            }
            if (config.topK() != 0) {
                chain = chain.andThen(topK(config.topK()));
            }
            if (config.topP() < 1f) {
                chain = chain.andThen(topP(config.topP()));
            }
            if (config.minP() > 0f) {
                chain = chain.andThen(minP(config.minP()));
            }
        }
        return chain;
    }
}
