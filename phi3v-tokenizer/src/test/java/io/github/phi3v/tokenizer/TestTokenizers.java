package io.github.phi3v.tokenizer;

import java.nio.file.Path;

import io.github.phi3v.testsupport.SharedData;

/** The real Phi-3-vision tokenizer from {@code shared/tokenizer}, loaded once per test JVM. */
final class TestTokenizers {

    private static volatile Phi3Tokenizer phi3v;

    private TestTokenizers() {
    }

    static Path phi3vDir() {
        return SharedData.tokenizer().resolve("phi-3-vision-128k-instruct");
    }

    static Phi3Tokenizer phi3v() {
        Path dir = phi3vDir(); // skips or fails the test first when the data is missing
        Phi3Tokenizer t = phi3v;
        if (t == null) {
            synchronized (TestTokenizers.class) {
                t = phi3v;
                if (t == null) {
                    t = Phi3Tokenizer.fromDirectory(dir);
                    phi3v = t;
                }
            }
        }
        return t;
    }
}
