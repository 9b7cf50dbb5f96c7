package io.github.phi3v.core.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several resolvers of one model sharing one cache folder: threads of one JVM, two JVMs, and the link
 * step alone. Every run must end with one blob per file, snapshot links that resolve to those blobs with
 * the right content, no temporary files, and each file's content fetched from the (loopback) hub once.
 */
@Timeout(180)
class HubConcurrencyTest {

    private static final String REPO = MockHub.REPO;
    private static final String COMMIT = MockHub.COMMIT;
    private static final String SHARD1 = "model-00001-of-00003.safetensors";
    private static final String SHARD2 = "model-00002-of-00003.safetensors";
    private static final String SHARD3 = "model-00003-of-00003.safetensors";

    @TempDir
    Path cache;

    private MockHub hub;
    /** What the snapshot must hold: file name to content. */
    private final Map<String, byte[]> expected = new LinkedHashMap<>();
    private final Set<String> lfsFiles = new TreeSet<>();

    @BeforeEach
    void startHub() throws IOException {
        hub = new MockHub();
        text("config.json", "{\"model_type\": \"phi3_v\"}");
        text("tokenizer.json", "{\"version\": \"1.0\"}");
        text("tokenizer_config.json", "{}");
        text("preprocessor_config.json", "{\"num_crops\": 16}");
        text(HubClient.WEIGHTS_INDEX, "{\"metadata\":{},\"weight_map\":{\"a\":\"" + SHARD1 + "\",\"b\":\"" + SHARD2
                + "\",\"c\":\"" + SHARD3 + "\"}}");
        int seed = 1;
        for (String shard : List.of(SHARD1, SHARD2, SHARD3)) {
            byte[] b = new byte[200_000 + 10_000 * seed];
            new Random(seed++).nextBytes(b);
            hub.file(shard, b, true);
            expected.put(shard, b);
            lfsFiles.add(shard);
        }
    }

    private void text(String name, String content) {
        hub.text(name, content);
        expected.put(name, content.getBytes(StandardCharsets.UTF_8));
    }

    @AfterEach
    void stopHub() {
        hub.close();
    }

    private HubConfig config() {
        return new HubConfig(hub.endpoint(), cache, null, false, Duration.ofSeconds(5), Duration.ofSeconds(30), 3);
    }

    private Path repoDir() {
        return cache.resolve("models--acme--tiny-vision");
    }

    @Test
    void manyThreadsDownloadEachFileOnce() throws Exception {
        hub.slowStorage(true); // 10 pieces 50 ms apart: the resolvers overlap for sure
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<ModelSnapshot>> results = new ArrayList<>();
        try {
            CountDownLatch go = new CountDownLatch(1);
            for (int i = 0; i < threads; i++) {
                HubClient client = new HubClient(config()); // separate clients, as separate callers would have
                results.add(pool.submit(() -> {
                    go.await();
                    return client.resolveModel(REPO, "main", ProgressListener.NONE);
                }));
            }
            go.countDown();
            for (Future<ModelSnapshot> f : results) {
                ModelSnapshot snap = f.get(120, TimeUnit.SECONDS);
                assertEquals(repoDir().resolve("snapshots").resolve(COMMIT), snap.directory());
                assertEquals(List.copyOf(expected.keySet()), snap.files());
            }
        } finally {
            pool.shutdownNow();
        }
        assertConsistentCache();
        assertEachContentFetchedOnce();
    }

    @Test
    void twoProcessesDownloadEachFileOnce() throws Exception {
        hub.slowStorage(true);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path work = Files.createDirectories(cache.resolve("work"));
        Path go = work.resolve("go");
        List<Process> processes = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                Path log = work.resolve("child" + i + ".log");
                logs.add(log);
                processes.add(new ProcessBuilder(java, "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                        "-cp", System.getProperty("java.class.path"), HubResolveChild.class.getName(),
                        hub.endpoint().toString(), cache.toString(), work.resolve("ready" + i).toString(),
                        go.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (!(Files.exists(work.resolve("ready0")) && Files.exists(work.resolve("ready1")))) {
                for (int i = 0; i < 2; i++) {
                    assertTrue(processes.get(i).isAlive(), "child " + i + " ended early: " + Files.readString(logs.get(i)));
                }
                assertTrue(System.nanoTime() < deadline, "children not ready after 90 s");
                Thread.sleep(10);
            }
            Files.createFile(go); // both JVMs are warm and waiting: they start resolving together
            for (int i = 0; i < 2; i++) {
                assertTrue(processes.get(i).waitFor(120, TimeUnit.SECONDS), "child " + i + " still running");
                assertEquals(0, processes.get(i).exitValue(), "child " + i + ": " + Files.readString(logs.get(i)));
                assertEquals(repoDir().resolve("snapshots").resolve(COMMIT).toString(),
                        Files.readString(logs.get(i)).strip(), "child " + i + " output");
            }
        } finally {
            for (Process p : processes) {
                p.destroyForcibly();
            }
        }
        assertConsistentCache();
        assertEachContentFetchedOnce();
    }

    /** The link step alone, raced by many threads without the blob lock: never a dangling link, never a lost blob. */
    @Test
    void concurrentLinksOfOneFileEndValid() throws Exception {
        HubCache hc = new HubCache(cache);
        byte[] content = "blob content".getBytes(StandardCharsets.UTF_8);
        Path blob = hc.blob(REPO, MockHub.sha256(content));
        Files.createDirectories(blob.getParent());
        Files.write(blob, content);
        int threads = 16;
        int rounds = 50;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<Integer>> done = new ArrayList<>();
        try {
            CountDownLatch go = new CountDownLatch(1);
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    go.await();
                    int ok = 0;
                    for (int r = 0; r < rounds; r++) {
                        Path linked = hc.link(REPO, COMMIT, "config.json", blob);
                        ok += HubCache.givesBlob(linked, blob) ? 1 : 0;
                    }
                    return ok;
                }));
            }
            go.countDown();
            int ok = 0;
            for (Future<Integer> f : done) {
                ok += f.get(60, TimeUnit.SECONDS);
            }
            assertEquals(threads * rounds, ok, "every link call returned a link to the blob");
        } finally {
            pool.shutdownNow();
        }
        Path target = hc.snapshotFile(REPO, COMMIT, "config.json");
        assertTrue(Files.isSymbolicLink(target));
        assertArrayEquals(content, Files.readAllBytes(target));
        assertArrayEquals(content, Files.readAllBytes(blob), "the blob stays in blobs/");
        try (Stream<Path> s = Files.list(target.getParent())) {
            assertEquals(List.of("config.json"), s.map(p -> p.getFileName().toString()).toList(), "no temp files");
        }
    }

    @Test
    void linkRepairsDanglingAndForeignLinksAndKeepsAValidOne() throws IOException {
        HubCache hc = new HubCache(cache);
        Path blob = hc.blob(REPO, "abc");
        Path other = hc.blob(REPO, "def");
        Files.createDirectories(blob.getParent());
        Files.writeString(blob, "right");
        Files.writeString(other, "wrong");
        Path target = hc.snapshotFile(REPO, COMMIT, "sub/file.json");
        Files.createDirectories(target.getParent());

        Files.createSymbolicLink(target, Path.of("../../../blobs/missing"));
        assertFalse(Files.exists(target), "dangling before");
        hc.link(REPO, COMMIT, "sub/file.json", blob);
        assertEquals("right", Files.readString(target));
        assertEquals(Path.of("../../../blobs/abc"), Files.readSymbolicLink(target));

        Files.delete(target);
        Files.createSymbolicLink(target, Path.of("../../../blobs/def"));
        hc.link(REPO, COMMIT, "sub/file.json", blob);
        assertEquals("right", Files.readString(target), "a link to another blob is replaced");

        Object key = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        hc.link(REPO, COMMIT, "sub/file.json", blob);
        assertEquals(key, Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                .fileKey(), "a valid link is accepted as it is, not recreated");
        assertEquals("right", Files.readString(blob));
        assertEquals("wrong", Files.readString(other));
    }

    // ---- checks --------------------------------------------------------------------------------

    /** One blob per file, links resolving to them with the right content, nothing temporary left. */
    private void assertConsistentCache() throws IOException {
        Path snapshot = repoDir().resolve("snapshots").resolve(COMMIT);
        Set<String> etags = new TreeSet<>();
        for (Map.Entry<String, byte[]> e : expected.entrySet()) {
            String etag = lfsFiles.contains(e.getKey()) ? MockHub.sha256(e.getValue()) : MockHub.gitBlobId(e.getValue());
            etags.add(etag);
            Path link = snapshot.resolve(e.getKey());
            assertTrue(Files.isSymbolicLink(link), e.getKey() + " is a symlink");
            assertEquals(Path.of("../../blobs/" + etag), Files.readSymbolicLink(link), e.getKey());
            assertEquals(MockHub.sha256(e.getValue()), MockHub.sha256(Files.readAllBytes(link)),
                    e.getKey() + " content hash through the link");
        }
        try (Stream<Path> blobs = Files.list(repoDir().resolve("blobs"))) {
            assertEquals(etags, blobs.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new)),
                    "exactly one blob per file, no .incomplete");
        }
        try (Stream<Path> entries = Files.list(snapshot)) {
            assertEquals(new TreeSet<>(expected.keySet()), entries.map(p -> p.getFileName().toString())
                    .collect(Collectors.toCollection(TreeSet::new)), "no temporary link files in the snapshot");
        }
    }

    /** Each content went over the wire once: one hub GET per small file, one storage GET per LFS blob. */
    private void assertEachContentFetchedOnce() {
        List<MockHub.Request> requests = hub.requests();
        for (Map.Entry<String, byte[]> e : expected.entrySet()) {
            long gets;
            if (lfsFiles.contains(e.getKey())) {
                String path = "/lfs/" + MockHub.sha256(e.getValue());
                gets = requests.stream().filter(r -> r.server().equals("storage") && r.path().equals(path)).count();
            } else {
                gets = requests.stream().filter(r -> r.server().equals("hub") && r.method().equals("GET")
                        && r.path().endsWith("/" + e.getKey())).count();
            }
            assertEquals(1, gets, e.getKey() + " content downloads; requests: " + requests);
        }
    }
}
