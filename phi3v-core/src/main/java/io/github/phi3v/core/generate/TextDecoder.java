package io.github.phi3v.core.generate;

import java.util.Objects;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * Streaming detokenization: turns generated ids into text pieces as soon as they are complete UTF-8
 * (a multi-byte character split over byte-fallback tokens comes out once its last byte arrives). In
 * production this wraps the tokenizer's streaming decoder; one instance per generation.
 *
 * <pre>{@code
 * TextDecoder simple = id -> vocabulary.get(id);     // a fake for tests
 *
 * StreamingDecoder sd = tokenizer.streamingDecoder(true);
 * TextDecoder real = TextDecoder.of(sd::next, sd::finish);
 * }</pre>
 *
 * <p>Stop token ids are never passed to the decoder. Not thread-safe.
 */
@FunctionalInterface
public interface TextDecoder {

    /**
     * Accepts the next generated id.
     *
     * @param tokenId the generated id
     * @return the text this id completes; "" while a character is still incomplete
     */
    String decode(int tokenId);

    /**
     * Ends the stream: returns whatever is still buffered (for example a replacement character for
     * an incomplete UTF-8 sequence). The default returns "".
     *
     * @return the remaining text, possibly ""
     */
    default String finish() {
        return "";
    }

    /**
     * A decoder from two method references, typically the tokenizer's streaming decoder
     * ({@code TextDecoder.of(sd::next, sd::finish)}).
     *
     * @param decode returns the text completed by an id ("" if none yet, never null)
     * @param finish returns the text still buffered at the end
     * @return the decoder
     */
    static TextDecoder of(IntFunction<String> decode, Supplier<String> finish) {
        Objects.requireNonNull(decode, "decode");
        Objects.requireNonNull(finish, "finish");
        return new TextDecoder() {
            @Override
            public String decode(int tokenId) {
                return decode.apply(tokenId);
            }

            @Override
            public String finish() {
                return finish.get();
            }
        };
    }
}
