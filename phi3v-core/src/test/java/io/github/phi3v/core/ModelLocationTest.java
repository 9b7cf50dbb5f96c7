package io.github.phi3v.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ModelLocation#parse}: the one rule that tells a model folder from a hub id. */
class ModelLocationTest {

    @Test
    void anExistingFolderIsAFolderAndAnythingElseThatIsNoPathIsAHubId(@TempDir Path dir) {
        assertEquals(Optional.of(dir), ModelLocation.parse(dir.toString()).folder());
        assertEquals(Optional.empty(), ModelLocation.parse(dir.toString()).hubId());
        ModelLocation hub = ModelLocation.parse("microsoft/Phi-3-vision-128k-instruct");
        assertEquals(Optional.of("microsoft/Phi-3-vision-128k-instruct"), hub.hubId());
        assertEquals(Optional.empty(), hub.folder());
        assertEquals(ModelLocation.hub("gpt2"), ModelLocation.parse("gpt2"));
    }

    @Test
    void whatLooksLikeAPathButNamesNoFolderIsRefused(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("config.json"), "{}");
        for (String s : new String[] {"/no/such/folder", "./models/phi", "~/models", "models\\phi", "org/name/",
                "a/b/c", file.toString()}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelLocation.parse(s), s);
            assertTrue(e.getMessage().contains("model folder '" + s + "' does not exist"), e.getMessage());
        }
    }

    @Test
    void theBuilderTakesTheSameRule() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Phi3Vision.builder().model("./no-such-model"));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        IllegalStateException none = assertThrows(IllegalStateException.class, () -> Phi3Vision.builder().build());
        assertTrue(none.getMessage().contains("no model given"), none.getMessage());
    }
}
