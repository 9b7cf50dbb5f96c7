package io.github.phi3v.langchain4j;

import java.util.Objects;

import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;

/**
 * LangChain4j request parameters with the Phi-3-Vision settings that {@link ChatRequestParameters} has no
 * field for: a sampling {@link #seed()} and the image crop budget {@link #numCrops()}. Use it where LangChain4j
 * takes parameters (a request's {@code parameters(...)} or a model's {@code defaultRequestParameters(...)});
 * merging with plain parameters keeps these fields, as LangChain4j does for provider-specific parameter types.
 *
 * <pre>{@code
 * ChatRequest request = ChatRequest.builder()
 *         .messages(UserMessage.from(TextContent.from("What is shown?"), ImageContent.from(url)))
 *         .parameters(Phi3VisionChatRequestParameters.builder()
 *                 .temperature(0.7).topP(0.9).seed(42L).numCrops(4).maxOutputTokens(200)
 *                 .build())
 *         .build();
 * }</pre>
 *
 * <p>Immutable. Values are checked when a request runs, not here.
 */
public final class Phi3VisionChatRequestParameters extends DefaultChatRequestParameters {

    /** Parameters with nothing set. */
    public static final Phi3VisionChatRequestParameters EMPTY = builder().build();

    private final Long seed;
    private final Integer numCrops;

    private Phi3VisionChatRequestParameters(Builder builder) {
        super(builder);
        this.seed = builder.seed;
        this.numCrops = builder.numCrops;
    }

    /**
     * The seed of the sampler's random generator (used only when sampling, i.e. temperature &gt; 0).
     *
     * @return the seed, or null for a fresh random seed per request
     */
    public Long seed() {
        return seed;
    }

    /**
     * The crop budget of the request's images (Phi-3-vision's processor default is 16, Phi-3.5-vision's 4);
     * fewer crops give fewer image tokens.
     *
     * @return the budget, or null for the model's default
     */
    public Integer numCrops() {
        return numCrops;
    }

    @Override
    public Phi3VisionChatRequestParameters overrideWith(ChatRequestParameters that) {
        return builder().overrideWith(this).overrideWith(that).build();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Phi3VisionChatRequestParameters that && super.equals(o)
                && Objects.equals(seed, that.seed) && Objects.equals(numCrops, that.numCrops);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), seed, numCrops);
    }

    @Override
    public String toString() {
        return "Phi3VisionChatRequestParameters{temperature=" + temperature() + ", topP=" + topP() + ", topK=" + topK()
                + ", maxOutputTokens=" + maxOutputTokens() + ", stopSequences=" + stopSequences() + ", seed=" + seed
                + ", numCrops=" + numCrops + ", responseFormat=" + responseFormat() + ", toolSpecifications="
                + toolSpecifications() + "}";
    }

    /**
     * A new builder.
     *
     * @return an empty builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link Phi3VisionChatRequestParameters}; not thread-safe. */
    public static final class Builder extends DefaultChatRequestParameters.Builder<Builder> {

        private Long seed;
        private Integer numCrops;

        private Builder() {
        }

        /**
         * Takes every non-null value of {@code parameters}, including {@link #seed} and {@link #numCrops}
         * when they are Phi-3-Vision parameters.
         *
         * @param parameters the parameters to take values from
         * @return this builder
         */
        @Override
        public Builder overrideWith(ChatRequestParameters parameters) {
            super.overrideWith(parameters);
            if (parameters instanceof Phi3VisionChatRequestParameters p) {
                if (p.seed() != null) {
                    seed(p.seed());
                }
                if (p.numCrops() != null) {
                    numCrops(p.numCrops());
                }
            }
            return this;
        }

        /**
         * Sets the sampling seed.
         *
         * @param seed the seed, or null for a fresh random seed per request
         * @return this builder
         */
        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Sets the image crop budget.
         *
         * @param numCrops at least 1 (checked when the request runs), or null for the model's default
         * @return this builder
         */
        public Builder numCrops(Integer numCrops) {
            this.numCrops = numCrops;
            return this;
        }

        /**
         * Builds the parameters.
         *
         * @return the parameters
         */
        @Override
        public Phi3VisionChatRequestParameters build() {
            return new Phi3VisionChatRequestParameters(this);
        }
    }
}
