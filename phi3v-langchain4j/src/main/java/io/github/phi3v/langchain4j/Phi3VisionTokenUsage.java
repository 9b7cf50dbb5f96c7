package io.github.phi3v.langchain4j;

import java.util.Objects;

import dev.langchain4j.model.output.TokenUsage;

import io.github.phi3v.core.generate.Usage;

/**
 * LangChain4j token counts of one Phi-3-Vision answer, carrying the core's {@link Usage} (image tokens, tokens
 * reused from the prefix cache, vision encodings and per-phase timings) for callers that want more than the
 * three counts.
 *
 * <p>{@link #inputTokenCount()} is the whole prompt, image tokens included ({@link Usage#promptTokens()});
 * {@link #outputTokenCount()} the generated tokens, a final stop token included ({@link Usage#generatedTokens()}).
 */
public final class Phi3VisionTokenUsage extends TokenUsage {

    private final Usage usage;

    /**
     * The counts of {@code usage}.
     *
     * @param usage the core usage of the answer
     */
    public Phi3VisionTokenUsage(Usage usage) {
        super(Objects.requireNonNull(usage, "usage").promptTokens(), usage.generatedTokens(),
                usage.promptTokens() + usage.generatedTokens());
        this.usage = usage;
    }

    /**
     * The core's figures for the answer.
     *
     * @return token counts, cache figures and timings
     */
    public Usage usage() {
        return usage;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Phi3VisionTokenUsage that && usage.equals(that.usage);
    }

    @Override
    public int hashCode() {
        return usage.hashCode();
    }

    @Override
    public String toString() {
        return "Phi3VisionTokenUsage{" + usage + "}";
    }
}
