package io.github.phi3v.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import com.fasterxml.jackson.databind.JsonNode;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.FinishReason;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.model.GoldenCases;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.SharedData;

/**
 * Acceptance: greedy generation through {@link RawPrompts#generate} (the ids-level entry point of the
 * CLI's {@code generate --input-ids}) reproduces {@code nocache_pristine_new_ids} of every golden
 * generation case exactly, in float32, with images preprocessed by the real {@code Phi3ImageProcessor}
 * from {@code golden/tiny-a/images} at num_crops 16 (checked bit-exact against the manifest's SHA-256).
 */
class Phi3VisionGoldenTest {

    @RegisterExtension
    static final GoldenCases.Loaded<Phi3Vision> PHI = TinyModel.perClass();

    @ParameterizedTest
    @MethodSource(GoldenCases.ALL_CASES)
    void greedyGenerationReproducesFullRecomputationIds(String c) {
        GoldenTensors g = GoldenCases.generation(c);
        int[] prompt = g.ints("prompt_input_ids");
        int[] expected = g.ints("nocache_pristine_new_ids");
        JsonNode manifest = GoldenCases.manifestCase(c);

        List<ImagePixels> images = new ArrayList<>();
        for (JsonNode file : manifest.get("images")) {
            images.add(PHI.get().rawPrompts().preprocess(SharedData.tinyA().resolve(file.asText()), GoldenCases.NUM_CROPS));
        }
        if (!images.isEmpty()) {
            assertEquals(manifest.get("pixel_values_sha256_f32le").asText(), GoldenCases.pixelValuesSha256(images),
                    c + ": the processor's pixel values are not the golden ones");
        }

        GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(expected.length).stopTokenIds().build();
        long before = PHI.get().visionEncodings();
        Answer a = PHI.get().rawPrompts().generate(prompt, images, greedy);
        System.out.println("[Phi3VisionGoldenTest] " + c + ": " + Arrays.toString(a.tokenIds()) + " " + a.usage());

        assertArrayEquals(expected, a.tokenIds(), c + ": generated ids differ from nocache_pristine_new_ids");
        assertEquals(FinishReason.LENGTH, a.finishReason());
        assertEquals(prompt.length, a.usage().promptTokens());
        assertEquals(images.size(), PHI.get().visionEncodings() - before, "one vision run per image");
        assertEquals(PHI.get().tokenizer().decode(a.tokenIds(), true), a.text());
    }

    static Path imageFile(String name) {
        return TinyModel.image(name);
    }
}
