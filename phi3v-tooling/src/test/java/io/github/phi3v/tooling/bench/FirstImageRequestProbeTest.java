package io.github.phi3v.tooling.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.testsupport.SharedData;

/**
 * {@link FirstImageRequestProbe#run}: every request encodes its image afresh (vision time each time) and asks
 * what {@link Phi3Vision#chat} asks for the same question and image: the same prompt length and first token.
 */
class FirstImageRequestProbeTest {

    @Test
    void eachRequestEncodesTheImageAndAsksWhatChatAsks() {
        Path image = SharedData.tinyA().resolve("images/a01_rgb_500x300.png");
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(SharedData.tinyA().resolve("model-f32"))
                .dtype(Precision.FLOAT32).build()) {
            List<FirstImageRequestProbe.Stages> stages = FirstImageRequestProbe.run(phi, image, 1, 3);
            Answer chat = phi.chat(ChatRequest.builder().numCrops(1).maxNewTokens(1)
                    .user("What is shown?", ImageInput.of(image)).build());
            assertEquals(3, stages.size());
            assertEquals(3, phi.visionEncodings() - chat.usage().visionEncodings(), "an encoding per request");
            for (FirstImageRequestProbe.Stages s : stages) {
                assertEquals(chat.usage().promptTokens(), s.promptTokens());
                assertEquals(chat.usage().imageTokens(), s.imageTokens());
                assertEquals(chat.tokenIds()[0], s.firstToken());
                assertTrue(s.preprocessMillis() > 0 && s.visionMillis() > 0 && s.prefillMillis() > 0, s.toString());
            }
            assertThrows(IllegalArgumentException.class, () -> FirstImageRequestProbe.run(phi, image, 1, 0));
        }
    }
}
