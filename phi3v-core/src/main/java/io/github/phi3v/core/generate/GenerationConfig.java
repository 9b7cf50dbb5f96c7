package io.github.phi3v.core.generate;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;

/**
 * How to generate: length, greedy or sampling with its warpers, seed, and when to stop. Immutable and
 * validated on construction; change it with the {@code with…} methods or {@link #toBuilder()}.
 *
 * <p>The defaults match Hugging Face's {@code generate(do_sample=False)} for Phi-3-Vision: greedy
 * decoding, no repetition penalty, and the stop ids {@code {32007 <|end|>, 32000 <|endoftext|>, 2 </s>}}
 * (the checkpoint's {@code eos_token_id} 2 alone would let chat output run on). The sampling parameters
 * have HF's meanings and defaults ({@code temperature} 1, {@code top_k} 50, {@code top_p} 1, min-p off)
 * and only take effect with {@link Builder#doSample(boolean) doSample(true)}, as in HF;
 * {@code repetitionPenalty} applies to greedy decoding too.
 *
 * <pre>{@code
 * GenerationConfig greedy = GenerationConfig.defaults().withMaxNewTokens(500);
 * GenerationConfig creative = GenerationConfig.builder()
 *         .doSample(true).temperature(0.7f).topP(0.9f).seed(42)
 *         .stopStrings("\nUser:")
 *         .build();
 * }</pre>
 *
 * <p>The constructor throws {@link IllegalArgumentException} naming the offending value and its allowed
 * range, and {@link NullPointerException} for null collections or elements.
 *
 * @param maxNewTokens the most tokens to generate, at least 1
 * @param doSample false for greedy decoding (argmax), true for multinomial sampling after the warpers
 * @param temperature logits are divided by this before sampling; strictly positive
 * @param topK keep only the {@code topK} highest logits (ties with the k-th kept); 0 disables
 * @param topP keep the smallest set of most probable tokens whose probabilities sum to at least
 *     {@code topP}; 1 disables
 * @param minP drop tokens whose probability is below {@code minP} times the top probability; 0 disables
 * @param repetitionPenalty HF repetition penalty for every id already in the context (prompt and
 *     generated); 1 disables, above 1 discourages repetition
 * @param seed the seed of this generation's random generator; empty means a fresh random seed per
 *     generation. The same seed, config and logits give the same tokens (in this library; the draws
 *     are not PyTorch's, so sampled text differs from Python's even with the same seed).
 * @param stopTokenIds ids that end generation when generated (kept in {@link Answer#tokenIds()}, not
 *     rendered as text); may be empty, e.g. to reproduce reference runs with EOS stopping disabled
 * @param stopStrings strings that end generation when they appear in the generated text (they are
 *     not part of {@link Answer#text()})
 */
public record GenerationConfig(int maxNewTokens, boolean doSample, float temperature, int topK, float topP,
        float minP, float repetitionPenalty, OptionalLong seed, Set<Integer> stopTokenIds,
        List<String> stopStrings) {

    /** Phi-3-Vision's stop ids: {@code <|end|>} 32007, {@code <|endoftext|>} 32000, {@code </s>} 2. */
    public static final Set<Integer> DEFAULT_STOP_TOKEN_IDS =
            Collections.unmodifiableSet(new LinkedHashSet<>(List.of(32007, 32000, 2)));

    /** Default {@link #maxNewTokens()}. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 256;

    /** Default {@link #topK()}, HF's {@code GenerationConfig.top_k} default (used only when sampling). */
    public static final int DEFAULT_TOP_K = 50;

    private static final GenerationConfig DEFAULTS = builder().build();

    /**
     * Creates the value, validating it as described in the class comment.
     *
     * @param maxNewTokens see {@link #maxNewTokens()}
     * @param doSample see {@link #doSample()}
     * @param temperature see {@link #temperature()}
     * @param topK see {@link #topK()}
     * @param topP see {@link #topP()}
     * @param minP see {@link #minP()}
     * @param repetitionPenalty see {@link #repetitionPenalty()}
     * @param seed see {@link #seed()}
     * @param stopTokenIds see {@link #stopTokenIds()}
     * @param stopStrings see {@link #stopStrings()}
     */
    public GenerationConfig {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        }
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite value > 0, got " + temperature
                    + (temperature == 0 ? "; for deterministic output use greedy decoding (doSample(false))" : ""));
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 disables top-k), got " + topK);
        }
        if (!(topP >= 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in [0, 1] (1 disables top-p), got " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("minP must be in [0, 1] (0 disables min-p), got " + minP);
        }
        if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetitionPenalty must be a finite value > 0 (1 disables it),"
                    + " got " + repetitionPenalty);
        }
        Objects.requireNonNull(seed, "seed (use OptionalLong.empty() for a random seed)");
        Objects.requireNonNull(stopTokenIds, "stopTokenIds (use an empty set to disable stop ids)");
        Set<Integer> ids = new LinkedHashSet<>();
        for (Integer id : stopTokenIds) {
            Objects.requireNonNull(id, "stopTokenIds contains null");
            if (id < 0) {
                throw new IllegalArgumentException("stop token ids must be >= 0, got " + id + " in " + stopTokenIds);
            }
            ids.add(id);
        }
        stopTokenIds = Collections.unmodifiableSet(ids);
        Objects.requireNonNull(stopStrings, "stopStrings (use an empty list to disable stop strings)");
        stopStrings = List.copyOf(StopStrings.validate(stopStrings));
    }

    /**
     * The default configuration: greedy, {@value #DEFAULT_MAX_NEW_TOKENS} new tokens, default stop ids.
     *
     * @return the shared default instance
     */
    public static GenerationConfig defaults() {
        return DEFAULTS;
    }

    /**
     * A builder starting from the defaults.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder starting from this configuration.
     *
     * @return a new builder with every field copied
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxNewTokens = maxNewTokens;
        b.doSample = doSample;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.minP = minP;
        b.repetitionPenalty = repetitionPenalty;
        b.seed = seed;
        b.stopTokenIds = new ArrayList<>(stopTokenIds);
        b.stopStrings = new ArrayList<>(stopStrings);
        return b;
    }

    /**
     * Tells whether decoding is greedy (the default).
     *
     * @return {@code !doSample()}
     */
    public boolean isGreedy() {
        return !doSample;
    }

    /**
     * Tells whether {@code tokenId} ends generation.
     *
     * @param tokenId a generated id
     * @return true if it is one of {@link #stopTokenIds()}
     */
    public boolean isStopToken(int tokenId) {
        return stopTokenIds.contains(tokenId);
    }

    /**
     * Copy with a different token limit.
     *
     * @param n the most tokens to generate, at least 1
     * @return the new configuration
     */
    public GenerationConfig withMaxNewTokens(int n) {
        return toBuilder().maxNewTokens(n).build();
    }

    /**
     * Copy that decodes greedily (sampling parameters are kept but unused).
     *
     * @return the new configuration
     */
    public GenerationConfig withGreedy() {
        return toBuilder().doSample(false).build();
    }

    /**
     * Copy with a fixed seed (for reproducible sampling).
     *
     * @param newSeed the seed
     * @return the new configuration
     */
    public GenerationConfig withSeed(long newSeed) {
        return toBuilder().seed(newSeed).build();
    }

    /**
     * Copy with different stop token ids.
     *
     * @param ids the ids; empty disables stop ids
     * @return the new configuration
     */
    public GenerationConfig withStopTokenIds(int... ids) {
        return toBuilder().stopTokenIds(ids).build();
    }

    /**
     * Copy with different stop strings.
     *
     * @param strings the strings; none disables stop strings
     * @return the new configuration
     */
    public GenerationConfig withStopStrings(String... strings) {
        return toBuilder().stopStrings(strings).build();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("GenerationConfig[maxNewTokens=").append(maxNewTokens);
        if (doSample) {
            sb.append(String.format(Locale.ROOT, ", sample(temperature=%s, topK=%d, topP=%s, minP=%s)",
                    temperature, topK, topP, minP));
        } else {
            sb.append(", greedy");
        }
        if (repetitionPenalty != 1f) {
            sb.append(", repetitionPenalty=").append(repetitionPenalty);
        }
        seed.ifPresent(s -> sb.append(", seed=").append(s));
        sb.append(", stopTokenIds=").append(stopTokenIds);
        if (!stopStrings.isEmpty()) {
            sb.append(", stopStrings=").append(StopStrings.quote(stopStrings));
        }
        return sb.append(']').toString();
    }

    /**
     * Mutable builder of {@link GenerationConfig}; {@link #build()} validates. Not thread-safe.
     *
     * <pre>{@code
     * GenerationConfig c = GenerationConfig.builder().maxNewTokens(64).stopTokenIds().build();
     * }</pre>
     */
    public static final class Builder {
        private int maxNewTokens = DEFAULT_MAX_NEW_TOKENS;
        private boolean doSample;
        private float temperature = 1f;
        private int topK = DEFAULT_TOP_K;
        private float topP = 1f;
        private float minP;
        private float repetitionPenalty = 1f;
        private OptionalLong seed = OptionalLong.empty();
        private List<Integer> stopTokenIds = new ArrayList<>(DEFAULT_STOP_TOKEN_IDS);
        private List<String> stopStrings = new ArrayList<>();

        private Builder() {
        }

        /**
         * Sets the most tokens to generate.
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder maxNewTokens(int n) {
            this.maxNewTokens = n;
            return this;
        }

        /**
         * Chooses sampling (true) or greedy decoding (false, the default), like HF's {@code do_sample}.
         *
         * @param sample whether to sample
         * @return this builder
         */
        public Builder doSample(boolean sample) {
            this.doSample = sample;
            return this;
        }

        /**
         * Greedy decoding: shorthand for {@code doSample(false)}.
         *
         * @return this builder
         */
        public Builder greedy() {
            return doSample(false);
        }

        /**
         * Sets the sampling temperature (used when sampling).
         *
         * @param t finite and &gt; 0
         * @return this builder
         */
        public Builder temperature(float t) {
            this.temperature = t;
            return this;
        }

        /**
         * Sets top-k (used when sampling).
         *
         * @param k &gt;= 0; 0 disables
         * @return this builder
         */
        public Builder topK(int k) {
            this.topK = k;
            return this;
        }

        /**
         * Sets top-p (nucleus) (used when sampling).
         *
         * @param p in [0, 1]; 1 disables
         * @return this builder
         */
        public Builder topP(float p) {
            this.topP = p;
            return this;
        }

        /**
         * Sets min-p (used when sampling).
         *
         * @param p in [0, 1]; 0 disables
         * @return this builder
         */
        public Builder minP(float p) {
            this.minP = p;
            return this;
        }

        /**
         * Sets the HF repetition penalty (applies to greedy decoding too).
         *
         * @param penalty finite and &gt; 0; 1 disables
         * @return this builder
         */
        public Builder repetitionPenalty(float penalty) {
            this.repetitionPenalty = penalty;
            return this;
        }

        /**
         * Fixes the random seed.
         *
         * @param s the seed
         * @return this builder
         */
        public Builder seed(long s) {
            this.seed = OptionalLong.of(s);
            return this;
        }

        /**
         * Goes back to a fresh random seed per generation.
         *
         * @return this builder
         */
        public Builder randomSeed() {
            this.seed = OptionalLong.empty();
            return this;
        }

        /**
         * Replaces the stop token ids.
         *
         * @param ids the ids (&gt;= 0); none disables stop ids
         * @return this builder
         */
        public Builder stopTokenIds(int... ids) {
            List<Integer> list = new ArrayList<>(ids.length);
            for (int id : ids) {
                list.add(id);
            }
            this.stopTokenIds = list;
            return this;
        }

        /**
         * Replaces the stop token ids.
         *
         * @param ids the ids (&gt;= 0); empty disables stop ids
         * @return this builder
         */
        public Builder stopTokenIds(Collection<Integer> ids) {
            this.stopTokenIds = new ArrayList<>(ids);
            return this;
        }

        /**
         * Replaces the stop strings.
         *
         * @param strings non-empty strings; none disables stop strings
         * @return this builder
         */
        public Builder stopStrings(String... strings) {
            this.stopStrings = new ArrayList<>(List.of(strings));
            return this;
        }

        /**
         * Replaces the stop strings.
         *
         * @param strings non-empty strings; empty disables stop strings
         * @return this builder
         */
        public Builder stopStrings(Collection<String> strings) {
            this.stopStrings = new ArrayList<>(strings);
            return this;
        }

        /**
         * Validates and builds.
         *
         * @return the configuration
         * @throws IllegalArgumentException if a value is out of range (the message names it)
         */
        public GenerationConfig build() {
            return new GenerationConfig(maxNewTokens, doSample, temperature, topK, topP, minP, repetitionPenalty,
                    seed, new LinkedHashSet<>(stopTokenIds), stopStrings);
        }
    }
}
