package io.github.phi3v.core.generate;

import java.util.function.Consumer;

/**
 * A generation that streams text: what {@link TextPublisher} runs on its worker thread. Typically a
 * lambda around {@link Generator#generate(int[], LogitsSource, TextDecoder, GenerationConfig, Consumer,
 * CancellationToken)} or a session's {@code stream} method.
 *
 * <pre>{@code
 * StreamingTask task = (onText, cancel) ->
 *         Generator.generate(ids, model, decoder, config, onText, cancel);
 * }</pre>
 */
@FunctionalInterface
public interface StreamingTask {

    /**
     * Runs the generation.
     *
     * @param onText receives each text piece, in order; it may block (that is how back-pressure works)
     * @param cancel the token the task must honour; set when the consumer cancels
     * @return the final answer
     */
    Answer run(Consumer<String> onText, CancellationToken cancel);
}
