package io.github.phi3v.springai;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.model.tool.ToolCallingChatOptions;
import org.springframework.ai.tool.ToolCallback;

/**
 * Spring AI chat options for Phi-3-Vision: the portable {@link ChatOptions} (temperature, topP, topK, maxTokens,
 * stopSequences) plus {@link #getSeed() seed} and {@link #getNumCrops() numCrops}, which {@link ChatOptions} has
 * no field for. It implements {@link ToolCallingChatOptions} only so that tools given to a {@code ChatClient}
 * reach the model, which refuses them with a clear error instead of Spring AI dropping them silently:
 * Phi-3-Vision has no tool calling.
 *
 * <pre>{@code
 * chatClient.prompt()
 *         .user(u -> u.text("What is shown?").media(MimeTypeUtils.IMAGE_PNG, new ClassPathResource("chart.png")))
 *         .options(Phi3VisionChatOptions.builder().temperature(0.7).seed(42L).numCrops(4).maxTokens(200).build())
 *         .call().content();
 * }</pre>
 *
 * <p>A mutable bean, like Spring AI's other option types; values are checked when a request runs.
 */
public final class Phi3VisionChatOptions implements ToolCallingChatOptions {

    private String model;
    private Double temperature;
    private Double topP;
    private Integer topK;
    private Integer maxTokens;
    private List<String> stopSequences;
    private Double frequencyPenalty;
    private Double presencePenalty;
    private Long seed;
    private Integer numCrops;
    private List<ToolCallback> toolCallbacks = new ArrayList<>();
    private Set<String> toolNames = new HashSet<>();
    private Boolean internalToolExecutionEnabled;
    private Map<String, Object> toolContext = new HashMap<>();

    /** Options with nothing set. */
    public Phi3VisionChatOptions() {
    }

    /**
     * A new builder.
     *
     * @return a builder with nothing set
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Options holding the portable values of {@code options}, and the Phi-3-Vision and tool values when it is a
     * {@link Phi3VisionChatOptions} or a {@link ToolCallingChatOptions}.
     *
     * @param options any chat options, or null
     * @return a new instance
     */
    public static Phi3VisionChatOptions from(ChatOptions options) {
        Phi3VisionChatOptions o = new Phi3VisionChatOptions();
        if (options == null) {
            return o;
        }
        o.model = options.getModel();
        o.temperature = options.getTemperature();
        o.topP = options.getTopP();
        o.topK = options.getTopK();
        o.maxTokens = options.getMaxTokens();
        o.stopSequences = options.getStopSequences() == null ? null : new ArrayList<>(options.getStopSequences());
        o.frequencyPenalty = options.getFrequencyPenalty();
        o.presencePenalty = options.getPresencePenalty();
        if (options instanceof Phi3VisionChatOptions p) {
            o.seed = p.seed;
            o.numCrops = p.numCrops;
        }
        if (options instanceof ToolCallingChatOptions t) {
            o.toolCallbacks = t.getToolCallbacks() == null ? new ArrayList<>() : new ArrayList<>(t.getToolCallbacks());
            o.toolNames = t.getToolNames() == null ? new HashSet<>() : new HashSet<>(t.getToolNames());
            o.internalToolExecutionEnabled = t.getInternalToolExecutionEnabled();
            o.toolContext = t.getToolContext() == null ? new HashMap<>() : new HashMap<>(t.getToolContext());
        }
        return o;
    }

    /**
     * These options with every value that {@code runtime} leaves unset taken from {@code defaults}.
     *
     * @param runtime the request's options, or null
     * @param defaults the model's default options
     * @return a new instance
     */
    static Phi3VisionChatOptions merge(ChatOptions runtime, Phi3VisionChatOptions defaults) {
        Phi3VisionChatOptions r = from(runtime);
        r.temperature = r.temperature != null ? r.temperature : defaults.temperature;
        r.topP = r.topP != null ? r.topP : defaults.topP;
        r.topK = r.topK != null ? r.topK : defaults.topK;
        r.maxTokens = r.maxTokens != null ? r.maxTokens : defaults.maxTokens;
        r.stopSequences = r.stopSequences != null ? r.stopSequences : defaults.stopSequences;
        r.seed = r.seed != null ? r.seed : defaults.seed;
        r.numCrops = r.numCrops != null ? r.numCrops : defaults.numCrops;
        return r;
    }

    @Override
    public String getModel() {
        return model;
    }

    /**
     * Ignored by the model (it answers with the one model it was built with).
     *
     * @param model a model name
     */
    public void setModel(String model) {
        this.model = model;
    }

    @Override
    public Double getTemperature() {
        return temperature;
    }

    /**
     * Sets the temperature: &gt; 0 samples, 0 or null decodes greedily.
     *
     * @param temperature at least 0
     */
    public void setTemperature(Double temperature) {
        this.temperature = temperature;
    }

    @Override
    public Double getTopP() {
        return topP;
    }

    /**
     * Sets top-p (used when sampling).
     *
     * @param topP in (0, 1]
     */
    public void setTopP(Double topP) {
        this.topP = topP;
    }

    @Override
    public Integer getTopK() {
        return topK;
    }

    /**
     * Sets top-k (used when sampling).
     *
     * @param topK at least 0; 0 disables
     */
    public void setTopK(Integer topK) {
        this.topK = topK;
    }

    @Override
    public Integer getMaxTokens() {
        return maxTokens;
    }

    /**
     * Sets the most tokens to generate.
     *
     * @param maxTokens at least 1
     */
    public void setMaxTokens(Integer maxTokens) {
        this.maxTokens = maxTokens;
    }

    @Override
    public List<String> getStopSequences() {
        return stopSequences;
    }

    /**
     * Sets strings that end the answer (not part of it).
     *
     * @param stopSequences non-empty strings
     */
    public void setStopSequences(List<String> stopSequences) {
        this.stopSequences = stopSequences;
    }

    @Override
    public Double getFrequencyPenalty() {
        return frequencyPenalty;
    }

    /**
     * Not supported: a request with a frequency penalty is refused.
     *
     * @param frequencyPenalty the penalty
     */
    public void setFrequencyPenalty(Double frequencyPenalty) {
        this.frequencyPenalty = frequencyPenalty;
    }

    @Override
    public Double getPresencePenalty() {
        return presencePenalty;
    }

    /**
     * Not supported: a request with a presence penalty is refused.
     *
     * @param presencePenalty the penalty
     */
    public void setPresencePenalty(Double presencePenalty) {
        this.presencePenalty = presencePenalty;
    }

    /**
     * The sampler's seed (used when sampling).
     *
     * @return the seed, or null for a fresh random seed per request
     */
    public Long getSeed() {
        return seed;
    }

    /**
     * Sets the sampler's seed.
     *
     * @param seed the seed, or null
     */
    public void setSeed(Long seed) {
        this.seed = seed;
    }

    /**
     * The crop budget of the request's images.
     *
     * @return the budget, or null for the model's default
     */
    public Integer getNumCrops() {
        return numCrops;
    }

    /**
     * Sets the crop budget of the request's images (16 for Phi-3-vision, 4 for Phi-3.5-vision by default).
     *
     * @param numCrops at least 1, or null
     */
    public void setNumCrops(Integer numCrops) {
        this.numCrops = numCrops;
    }

    @Override
    public List<ToolCallback> getToolCallbacks() {
        return toolCallbacks;
    }

    @Override
    public void setToolCallbacks(List<ToolCallback> toolCallbacks) {
        this.toolCallbacks = new ArrayList<>(Objects.requireNonNull(toolCallbacks, "toolCallbacks"));
    }

    @Override
    public Set<String> getToolNames() {
        return toolNames;
    }

    @Override
    public void setToolNames(Set<String> toolNames) {
        this.toolNames = new HashSet<>(Objects.requireNonNull(toolNames, "toolNames"));
    }

    @Override
    public Boolean getInternalToolExecutionEnabled() {
        return internalToolExecutionEnabled;
    }

    @Override
    public void setInternalToolExecutionEnabled(Boolean enabled) {
        this.internalToolExecutionEnabled = enabled;
    }

    @Override
    public Map<String, Object> getToolContext() {
        return toolContext;
    }

    @Override
    public void setToolContext(Map<String, Object> toolContext) {
        this.toolContext = new HashMap<>(Objects.requireNonNull(toolContext, "toolContext"));
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends ChatOptions> T copy() {
        return (T) from(this);
    }

    @Override
    public String toString() {
        return "Phi3VisionChatOptions[temperature=" + temperature + ", topP=" + topP + ", topK=" + topK + ", maxTokens="
                + maxTokens + ", stopSequences=" + stopSequences + ", seed=" + seed + ", numCrops=" + numCrops + "]";
    }

    /** Builds {@link Phi3VisionChatOptions}; not thread-safe. */
    public static final class Builder {
        private final Phi3VisionChatOptions o = new Phi3VisionChatOptions();

        private Builder() {
        }

        /**
         * See {@link Phi3VisionChatOptions#setTemperature(Double)}.
         *
         * @param v the temperature
         * @return this builder
         */
        public Builder temperature(Double v) {
            o.temperature = v;
            return this;
        }

        /**
         * See {@link Phi3VisionChatOptions#setTopP(Double)}.
         *
         * @param v top-p
         * @return this builder
         */
        public Builder topP(Double v) {
            o.topP = v;
            return this;
        }

        /**
         * See {@link Phi3VisionChatOptions#setTopK(Integer)}.
         *
         * @param v top-k
         * @return this builder
         */
        public Builder topK(Integer v) {
            o.topK = v;
            return this;
        }

        /**
         * See {@link Phi3VisionChatOptions#setMaxTokens(Integer)}.
         *
         * @param v the most tokens
         * @return this builder
         */
        public Builder maxTokens(Integer v) {
            o.maxTokens = v;
            return this;
        }

        /**
         * See {@link Phi3VisionChatOptions#setStopSequences(List)}.
         *
         * @param v the stop strings
         * @return this builder
         */
        public Builder stopSequences(List<String> v) {
            o.stopSequences = v == null ? null : new ArrayList<>(v);
            return this;
        }

        /**
         * See {@link Phi3VisionChatOptions#setSeed(Long)}.
         *
         * @param v the seed
         * @return this builder
         */
        public Builder seed(Long v) {
            o.seed = v;
            return this;
        }

        /**
         * See {@link Phi3VisionChatOptions#setNumCrops(Integer)}.
         *
         * @param v the crop budget
         * @return this builder
         */
        public Builder numCrops(Integer v) {
            o.numCrops = v;
            return this;
        }

        /**
         * Builds the options.
         *
         * @return a new instance
         */
        public Phi3VisionChatOptions build() {
            return from(o);
        }
    }
}
