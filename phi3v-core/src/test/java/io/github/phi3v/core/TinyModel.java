package io.github.phi3v.core;

import java.nio.file.Path;

import io.github.phi3v.core.model.GoldenCases;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.testsupport.SharedData;

/** The golden tiny-a model (float32) for the fluent-API tests. */
final class TinyModel {

    private TinyModel() {
    }

    static Path dir() {
        return GoldenCases.modelF32();
    }

    static Path image(String file) {
        return SharedData.tinyA().resolve("images/" + file);
    }

    static Phi3VisionBuilder builder() {
        return Phi3Vision.builder().modelDir(dir()).dtype(Precision.FLOAT32);
    }

    static Phi3Vision load() {
        return builder().build();
    }

    /** {@link #load()} once per test class: hold it in a {@code @RegisterExtension static final} field. */
    static GoldenCases.Loaded<Phi3Vision> perClass() {
        return new GoldenCases.Loaded<>(TinyModel::load);
    }
}
