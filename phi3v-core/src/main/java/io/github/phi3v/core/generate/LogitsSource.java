package io.github.phi3v.core.generate;

/**
 * Where next-token logits come from: in production the model plus its KV cache, in tests a fake. The
 * decode loop calls {@link #next} first with the whole prompt (the prefill), then once per generated
 * token with that single token.
 *
 * <pre>{@code
 * LogitsSource fake = newIds -> {
 *     float[] logits = new float[32064];
 *     logits[42] = 1f;                   // always predicts token 42
 *     return logits;
 * };
 * }</pre>
 *
 * <p>An implementation that caches state may reuse whatever prefix of the prompt it already holds;
 * the loop does not care. Implementations are used by one thread at a time.
 */
@FunctionalInterface
public interface LogitsSource {

    /**
     * Appends ids to the sequence and returns the logits that predict the token after the last one.
     *
     * @param newIds the ids added since the previous call: the whole prompt on the first call (image
     *     placeholders are negative), then exactly one generated id per call
     * @return the logits over the vocabulary for the next position; the caller does not modify it
     */
    float[] next(int[] newIds);
}
