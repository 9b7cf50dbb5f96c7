package io.github.phi3v.core.generate;

import java.util.Locale;

/**
 * Token counts and timings of one generation.
 *
 * <p>{@code promptTokens} is the full prompt length as the model sees it, image placeholder tokens
 * included; {@code imageTokens} is how many of those are image tokens (so the text part is
 * {@link #textTokens()}). Times are wall-clock milliseconds: {@code preprocessMillis} (image decoding,
 * resizing, normalising), {@code visionMillis} (vision tower and projection), {@code prefillMillis}
 * (the forward pass over the prompt that yields the first token) and {@code decodeMillis} (everything
 * after that: the remaining forward passes, sampling and detokenization). The decode loop itself fills
 * the token counts, prefill and decode; the layer that prepares images adds the other two with
 * {@link #withPreprocessMillis(double)} and {@link #withVisionMillis(double)}.
 *
 * <pre>{@code
 * Usage u = answer.usage();
 * System.out.printf("%d prompt tokens (%d image), %d generated, TTFT %.0f ms, %.2f tokens/s%n",
 *         u.promptTokens(), u.imageTokens(), u.generatedTokens(), u.timeToFirstTokenMillis(),
 *         u.tokensPerSecond());
 * }</pre>
 *
 * <p>The constructor throws {@link IllegalArgumentException} if a count or time is negative, a time is
 * not finite, or {@code imageTokens > promptTokens}.
 *
 * @param promptTokens prompt length in tokens, image tokens included
 * @param imageTokens how many prompt tokens are image tokens
 * @param generatedTokens how many tokens were generated (a final stop token included)
 * @param preprocessMillis image preprocessing time
 * @param visionMillis vision encoder time
 * @param prefillMillis prompt forward pass time
 * @param decodeMillis time from the first token to the end of generation
 * @param cachedPromptTokens leading prompt tokens whose keys and values came from the prefix cache (not
 *     recomputed; OpenAI's {@code prompt_tokens_details.cached_tokens})
 * @param visionEncodings images the vision tower encoded for this call (images found in the embedding
 *     cache are not counted)
 */
public record Usage(int promptTokens, int imageTokens, int generatedTokens, double preprocessMillis,
        double visionMillis, double prefillMillis, double decodeMillis, int cachedPromptTokens,
        int visionEncodings) {

    /** An all-zero usage, for answers that ran nothing. */
    public static final Usage EMPTY = new Usage(0, 0, 0, 0, 0, 0, 0);

    /**
     * A usage without cache figures (no cached prompt tokens, no vision encodings).
     *
     * @param promptTokens see {@link #promptTokens()}
     * @param imageTokens see {@link #imageTokens()}
     * @param generatedTokens see {@link #generatedTokens()}
     * @param preprocessMillis see {@link #preprocessMillis()}
     * @param visionMillis see {@link #visionMillis()}
     * @param prefillMillis see {@link #prefillMillis()}
     * @param decodeMillis see {@link #decodeMillis()}
     */
    public Usage(int promptTokens, int imageTokens, int generatedTokens, double preprocessMillis,
            double visionMillis, double prefillMillis, double decodeMillis) {
        this(promptTokens, imageTokens, generatedTokens, preprocessMillis, visionMillis, prefillMillis, decodeMillis,
                0, 0);
    }

    /**
     * Creates the value, validating it as described in the class comment.
     *
     * @param promptTokens see {@link #promptTokens()}
     * @param imageTokens see {@link #imageTokens()}
     * @param generatedTokens see {@link #generatedTokens()}
     * @param preprocessMillis see {@link #preprocessMillis()}
     * @param visionMillis see {@link #visionMillis()}
     * @param prefillMillis see {@link #prefillMillis()}
     * @param decodeMillis see {@link #decodeMillis()}
     * @param cachedPromptTokens see {@link #cachedPromptTokens()}
     * @param visionEncodings see {@link #visionEncodings()}
     */
    public Usage {
        if (promptTokens < 0 || imageTokens < 0 || generatedTokens < 0 || cachedPromptTokens < 0
                || visionEncodings < 0) {
            throw new IllegalArgumentException("token counts must be >= 0, got promptTokens=" + promptTokens
                    + ", imageTokens=" + imageTokens + ", generatedTokens=" + generatedTokens + ", cachedPromptTokens="
                    + cachedPromptTokens + ", visionEncodings=" + visionEncodings);
        }
        if (cachedPromptTokens > promptTokens) {
            throw new IllegalArgumentException("cachedPromptTokens (" + cachedPromptTokens
                    + ") cannot exceed promptTokens (" + promptTokens + ")");
        }
        if (imageTokens > promptTokens) {
            throw new IllegalArgumentException("imageTokens (" + imageTokens
                    + ") cannot exceed promptTokens (" + promptTokens + "): image tokens are part of the prompt");
        }
        requireTime("preprocessMillis", preprocessMillis);
        requireTime("visionMillis", visionMillis);
        requireTime("prefillMillis", prefillMillis);
        requireTime("decodeMillis", decodeMillis);
    }

    private static void requireTime(String name, double millis) {
        if (!(millis >= 0) || Double.isInfinite(millis)) {
            throw new IllegalArgumentException(name + " must be a finite value >= 0, got " + millis);
        }
    }

    /**
     * Prompt tokens that are text (not image) tokens.
     *
     * @return {@code promptTokens - imageTokens}
     */
    public int textTokens() {
        return promptTokens - imageTokens;
    }

    /**
     * Decode speed: forward passes after the prefill per second. Each such pass yields one token, so
     * this is {@code (generatedTokens - 1) / decodeSeconds}; the first token is paid for by the prefill.
     *
     * @return tokens per second, or 0 when fewer than two tokens were generated or no time was measured
     */
    public double tokensPerSecond() {
        int steps = generatedTokens - 1;
        if (steps <= 0 || decodeMillis <= 0) {
            return 0;
        }
        return steps * 1000.0 / decodeMillis;
    }

    /**
     * Time to first token: preprocessing + vision + prefill.
     *
     * @return milliseconds until the first generated token was available
     */
    public double timeToFirstTokenMillis() {
        return preprocessMillis + visionMillis + prefillMillis;
    }

    /**
     * Total wall time of all phases.
     *
     * @return preprocess + vision + prefill + decode milliseconds
     */
    public double totalMillis() {
        return timeToFirstTokenMillis() + decodeMillis;
    }

    /**
     * Copy with a different preprocessing time.
     *
     * @param millis image preprocessing milliseconds
     * @return the new usage
     */
    public Usage withPreprocessMillis(double millis) {
        return new Usage(promptTokens, imageTokens, generatedTokens, millis, visionMillis, prefillMillis,
                decodeMillis, cachedPromptTokens, visionEncodings);
    }

    /**
     * Copy with a different vision encoder time.
     *
     * @param millis vision tower + projection milliseconds
     * @return the new usage
     */
    public Usage withVisionMillis(double millis) {
        return new Usage(promptTokens, imageTokens, generatedTokens, preprocessMillis, millis, prefillMillis,
                decodeMillis, cachedPromptTokens, visionEncodings);
    }

    /**
     * Copy with the cache figures of the call.
     *
     * @param cachedTokens leading prompt tokens taken from the prefix cache
     * @param encodings images the vision tower encoded
     * @return the new usage
     */
    public Usage withCache(int cachedTokens, int encodings) {
        return new Usage(promptTokens, imageTokens, generatedTokens, preprocessMillis, visionMillis, prefillMillis,
                decodeMillis, cachedTokens, encodings);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "Usage[promptTokens=%d (cached %d), imageTokens=%d, generatedTokens=%d, visionEncodings=%d,"
                        + " preprocess=%.1f ms, vision=%.1f ms, prefill=%.1f ms, decode=%.1f ms, %.2f tokens/s]",
                promptTokens, cachedPromptTokens, imageTokens, generatedTokens, visionEncodings, preprocessMillis,
                visionMillis, prefillMillis, decodeMillis, tokensPerSecond());
    }
}
