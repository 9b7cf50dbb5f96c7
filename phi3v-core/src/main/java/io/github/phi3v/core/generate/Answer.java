package io.github.phi3v.core.generate;

import java.util.Arrays;
import java.util.Objects;

/**
 * The result of one generation: the text, the generated token ids, why it ended and what it cost.
 *
 * <p>{@code text} is exactly the concatenation of the streamed pieces: it never contains a stop
 * string, and stop tokens are not rendered. {@code tokenIds} are the generated ids in order, like the
 * new part of Hugging Face's {@code generate} output: a stop token that ended generation is the last
 * id; when a stop string ended it, the ids run up to and including the token that completed the stop
 * string.
 *
 * <pre>{@code
 * Answer a = session.ask("What is in the picture?");
 * System.out.println(a.text());
 * System.out.println(a.finishReason() + ", " + a.tokenIds().length + " tokens, " + a.usage());
 * }</pre>
 *
 * <p>The constructor copies {@code tokenIds} and throws {@link NullPointerException} for a null component.
 *
 * @param text the generated text (pieces concatenated)
 * @param tokenIds the generated token ids; the record keeps and returns copies
 * @param finishReason why generation ended
 * @param usage token counts and timings
 */
public record Answer(String text, int[] tokenIds, FinishReason finishReason, Usage usage) {

    /**
     * Creates the value, validating it as described in the class comment.
     *
     * @param text see {@link #text()}
     * @param tokenIds see {@link #tokenIds()}
     * @param finishReason see {@link #finishReason()}
     * @param usage see {@link #usage()}
     */
    public Answer {
        Objects.requireNonNull(text, "text");
        tokenIds = Objects.requireNonNull(tokenIds, "tokenIds").clone();
        Objects.requireNonNull(finishReason, "finishReason");
        Objects.requireNonNull(usage, "usage");
    }

    /**
     * The generated token ids.
     *
     * @return a copy of the ids
     */
    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    /**
     * Copy with different usage numbers (e.g. after adding preprocessing and vision times).
     *
     * @param newUsage the usage to carry
     * @return the new answer
     */
    public Answer withUsage(Usage newUsage) {
        return new Answer(text, tokenIds, finishReason, newUsage);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Answer other
                && text.equals(other.text)
                && Arrays.equals(tokenIds, other.tokenIds)
                && finishReason == other.finishReason
                && usage.equals(other.usage);
    }

    @Override
    public int hashCode() {
        return Objects.hash(text, Arrays.hashCode(tokenIds), finishReason, usage);
    }

    @Override
    public String toString() {
        return "Answer[text=" + text + ", tokenIds=" + Arrays.toString(tokenIds) + ", finishReason="
                + finishReason + ", usage=" + usage + "]";
    }
}
