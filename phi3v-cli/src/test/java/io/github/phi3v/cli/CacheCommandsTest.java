package io.github.phi3v.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code phi3v models} and {@code phi3v rm} on a hub cache laid out as huggingface_hub lays it out. */
class CacheCommandsTest {

    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path tmp;

    Path cache;
    Path outside;

    @BeforeEach
    void layOutCache() throws IOException {
        cache = Files.createDirectories(tmp.resolve("hub"));
        // acme/tiny: two blobs (1500 + 500 bytes) linked from a snapshot, a ref and a .no_exist marker
        Path tiny = cache.resolve("models--acme--tiny");
        Files.createDirectories(tiny.resolve("blobs"));
        Files.write(tiny.resolve("blobs/aaa"), new byte[1500]);
        Files.write(tiny.resolve("blobs/bbb"), new byte[500]);
        Path snap = Files.createDirectories(tiny.resolve("snapshots/" + COMMIT));
        Files.createSymbolicLink(snap.resolve("model.safetensors"), Path.of("../../blobs/aaa"));
        Files.createSymbolicLink(snap.resolve("config.json"), Path.of("../../blobs/bbb"));
        Files.createDirectories(tiny.resolve("refs"));
        Files.writeString(tiny.resolve("refs/main"), COMMIT);               // 40 bytes
        Files.createDirectories(tiny.resolve(".no_exist/" + COMMIT));
        Files.write(tiny.resolve(".no_exist/" + COMMIT + "/tokenizer.model"), new byte[0]);
        // org/other: a snapshot file moved into place (links failed) plus a link to a file OUTSIDE the cache,
        // which must be neither counted nor deleted
        Path other = cache.resolve("models--org--other");
        Path otherSnap = Files.createDirectories(other.resolve("snapshots/" + COMMIT));
        Files.write(otherSnap.resolve("config.json"), new byte[7]);
        outside = Files.write(tmp.resolve("precious.bin"), new byte[4096]);
        Files.createSymbolicLink(otherSnap.resolve("weights.bin"), outside);
        // not models: a dataset and the lock folder
        Files.createDirectories(cache.resolve("datasets--acme--data/blobs"));
        Files.createDirectories(cache.resolve(".locks/models--acme--tiny"));
    }

    @Test
    void modelsListsEachModelWithItsBytesOnDisk() {
        CliTest.Result r = CliTest.run("models", "--cache-dir", cache.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out());
        assertTrue(lines.get(0).matches("acme/tiny\\s+2.04 kB\\s+" + java.util.regex.Pattern.quote(
                cache.resolve("models--acme--tiny").toString())), lines.get(0));   // 1500 + 500 + 40
        assertTrue(lines.get(1).matches("org/other\\s+7 B\\s+.*models--org--other"), lines.get(1));
        assertEquals("2 models, 2.05 kB in " + cache, r.err().strip());
    }

    @Test
    void modelsOnAnEmptyOrMissingCacheSaysSo() {
        CliTest.Result r = CliTest.run("models", "--cache-dir", tmp.resolve("nothing-here").toString());
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.out());
        assertEquals("no models in " + tmp.resolve("nothing-here"), r.err().strip());
    }

    @Test
    void rmRemovesOneModelAndNothingItLinksTo() {
        CliTest.Result r = CliTest.run("rm", "--cache-dir", cache.toString(), "org/other");
        assertEquals(0, r.code(), r.err());
        assertEquals("removed org/other (7 B, " + cache.resolve("models--org--other") + ")", r.out().strip());
        assertFalse(Files.exists(cache.resolve("models--org--other")));
        assertTrue(Files.isRegularFile(outside), "a link's target outside the model folder is kept");
        assertTrue(Files.isDirectory(cache.resolve("models--acme--tiny/blobs")), "other models are kept");
        assertEquals(1, CliTest.run("models", "--cache-dir", cache.toString()).out().lines().count());
    }

    @Test
    void rmOfAMissingModelIsAOneLineErrorWithExitOne() {
        CliTest.Result r = CliTest.run("rm", "--cache-dir", cache.toString(), "acme/nope");
        assertEquals(1, r.code());
        assertEquals("phi3v rm: error: model acme/nope is not in the hub cache " + cache
                + " ('phi3v models' lists what is)", r.err().strip());
        assertEquals("", r.out());
        CliTest.Result traversal = CliTest.run("rm", "--cache-dir", cache.toString(), "../hub");
        assertEquals(1, traversal.code());
        assertEquals("phi3v rm: error: '../hub' is not a model id (expected org/name, e.g. "
                + "microsoft/Phi-3-vision-128k-instruct)", traversal.err().strip());
        assertTrue(Files.isDirectory(cache.resolve("models--acme--tiny")));
    }
}
