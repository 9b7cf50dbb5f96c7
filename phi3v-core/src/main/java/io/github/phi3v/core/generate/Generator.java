package io.github.phi3v.core.generate;

import java.util.Arrays;
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
 * <p>Per step: check cancellation; run the model; check cancellation again; choose a token with
 * {@link Sampler#forConfig}; a stop id ends with {@link FinishReason#STOP} (the id is kept, no text);
 * otherwise its text goes through the {@link StopStrings.Matcher} and the released part to
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
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt must contain at least one token, got 0");
        }
        int imageTokens = 0;
        for (int id : promptIds) {
            if (id < 0) {
                imageTokens++;
            }
        }

        Sampler sampler = Sampler.forConfig(config);
        StopStrings.Matcher stop = StopStrings.of(config.stopStrings()).matcher();
        StringBuilder text = new StringBuilder();
        Consumer<String> emit = piece -> {
            if (!piece.isEmpty()) {
                text.append(piece);
                onText.accept(piece);
            }
        };

        // Grown on demand: maxNewTokens may be huge when the caller relies on stop conditions.
        int[] context = Arrays.copyOf(promptIds, promptIds.length + Math.min(config.maxNewTokens(), 256));
        int length = promptIds.length;
        int generated = 0;
        int[] feed = promptIds.clone(); // the source may keep the array; ours must not change under it
        FinishReason reason;
        long start = System.nanoTime();
        long prefillEnd = -1;
        while (true) {
            if (cancel.isCancelled()) {
                reason = FinishReason.CANCELLED;
                break;
            }
            float[] logits = source.next(feed);
            if (prefillEnd < 0) {
                prefillEnd = System.nanoTime();
            }
            if (logits == null || logits.length == 0) {
                throw new IllegalArgumentException("the logits source returned " + (logits == null ? "null" : "0 logits")
                        + " after " + generated + " generated tokens; expected one logit per vocabulary id");
            }
            if (cancel.isCancelled()) {
                reason = FinishReason.CANCELLED;
                break;
            }
            int token = sampler.sample(logits, Arrays.copyOf(context, length));
            if (length == context.length) {
                context = Arrays.copyOf(context, length + Math.max(256, length / 2));
            }
            context[length++] = token;
            generated++;
            if (config.isStopToken(token)) {
                reason = FinishReason.STOP;
                break;
            }
            emit.accept(stop.accept(decoder.decode(token)));
            if (stop.isStopped()) {
                reason = FinishReason.STOP;
                break;
            }
            if (generated >= config.maxNewTokens()) {
                reason = FinishReason.LENGTH;
                break;
            }
            feed = new int[] {token};
        }
        if (!stop.isStopped()) {
            // Nothing more will come: release the decoder's partial character and the matcher's held text.
            emit.accept(stop.accept(decoder.finish()));
            emit.accept(stop.flush());
        }
        long end = System.nanoTime();
        double prefillMillis = prefillEnd < 0 ? 0 : (prefillEnd - start) / 1e6;
        double decodeMillis = prefillEnd < 0 ? 0 : (end - prefillEnd) / 1e6;
        Usage usage = new Usage(promptIds.length, imageTokens, generated, 0, 0, prefillMillis, decodeMillis);
        return new Answer(text.toString(), Arrays.copyOfRange(context, promptIds.length, length), reason, usage);
    }
}
