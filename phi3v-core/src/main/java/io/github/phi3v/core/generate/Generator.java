package io.github.phi3v.core.generate;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * The decode loop: prefill, then pick a token, stream its text, stop or feed it back. It knows nothing
 * about the model ({@link LogitsSource}) or the tokenizer ({@link TextDecoder}).
 *
 * <pre>{@code
 * StringBuilder shown = new StringBuilder();
 * Answer a = Generator.generate(promptIds, model, decoder, GenerationConfig.defaults(),
 *         shown::append, CancellationToken.none());
 * assert shown.toString().equals(a.text());
 * }</pre>
 *
 * <p>Per step: check cancellation; run the model; check cancellation again; hand the logits to a
 * {@link SequenceDecoder} (the per-sequence logic a batch scheduler shares), which chooses a token with
 * {@code Sampler#forConfig}; a stop id ends with {@link FinishReason#STOP} (the id is kept, no text);
 * otherwise its text goes through the {@code StopStrings.Matcher} and the released part to
 * {@code onText}; a completed stop string ends with STOP; {@code maxNewTokens} ends with
 * {@link FinishReason#LENGTH}. Unless a stop string ended it, the decoder's and the matcher's held-back
 * text is released at the end, so the streamed pieces always concatenate to {@link Answer#text()}.
 */
public final class Generator {

    private Generator() {
    }

    /**
     * Generates without streaming or cancellation.
     *
     * @param promptIds the prompt (image placeholders negative), at least one id
     * @param source the model
     * @param decoder a fresh streaming detokenizer
     * @param config how to generate
     * @return the answer
     */
    public static Answer generate(int[] promptIds, LogitsSource source, TextDecoder decoder,
            GenerationConfig config) {
        return generate(promptIds, source, decoder, config, piece -> { }, CancellationToken.none());
    }

    /**
     * Generates, streaming text pieces to {@code onText} as they become final.
     *
     * @param promptIds the prompt (image placeholders negative), at least one id
     * @param source the model; called once with the prompt, then once per generated token except the last
     * @param decoder a fresh streaming detokenizer for this generation
     * @param config how to generate
     * @param onText receives each non-empty piece on the calling thread; an exception it throws aborts
     *     generation and propagates
     * @param cancel polled before and after every forward pass
     * @return the answer; its usage has zero preprocessing and vision times (the caller adds them)
     * @throws IllegalArgumentException if the prompt is empty or the model returns no logits / NaN
     */
    public static Answer generate(int[] promptIds, LogitsSource source, TextDecoder decoder,
            GenerationConfig config, Consumer<String> onText, CancellationToken cancel) {
        Objects.requireNonNull(promptIds, "promptIds");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(decoder, "decoder");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(onText, "onText");
        Objects.requireNonNull(cancel, "cancel");
        SequenceDecoder seq = new SequenceDecoder(promptIds, decoder, config, onText);
        int[] feed = promptIds.clone(); // the source may keep the array; ours must not change under it
        while (true) {
            if (cancel.isCancelled()) {
                seq.cancel();
                break;
            }
            float[] logits = source.next(feed);
            if (cancel.isCancelled()) {
                seq.cancel();
                break;
            }
            if (seq.accept(logits)) {
                break;
            }
            feed = new int[] {seq.lastToken()};
        }
        return seq.answer();
    }
}
