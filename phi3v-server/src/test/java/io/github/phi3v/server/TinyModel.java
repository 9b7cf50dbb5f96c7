package io.github.phi3v.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Phi3VisionBuilder;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.testsupport.SharedData;

/** The golden tiny-a model (float32) and its images, found through {@link SharedData} like the core tests. */
final class TinyModel {

    private TinyModel() {
    }

    static Path image(String file) {
        return SharedData.tinyA().resolve("images/" + file);
    }

    static byte[] imageBytes(String file) {
        try {
            return Files.readAllBytes(image(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String dataUri(String file) {
        return "data:image/png;base64," + Base64.getEncoder().encodeToString(imageBytes(file));
    }

    /** float32, numCrops 1 (313 image tokens: fast), a 2048-token context, the server's loader. */
    static Phi3VisionBuilder builder(ImageLoader loader) {
        return Phi3Vision.builder().modelDir(SharedData.tinyA().resolve("model-f32")).dtype(Precision.FLOAT32)
                .numCrops(1).maxContext(2048).threads(1).imageLoader(loader);
    }
}
