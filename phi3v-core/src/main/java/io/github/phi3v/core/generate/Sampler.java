package io.github.phi3v.core.generate;

import io.github.phi3v.core.runtime.Logits;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * Picks the next token from processed logits: {@link #greedy()} (argmax) or {@link #multinomial}
 * (a draw from the softmax). {@link #forConfig} builds the whole HF pipeline, processors included.
 *
 * <pre>{@code
 * Sampler sampler = Sampler.forConfig(config);      // one per generation: it owns the random state
 * int next = sampler.sample(logits, contextIds);
 * }</pre>
 *
 * <p>A sampler with random state is not thread-safe; create one per generation.
 */
@FunctionalInterface
interface Sampler {

    /**
     * Chooses the next token.
     *
     * @param logits the next-token logits; not modified
     * @param context the ids so far (prompt and generated)
     * @return the chosen id, an index into {@code logits}
     */
    int sample(float[] logits, int[] context);

    /**
     * Greedy decoding: {@link Logits#argmax}, first index on ties ({@code torch.argmax}).
     *
     * @return the stateless greedy sampler
     */
    static Sampler greedy() {
        return (logits, context) -> Logits.argmax(logits);
    }

    /**
     * Multinomial sampling from {@code softmax(logits)}, like {@code torch.multinomial(probs, 1)}:
     * one uniform draw in [0, 1) walked through the cumulative distribution in id order. Ids whose
     * logit is {@code -Infinity} are never chosen.
     *
     * @param random the random source, owned by this sampler from now on
     * @return the sampler
     */
    static Sampler multinomial(RandomGenerator random) {
        Objects.requireNonNull(random, "random");
        return (logits, context) -> {
            double[] p = Logits.softmax(logits);
            double u = random.nextDouble();
            double cumulative = 0;
            int last = -1;
            for (int i = 0; i < p.length; i++) {
                if (p[i] > 0) {
                    cumulative += p[i];
                    last = i;
                    if (u < cumulative) {
                        return i;
                    }
                }
            }
            return last; // rounding left the total a hair below u: take the last possible token
        };
    }

    /**
     * Applies {@code processor} before this sampler.
     *
     * @param processor the logits processing to run first
     * @return the combined sampler
     */
    default Sampler after(LogitsProcessor processor) {
        Objects.requireNonNull(processor, "processor");
        return (logits, context) -> sample(processor.apply(logits, context), context);
    }

    /**
     * The full per-generation pipeline for {@code config}: {@code LogitsProcessor#forConfig} then
     * greedy or multinomial. Sampling uses a fresh {@link SplittableRandom} seeded with
     * {@link GenerationConfig#seed()} (a random seed if absent), so equal seeds give equal tokens and
     * no state is shared between generations.
     *
     * @param config the generation configuration
     * @return a new sampler
     */
    static Sampler forConfig(GenerationConfig config) {
        LogitsProcessor processor = LogitsProcessor.forConfig(config);
        Sampler pick;
        if (config.doSample()) {
            SplittableRandom random = config.seed().isPresent()
                    ? new SplittableRandom(config.seed().getAsLong())
                    : new SplittableRandom();
            pick = multinomial(random);
        } else {
            pick = greedy();
        }
        return pick.after(processor);
    }
}
