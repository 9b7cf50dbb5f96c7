package io.github.phi3v.core.generate;

import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * What one sequence does with each next-token distribution: sample a token with its own {@code Sampler}
 * (and random state), stream its text through the {@code StopStrings.Matcher}, and decide whether it is
 * done. It never calls the model: {@link Generator} feeds it from one {@link LogitsSource}, a batch
 * scheduler feeds many of them from one batched forward pass, and both get the same tokens, text and
 * usage for the same logits.
 *
 * <pre>{@code
 * SequenceDecoder seq = new SequenceDecoder(promptIds, decoder, config, onText);
 * float[] logits = model.next(promptIds);              // the prefill
 * while (!seq.accept(logits)) {
 *     logits = model.next(new int[] {seq.lastToken()});
 * }
 * Answer a = seq.answer();
 * }</pre>
 *
 * <p>Per {@link #accept}: choose a token; a stop id ends with {@link FinishReason#STOP} (the id is kept, no
 * text); otherwise its text goes through the matcher and the released part to {@code onText}; a completed
 * stop string ends with STOP; {@code maxNewTokens} ends with {@link FinishReason#LENGTH}. Unless a stop
 * string ended it, the decoder's and the matcher's held-back text is released at the end, so the streamed
 * pieces always concatenate to {@link Answer#text()}. Not thread-safe: one thread at a time.
 */
public final class SequenceDecoder {

    private final int promptLength;
    private final int imageTokens;
    private final TextDecoder decoder;
    private final GenerationConfig config;
    private final Sampler sampler;
    private final StopStrings.Matcher stop;
    private final Consumer<String> onText;
    private final StringBuilder text = new StringBuilder();
    private final long start;
    private int[] context;
    private int length;
    private int generated;
    private long prefillEnd = -1;
    private long end;
    private FinishReason reason;

    /**
     * Starts a sequence; the clock for its prefill time starts now.
     *
     * @param promptIds the prompt (image placeholders negative), at least one id; copied
     * @param decoder a fresh streaming detokenizer for this sequence
     * @param config how to generate (its sampler and random state are created here, one per sequence)
     * @param onText receives each non-empty piece on the thread calling {@link #accept} or
     *     {@link #cancel}; an exception it throws propagates from that call
     * @throws IllegalArgumentException if the prompt is empty
     */
    public SequenceDecoder(int[] promptIds, TextDecoder decoder, GenerationConfig config, Consumer<String> onText) {
        Objects.requireNonNull(promptIds, "promptIds");
        this.decoder = Objects.requireNonNull(decoder, "decoder");
        this.config = Objects.requireNonNull(config, "config");
        this.onText = Objects.requireNonNull(onText, "onText");
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt must contain at least one token, got 0");
        }
        int images = 0;
        for (int id : promptIds) {
            if (id < 0) {
                images++;
            }
        }
        this.imageTokens = images;
        this.promptLength = promptIds.length;
        this.sampler = Sampler.forConfig(config);
        this.stop = StopStrings.of(config.stopStrings()).matcher();
        // Grown on demand: maxNewTokens may be huge when the caller relies on stop conditions.
        this.context = Arrays.copyOf(promptIds, promptIds.length + Math.min(config.maxNewTokens(), 256));
        this.length = promptIds.length;
        this.start = System.nanoTime();
    }

    /**
     * Takes the logits that predict the next token: samples it, streams its text and checks the stop
     * conditions.
     *
     * @param logits the next-token logits over the vocabulary; not modified
     * @return true if the sequence is finished ({@link #answer()} is ready), false if {@link #lastToken()}
     *     must be fed to get the next logits
     * @throws IllegalArgumentException if the logits are null or empty
     * @throws IllegalStateException if the sequence is already finished
     */
    public boolean accept(float[] logits) {
        checkRunning();
        if (prefillEnd < 0) {
            prefillEnd = System.nanoTime();
        }
        if (logits == null || logits.length == 0) {
            throw new IllegalArgumentException("the logits source returned " + (logits == null ? "null" : "0 logits")
                    + " after " + generated + " generated tokens; expected one logit per vocabulary id");
        }
        int token = sampler.sample(logits, Arrays.copyOf(context, length));
        if (length == context.length) {
            context = Arrays.copyOf(context, length + Math.max(256, length / 2));
        }
        context[length++] = token;
        generated++;
        if (config.isStopToken(token)) {
            return finish(FinishReason.STOP);
        }
        emit(stop.accept(decoder.decode(token)));
        if (stop.isStopped()) {
            return finish(FinishReason.STOP);
        }
        if (generated >= config.maxNewTokens()) {
            return finish(FinishReason.LENGTH);
        }
        return false;
    }

    /**
     * Ends the sequence with {@link FinishReason#CANCELLED}, releasing the text held back so far. Does nothing
     * if it is already finished.
     */
    public void cancel() {
        if (reason == null) {
            finish(FinishReason.CANCELLED);
        }
    }

    /**
     * The token to feed next: the one the last {@link #accept} chose.
     *
     * @return the last generated id
     * @throws IllegalStateException before the first {@link #accept}
     */
    public int lastToken() {
        if (generated == 0) {
            throw new IllegalStateException("no token generated yet: call accept(logits) with the prefill's logits");
        }
        return context[length - 1];
    }

    /**
     * Whether {@link #accept} or {@link #cancel} ended the sequence.
     *
     * @return true once finished
     */
    public boolean isFinished() {
        return reason != null;
    }

    /**
     * Tokens generated so far.
     *
     * @return the count, stop ids included
     */
    public int generatedTokens() {
        return generated;
    }

    /**
     * The result of a finished sequence.
     *
     * @return text, generated ids, finish reason and usage; preprocessing and vision times are zero (the
     *     caller adds them); prefill time runs from construction to the first {@link #accept}, decode time
     *     from there to the end
     * @throws IllegalStateException if the sequence is not finished
     */
    public Answer answer() {
        if (reason == null) {
            throw new IllegalStateException("the sequence is still running (" + generated + " tokens generated)");
        }
        double prefillMillis = prefillEnd < 0 ? 0 : (prefillEnd - start) / 1e6;
        double decodeMillis = prefillEnd < 0 ? 0 : (end - prefillEnd) / 1e6;
        Usage usage = new Usage(promptLength, imageTokens, generated, 0, 0, prefillMillis, decodeMillis);
        return new Answer(text.toString(), Arrays.copyOfRange(context, promptLength, length), reason, usage);
    }

    private boolean finish(FinishReason why) {
        reason = why;
        end = System.nanoTime();
        if (!stop.isStopped()) {
            // Nothing more will come: release the decoder's partial character and the matcher's held text.
            emit(stop.accept(decoder.finish()));
            emit(stop.flush());
        }
        return true;
    }

    private void emit(String piece) {
        if (!piece.isEmpty()) {
            text.append(piece);
            onText.accept(piece);
        }
    }

    private void checkRunning() {
        if (reason != null) {
            throw new IllegalStateException("the sequence already finished (" + reason + ")");
        }
    }
}
