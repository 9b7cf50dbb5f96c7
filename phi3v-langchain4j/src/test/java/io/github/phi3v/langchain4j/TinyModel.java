package io.github.phi3v.langchain4j;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.testsupport.SharedData;

/**
 * The golden tiny-a model (float32) and its images for the adapter tests; the model's image loader may reach
 * a {@link io.github.phi3v.testsupport.LoopbackImageServer}.
 */
final class TinyModel {

    static final String IMAGE = "a01_rgb_500x300.png";

    private TinyModel() {
    }

    static Path image(String file) {
        return SharedData.tinyA().resolve("images/" + file);
    }

    static String imageBase64(String file) {
        try {
            return Base64.getEncoder().encodeToString(Files.readAllBytes(image(file)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The model, with an image loader that may reach the tests' own loopback server. */
    static Phi3Vision load() {
        return Phi3Vision.builder().modelDir(SharedData.tinyA().resolve("model-f32")).dtype("float32")
                .imageLoader(ImageLoader.builder().allowHosts("127.0.0.1").timeout(Duration.ofSeconds(10)).build())
                .build();
    }
}
