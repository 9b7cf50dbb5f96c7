package io.github.phi3v.core.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.testsupport.SharedData;

/**
 * End to end: the golden tiny model served by the loopback hub, downloaded into the cache, then read
 * by the config and checkpoint loaders straight from the snapshot folder (through its symlinks).
 */
@Timeout(60)
class HubGoldenModelTest {

    @TempDir
    Path cache;

    @Test
    void downloadedSnapshotLoadsLikeTheOriginalFolder() throws IOException {
        Path golden = SharedData.tinyA().resolve("model-f32");
        try (MockHub hub = new MockHub()) {
            for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json",
                    "special_tokens_map.json", "preprocessor_config.json")) {
                hub.file(f, Files.readAllBytes(golden.resolve(f)), f.equals("tokenizer.json"));
            }
            hub.file("model.safetensors", Files.readAllBytes(golden.resolve("model.safetensors")), true);
            HubClient client = new HubClient(HubConfig.fromEnvironment(Map.of("HF_HUB_CACHE", cache.toString(),
                    "HF_ENDPOINT", hub.endpoint().toString(), "HOME", cache.toString()))
                    .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(20)));

            Path dir = client.modelDirectory(MockHub.REPO, "main", null);
            assertEquals(Phi3VConfig.fromDirectory(golden), Phi3VConfig.fromDirectory(dir));
            try (Checkpoint downloaded = Checkpoint.open(dir); Checkpoint original = Checkpoint.open(golden)) {
                assertEquals(original.names(), downloaded.names());
                for (String n : original.names()) {
                    assertEquals(original.bytes(n), downloaded.bytes(n), n);
                }
            }
            assertArrayEquals(Files.readAllBytes(golden.resolve("tokenizer.json")),
                    Files.readAllBytes(dir.resolve("tokenizer.json")));

            // A local folder is used as it is, without the hub.
            hub.clearRequests();
            assertEquals(golden, client.modelDirectory(golden.toString(), "main", null));
            assertEquals(List.of(), hub.requests());
            assertThrows(IllegalArgumentException.class,
                    () -> client.modelDirectory("/no/such/folder", "main", null));
            HubException missing = assertThrows(HubException.class,
                    () -> client.resolveFile(MockHub.REPO, "main", "generation_config.json", null));
            assertEquals(HubException.Reason.NOT_FOUND, missing.reason());
            assertTrue(missing.getMessage().startsWith("generation_config.json of acme/tiny-vision (revision main) "
                    + "does not exist"), missing.getMessage());
            // ... and the hub's answer is remembered: asking again needs no request.
            hub.clearRequests();
            assertThrows(HubException.class,
                    () -> client.resolveFile(MockHub.REPO, "main", "generation_config.json", null));
            assertEquals(List.of(), hub.requests());
        }
    }
}
