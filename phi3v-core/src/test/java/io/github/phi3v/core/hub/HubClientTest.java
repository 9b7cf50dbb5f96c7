package io.github.phi3v.core.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.core.runtime.RecordingLoggerFinder;

/** The hub client against {@link MockHub} on loopback; every test is bounded by a timeout. */
@Timeout(60)
class HubClientTest {

    private static final String REPO = MockHub.REPO;
    private static final String COMMIT = MockHub.COMMIT;

    @TempDir
    Path cache;

    private MockHub hub;
    private byte[] weights;

    @BeforeEach
    void startHub() throws IOException {
        weights = new byte[300_000];
        new Random(7).nextBytes(weights);
        hub = MockHub.smallModel(weights);
    }

    @AfterEach
    void stopHub() {
        hub.close();
    }

    private HubConfig config() {
        return HubConfig.fromEnvironment(Map.of("HF_HUB_CACHE", cache.toString(), "HF_ENDPOINT",
                hub.endpoint().toString(), "HOME", cache.resolve("home").toString()))
                .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(10));
    }

    private Path repoDir() {
        return cache.resolve("models--acme--tiny-vision");
    }

    /** Records every progress callback. */
    private static final class Recorder implements ProgressListener {
        final Map<String, List<long[]>> progress = new ConcurrentHashMap<>();
        final List<String> cached = new ArrayList<>();
        final List<String> resumed = new ArrayList<>();

        @Override
        public void progress(String file, long done, long total) {
            progress.computeIfAbsent(file, k -> new ArrayList<>()).add(new long[] {done, total});
        }

        @Override
        public synchronized void started(String file, long total, long resumeFrom) {
            if (resumeFrom > 0) {
                resumed.add(file + "@" + resumeFrom);
            }
        }

        @Override
        public synchronized void completed(String file, Path path, boolean fromCache) {
            if (fromCache) {
                cached.add(file);
            }
        }
    }

    @Test
    void freshDownloadBuildsThePythonCacheLayout() throws IOException {
        Recorder rec = new Recorder();
        ModelSnapshot snap = new HubClient(config()).resolveModel(REPO, "main", rec);

        assertEquals(COMMIT, snap.commit());
        assertEquals(repoDir().resolve("snapshots").resolve(COMMIT), snap.directory());
        assertEquals(List.of("config.json", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
                "model.safetensors"), snap.files());
        assertEquals(COMMIT, Files.readString(repoDir().resolve("refs/main")));
        for (String f : snap.files()) {
            Path p = snap.directory().resolve(f);
            assertArrayEquals(hub.content(f), Files.readAllBytes(p), f);
            assertTrue(Files.isSymbolicLink(p), f + " is a link into blobs/");
            String etag = f.equals("model.safetensors") ? MockHub.sha256(weights) : MockHub.gitBlobId(hub.content(f));
            assertEquals(Path.of("../../blobs/" + etag), Files.readSymbolicLink(p), f);
        }
        // The optional file that does not exist is remembered the way Python does.
        assertTrue(Files.exists(repoDir().resolve(".no_exist").resolve(COMMIT).resolve("special_tokens_map.json")));
        assertTrue(Files.exists(repoDir().resolve(".no_exist").resolve(COMMIT).resolve(
                HubClient.WEIGHTS_INDEX)));
        try (Stream<Path> blobs = Files.list(repoDir().resolve("blobs"))) {
            assertTrue(blobs.noneMatch(p -> p.toString().endsWith(".incomplete")));
        }
        List<long[]> prog = rec.progress.get("model.safetensors");
        assertEquals(weights.length, prog.get(prog.size() - 1)[0]);
        assertEquals(weights.length, prog.get(prog.size() - 1)[1]);
        // The LFS redirect goes to the storage host, which never sees a token (none configured here).
        assertTrue(hub.requests().stream().anyMatch(r -> r.server().equals("storage")));
    }

    @Test
    void cachedModelNeedsZeroRequests() {
        ModelSnapshot first = new HubClient(config()).resolveModel(REPO, "main", ProgressListener.NONE);
        hub.clearRequests();
        Recorder rec = new Recorder();
        ModelSnapshot again = new HubClient(config()).resolveModel(REPO, "main", rec);
        assertEquals(List.of(), hub.requests());
        assertEquals(first, again);
        assertEquals(first.files(), rec.cached);
        // Offline mode is satisfied by the same cache.
        ModelSnapshot offline = new HubClient(config().withOffline(true)).resolveModel(REPO, "main", rec);
        assertEquals(first.directory(), offline.directory());
        assertEquals(List.of(), hub.requests());
    }

    @Test
    void downloadsAndResolutionsAreLoggedAtDebug() {
        RecordingLoggerFinder.clear();
        ModelSnapshot first = new HubClient(config()).resolveModel(REPO, "main", ProgressListener.NONE);
        List<String> fresh = hubDebugMessages();
        assertEquals(first.files().size(), fresh.stream().filter(m -> m.startsWith("downloaded: ")).count(),
                fresh.toString());
        assertTrue(fresh.contains("downloaded: config.json of " + REPO + " (revision main) ("
                + first.directory().resolve("config.json").toFile().length() + " bytes)"), fresh.toString());
        String resolved = "resolved " + REPO + "@main (commit " + COMMIT + ") to " + first.directory() + ": "
                + first.files().size() + " files in ";
        assertEquals(1, fresh.stream().filter(m -> m.startsWith(resolved)).count(), fresh.toString());

        RecordingLoggerFinder.clear();
        new HubClient(config()).resolveModel(REPO, "main", ProgressListener.NONE);
        List<String> cached = hubDebugMessages();
        assertEquals(1, cached.size(), "from the cache: only the resolution is logged: " + cached);
        assertTrue(cached.get(0).startsWith("resolved " + REPO + "@main"), cached.toString());
    }

    private static List<String> hubDebugMessages() {
        return RecordingLoggerFinder.records().stream()
                .filter(e -> e.logger().equals(HubClient.class.getName()) && e.level() == System.Logger.Level.DEBUG)
                .map(RecordingLoggerFinder.Entry::message).toList();
    }

    @Test
    void interruptedTransferResumesWithRange() throws IOException {
        hub.interruptNext(1);
        HubClient oneShot = new HubClient(config().withMaxAttempts(1));
        HubException e = assertThrows(HubException.class, () -> oneShot.resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.NETWORK, e.reason());
        assertTrue(e.getMessage().contains("interrupted after " + weights.length / 2 + " of " + weights.length
                + " bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("run again to resume"), e.getMessage());
        String sha = MockHub.sha256(weights);
        Path part = repoDir().resolve("blobs").resolve(sha + ".incomplete");
        assertEquals(weights.length / 2, Files.size(part));
        assertFalse(Files.exists(repoDir().resolve("blobs").resolve(sha)), "no complete-looking blob");
        assertFalse(Files.exists(repoDir().resolve("snapshots").resolve(COMMIT).resolve("model.safetensors")));

        hub.clearRequests();
        Recorder rec = new Recorder();
        ModelSnapshot snap = oneShot.resolveModel(REPO, "main", rec);
        assertArrayEquals(weights, Files.readAllBytes(snap.directory().resolve("model.safetensors")));
        assertEquals(List.of("model.safetensors@" + weights.length / 2), rec.resumed);
        List<MockHub.Request> storage = hub.requests().stream().filter(r -> r.server().equals("storage")).toList();
        assertEquals(1, storage.size());
        assertEquals("bytes=" + weights.length / 2 + "-", storage.get(0).range());
        assertFalse(Files.exists(part));
    }

    @Test
    void interruptionIsResumedWithinOneCallWhenAttemptsRemain() throws IOException {
        hub.interruptNext(2);
        ModelSnapshot snap = new HubClient(config().withMaxAttempts(3)).resolveModel(REPO, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(snap.directory().resolve("model.safetensors")));
        List<String> ranges = hub.requests().stream().filter(r -> r.server().equals("storage"))
                .map(MockHub.Request::range).toList();
        int half = weights.length / 2;
        int quarter = (weights.length - half) / 2;
        assertEquals(java.util.Arrays.asList(null, "bytes=" + half + "-", "bytes=" + (half + quarter) + "-"), ranges);
    }

    @Test
    void stalledTransferTimesOutAndResumes() throws IOException {
        hub.stallNext(1);
        HubClient impatient = new HubClient(config().withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(1))
                .withMaxAttempts(2));
        long t0 = System.nanoTime();
        ModelSnapshot snap = impatient.resolveModel(REPO, "main", null);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(seconds < 4.5, "gave up on the stalled body after the 1 s read timeout, took " + seconds + " s");
        assertArrayEquals(weights, Files.readAllBytes(snap.directory().resolve("model.safetensors")));
        List<String> ranges = hub.requests().stream().filter(r -> r.server().equals("storage"))
                .map(MockHub.Request::range).toList();
        assertEquals(java.util.Arrays.asList(null, "bytes=" + weights.length / 2 + "-"), ranges);
    }

    @Test
    void serverWithoutRangeSupportRestartsTheFile() throws IOException {
        hub.interruptNext(1);
        HubClient oneShot = new HubClient(config().withMaxAttempts(1));
        assertThrows(HubException.class, () -> oneShot.resolveModel(REPO, "main", null));
        hub.ignoreRange(true);
        ModelSnapshot snap = oneShot.resolveModel(REPO, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(snap.directory().resolve("model.safetensors")));
    }

    @Test
    void partialFileLongerThanTheRemoteIsDiscarded() throws IOException {
        String sha = MockHub.sha256(weights);
        Path part = repoDir().resolve("blobs").resolve(sha + ".incomplete");
        Files.createDirectories(part.getParent());
        Files.write(part, new byte[weights.length + 10]);
        ModelSnapshot snap = new HubClient(config()).resolveModel(REPO, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(snap.directory().resolve("model.safetensors")));
        assertFalse(Files.exists(part));
    }

    @Test
    void concurrentResolvesShareOneDownload() throws Exception {
        hub.slowStorage(true);
        HubClient a = new HubClient(config());
        HubClient b = new HubClient(config());
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.Future<ModelSnapshot> fa = pool.submit(() -> {
                go.await();
                return a.resolveModel(REPO, "main", null);
            });
            java.util.concurrent.Future<ModelSnapshot> fb = pool.submit(() -> {
                go.await();
                return b.resolveModel(REPO, "main", null);
            });
            go.countDown();
            ModelSnapshot sa = fa.get(30, java.util.concurrent.TimeUnit.SECONDS);
            ModelSnapshot sb = fb.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(sa, sb);
            assertArrayEquals(weights, Files.readAllBytes(sa.directory().resolve("model.safetensors")));
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, hub.requests().stream().filter(r -> r.server().equals("storage")).count(),
                "the second resolver waited for the first download instead of fetching the blob again");
    }

    @Test
    void sha256MismatchIsRejectedAndNothingCompleteLooking() throws IOException {
        hub.corruptBlobs(true);
        HubClient client = new HubClient(config());
        HubException e = assertThrows(HubException.class, () -> client.resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.INTEGRITY, e.reason());
        String sha = MockHub.sha256(weights);
        assertTrue(e.getMessage().startsWith("sha256 of model.safetensors of acme/tiny-vision (revision main): "
                + "expected " + sha + " (the hub's X-Linked-Etag), found "), e.getMessage());
        assertTrue(e.getMessage().endsWith("the corrupt download was deleted, run again"), e.getMessage());
        try (Stream<Path> blobs = Files.list(repoDir().resolve("blobs"))) {
            assertTrue(blobs.noneMatch(p -> p.getFileName().toString().startsWith(sha)), "no blob, no .incomplete");
        }
        assertFalse(Files.exists(repoDir().resolve("snapshots").resolve(COMMIT).resolve("model.safetensors")));

        hub.corruptBlobs(false);
        ModelSnapshot snap = client.resolveModel(REPO, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(snap.directory().resolve("model.safetensors")));
    }

    @Test
    void offlineModeNamesTheMissingFile() throws IOException {
        HubClient offline = new HubClient(config().withOffline(true));
        HubException e = assertThrows(HubException.class, () -> offline.resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.OFFLINE_NOT_CACHED, e.reason());
        assertEquals("HF_HUB_OFFLINE is set and config.json of acme/tiny-vision (revision main) is not in the cache "
                + repoDir() + ": run once with network access (or unset HF_HUB_OFFLINE) to download it",
                e.getMessage());

        ModelSnapshot snap = new HubClient(config()).resolveModel(REPO, "main", null);
        Files.delete(snap.directory().resolve("model.safetensors"));
        Files.delete(snap.directory().resolve("tokenizer.json"));
        hub.clearRequests();
        e = assertThrows(HubException.class, () -> offline.resolveModel(REPO, "main", null));
        assertTrue(e.getMessage().startsWith("HF_HUB_OFFLINE is set and tokenizer.json of acme/tiny-vision"),
                e.getMessage());
        Files.copy(Path.of(snap.directory().toString(), "config.json"), snap.directory().resolve("tokenizer.json"));
        e = assertThrows(HubException.class, () -> offline.resolveModel(REPO, "main", null));
        assertTrue(e.getMessage().startsWith("HF_HUB_OFFLINE is set and model.safetensors (or "
                + "model.safetensors.index.json with its shards) of acme/tiny-vision"), e.getMessage());
        assertEquals(List.of(), hub.requests(), "offline mode never touches the network");
    }

    @Test
    void unauthorizedMentionsHfToken() throws IOException {
        hub.requireToken("hf_good");
        HubException e = assertThrows(HubException.class,
                () -> new HubClient(config()).resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.UNAUTHORIZED, e.reason());
        assertTrue(e.getMessage().startsWith("HTTP 401 for config.json of acme/tiny-vision (revision main)"),
                e.getMessage());
        assertTrue(e.getMessage().contains("set HF_TOKEN"), e.getMessage());
        assertTrue(e.getMessage().contains("(hub says: Invalid credentials in Authorization header)"), e.getMessage());

        HubException wrong = assertThrows(HubException.class,
                () -> new HubClient(config().withToken("hf_bad").withAllowTokenOverHttp(true))
                        .resolveModel(REPO, "main", null));
        assertTrue(wrong.getMessage().contains("the token from HF_TOKEN / $HF_HOME/token was refused"),
                wrong.getMessage());

        // The token file under HF_HOME is found, sent to the hub, and never to the storage host.
        Path hfHome = cache.resolve("hf-home");
        Files.createDirectories(hfHome);
        Files.writeString(hfHome.resolve("token"), "hf_good\n");
        HubConfig withFile = HubConfig.fromEnvironment(Map.of("HF_HOME", hfHome.toString(), "HF_HUB_CACHE",
                cache.toString(), "HF_ENDPOINT", hub.endpoint().toString()));
        assertEquals("hf_good", withFile.token());
        hub.clearRequests();
        // The loopback server is plain HTTP: sending the token there needs the explicit opt-in.
        ModelSnapshot snap = new HubClient(withFile.withAllowTokenOverHttp(true)).resolveModel(REPO, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(snap.directory().resolve("model.safetensors")));
        for (MockHub.Request r : hub.requests()) {
            assertEquals(r.server().equals("hub") ? "Bearer hf_good" : null, r.authorization(), r.toString());
        }
    }

    @Test
    void revisionPinningUsesTheCommitAndWritesNoRef() throws IOException {
        ModelSnapshot snap = new HubClient(config()).resolveModel(REPO, COMMIT, null);
        assertEquals(COMMIT, snap.commit());
        assertFalse(Files.exists(repoDir().resolve("refs")));
        assertTrue(hub.requests().stream().filter(r -> r.server().equals("hub"))
                .allMatch(r -> r.path().contains("/resolve/" + COMMIT + "/")));
        HubException e = assertThrows(HubException.class,
                () -> new HubClient(config()).resolveModel(REPO, "v9", null));
        assertEquals(HubException.Reason.NOT_FOUND, e.reason());
        assertTrue(e.getMessage().startsWith("revision v9 of acme/tiny-vision does not exist on "), e.getMessage());
        HubException repo = assertThrows(HubException.class,
                () -> new HubClient(config()).resolveModel("acme/other", "main", null));
        assertTrue(repo.getMessage().startsWith("repository acme/other does not exist on "), repo.getMessage());
        assertTrue(repo.getMessage().endsWith("; if it is private or gated, set HF_TOKEN"), repo.getMessage());
    }

    @Test
    void shardedWeightsFollowTheIndex() throws IOException {
        byte[] a = new byte[70_000];
        byte[] b = new byte[50_000];
        new Random(1).nextBytes(a);
        new Random(2).nextBytes(b);
        hub.file("model-00001-of-00002.safetensors", a, true)
                .file("model-00002-of-00002.safetensors", b, true)
                .text(HubClient.WEIGHTS_INDEX, "{\"metadata\":{},\"weight_map\":{\"x\":\"model-00001-of-00002."
                        + "safetensors\",\"y\":\"model-00002-of-00002.safetensors\",\"z\":\"model-00001-of-00002."
                        + "safetensors\"}}");
        ModelSnapshot snap = new HubClient(config()).resolveModel(REPO, "main", null);
        assertEquals(List.of("config.json", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
                HubClient.WEIGHTS_INDEX, "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"),
                snap.files());
        assertArrayEquals(a, Files.readAllBytes(snap.directory().resolve("model-00001-of-00002.safetensors")));
        assertArrayEquals(b, Files.readAllBytes(snap.directory().resolve("model-00002-of-00002.safetensors")));
        assertFalse(Files.exists(snap.directory().resolve("model.safetensors")));
    }

    @Test
    void rejectsBadIdsBeforeAnyRequest() {
        HubClient client = new HubClient(config());
        assertThrows(IllegalArgumentException.class, () -> client.resolveModel("../etc", "main", null));
        assertThrows(IllegalArgumentException.class, () -> client.resolveModel("a--b/c", "main", null));
        assertThrows(IllegalArgumentException.class, () -> client.resolveFile(REPO, "main", "../x", null));
        assertEquals(List.of(), hub.requests());
    }

    @Test
    void environmentResolution() throws IOException {
        HubConfig d = HubConfig.fromEnvironment(Map.of("HOME", "/home/u"));
        assertEquals(Path.of("/home/u/.cache/huggingface/hub"), d.cacheDir());
        assertEquals(HubConfig.DEFAULT_ENDPOINT, d.endpoint());
        assertNull(d.token());
        assertFalse(d.offline());
        assertEquals(Path.of("/x/huggingface/hub"),
                HubConfig.fromEnvironment(Map.of("HOME", "/home/u", "XDG_CACHE_HOME", "/x")).cacheDir());
        assertEquals(Path.of("/hf/hub"), HubConfig.fromEnvironment(Map.of("HOME", "/home/u", "HF_HOME", "/hf"))
                .cacheDir());
        HubConfig all = HubConfig.fromEnvironment(Map.of("HOME", "/home/u", "HF_HOME", "/hf", "HF_HUB_CACHE", "/c",
                "HF_TOKEN", "hf_x", "HF_HUB_OFFLINE", "1", "HF_ENDPOINT", "http://127.0.0.1:9/"));
        assertEquals(Path.of("/c"), all.cacheDir());
        assertEquals("hf_x", all.token());
        assertTrue(all.offline());
        assertEquals("http://127.0.0.1:9", all.endpoint().toString());
        assertFalse(all.toString().contains("hf_x"), "the token is never printed");
        assertTrue(HubConfig.fromEnvironment(Map.of("HOME", "/h", "HF_HUB_OFFLINE", "true")).offline());
        assertFalse(HubConfig.fromEnvironment(Map.of("HOME", "/h", "HF_HUB_OFFLINE", "0")).offline());
        assertThrows(IllegalArgumentException.class, () -> HubConfig.fromEnvironment(Map.of("HOME", "/h",
                "HF_ENDPOINT", "ftp://x")));
        HubConfig t = HubConfig.fromEnvironment(Map.of("HOME", "/h", "HF_HUB_ETAG_TIMEOUT", "2.5",
                "HF_HUB_DOWNLOAD_TIMEOUT", "30"));
        assertEquals(Duration.ofMillis(2500), t.connectTimeout());
        assertEquals(Duration.ofSeconds(30), t.readTimeout());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> HubConfig.fromEnvironment(Map.of("HOME", "/h", "HF_HUB_DOWNLOAD_TIMEOUT", "soon")));
        assertEquals("HF_HUB_DOWNLOAD_TIMEOUT: expected a positive number of seconds, found 'soon'", bad.getMessage());
    }

    @Test
    void unreachableEndpointIsANetworkErrorAfterBoundedAttempts() throws IOException {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        HubClient client = new HubClient(config().withEndpoint(java.net.URI.create("http://127.0.0.1:" + port))
                .withMaxAttempts(2));
        HubException e = assertThrows(HubException.class, () -> client.resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.NETWORK, e.reason());
        assertTrue(e.getMessage().startsWith("cannot reach http://127.0.0.1:" + port + " for config.json of "
                + "acme/tiny-vision (revision main) after 2 attempts: java.net.ConnectException"), e.getMessage());
    }

    // ---- download size cap (HubConfig.maxFileBytes) --------------------------------------------

    @Test
    void maxFileBytesDefaultsTo20GiBAndIsValidated() {
        HubConfig c = HubConfig.fromEnvironment(Map.of("HOME", "/h"));
        assertEquals(20L << 30, c.maxFileBytes());
        assertEquals(HubConfig.DEFAULT_MAX_FILE_BYTES, c.maxFileBytes());
        assertEquals(1234, c.withMaxFileBytes(1234).maxFileBytes());
        assertEquals(1234, c.withMaxFileBytes(1234).withOffline(true).withMaxAttempts(2).maxFileBytes(),
                "the with-copies keep the cap");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> c.withMaxFileBytes(0));
        assertEquals("hub maxFileBytes: expected >= 1, found 0", bad.getMessage());
        assertTrue(c.toString().contains("maxFileBytes=21474836480"), c.toString());
    }

    /** X-Linked-Size over the cap: refused before any byte is requested from storage. */
    @Test
    void announcedSizeOverTheCapIsRefusedBeforeTheTransfer() throws IOException {
        HubClient capped = new HubClient(config().withMaxFileBytes(weights.length - 1));
        HubException e = assertThrows(HubException.class, () -> capped.resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.TOO_LARGE, e.reason());
        assertEquals("model.safetensors of acme/tiny-vision (revision main) is larger than the download limit "
                + "maxFileBytes " + (weights.length - 1) + ": the hub announces " + weights.length + " bytes "
                + "(X-Linked-Size / Content-Length); nothing was kept. Raise it with HubConfig.withMaxFileBytes(bytes) "
                + "if the file is expected to be this large", e.getMessage());
        assertTrue(hub.requests().stream().noneMatch(r -> r.server().equals("storage")), "no download started");
        assertNoBlobFiles();

        ModelSnapshot exact = new HubClient(config().withMaxFileBytes(weights.length)).resolveModel(REPO, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(exact.directory().resolve("model.safetensors")),
                "a file of exactly maxFileBytes is allowed");
    }

    /** No announced size, but the download's own Content-Length is over the cap: refused before writing. */
    @Test
    void downloadContentLengthOverTheCapIsRefused() throws IOException {
        hub.hideLinkedSize(true);
        HubClient capped = new HubClient(config().withMaxFileBytes(100_000));
        HubException e = assertThrows(HubException.class, () -> capped.resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.TOO_LARGE, e.reason());
        assertTrue(e.getMessage().contains("maxFileBytes 100000: the download's Content-Length gives "
                + weights.length + " bytes"), e.getMessage());
        assertEquals(1, hub.requests().stream().filter(r -> r.server().equals("storage")).count(), "no retries");
        assertNoBlobFiles();
    }

    /** Neither header: the body is cut off at the cap while streaming and the partial file deleted. */
    @Test
    void streamedBodyOverTheCapIsCutOffAndDeleted() throws IOException {
        hub.hideLinkedSize(true);
        hub.chunkedStorage(true);
        HubClient capped = new HubClient(config().withMaxFileBytes(100_000));
        HubException e = assertThrows(HubException.class, () -> capped.resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.TOO_LARGE, e.reason());
        assertTrue(e.getMessage().contains("larger than the download limit maxFileBytes 100000: at least "),
                e.getMessage());
        assertNoBlobFiles();

        hub.clearRequests();
        ModelSnapshot ok = new HubClient(config()).resolveModel(REPO, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(ok.directory().resolve("model.safetensors")),
                "without announced sizes the default cap still downloads the file");
    }

    /** Neither a blob nor a partial download of the weights is left in the cache. */
    private void assertNoBlobFiles() throws IOException {
        Path blobs = repoDir().resolve("blobs");
        String sha = MockHub.sha256(weights);
        assertFalse(Files.exists(blobs.resolve(sha)), "no blob");
        assertFalse(Files.exists(blobs.resolve(sha + ".incomplete")), "no partial file");
        assertFalse(Files.exists(repoDir().resolve("snapshots").resolve(COMMIT).resolve("model.safetensors")));
    }
}
