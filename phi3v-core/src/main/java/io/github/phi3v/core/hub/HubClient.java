package io.github.phi3v.core.hub;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.github.phi3v.core.hub.HubException.Reason;

/**
 * Resolves models and files through the Hugging Face hub cache: what is cached is used without any
 * network request; what is missing is downloaded from {@code {endpoint}/{repo}/resolve/{revision}/{file}}
 * into the cache, resumably and verified, then linked into the snapshot folder.
 *
 * <p>A branch or tag whose ref is cached is not re-checked (delete {@code refs/<branch>} or pass a commit
 * to move on). Once the first file fixes the commit, every further file of the same call is requested at
 * that commit, so a snapshot never mixes revisions. Thread-safe; different instances may share a cache.
 */
public final class HubClient {

    private static final System.Logger LOG = System.getLogger(HubClient.class.getName());

    /** Small files of a Phi-3-V model folder, in download order. */
    public static final List<String> MODEL_FILES = List.of("config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "preprocessor_config.json");
    /** Files of {@link #MODEL_FILES} a model may lack. */
    public static final Set<String> OPTIONAL_FILES = Set.of("special_tokens_map.json");
    /** The weights index of a sharded model. */
    public static final String WEIGHTS_INDEX = "model.safetensors.index.json";
    /** The weights of a single-file model. */
    public static final String WEIGHTS_SINGLE = "model.safetensors";

    private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final int MAX_REDIRECTS = 10;

    private final HubConfig config;
    private final HubCache cache;
    private final HttpClient http;
    private final DownloadSink.Writer writer;

    /**
     * Creates a client; no network activity until a file is missing from the cache.
     *
     * @param config endpoint, cache, token, offline mode and timeouts
     */
    public HubClient(HubConfig config) {
        this(config, DownloadSink.Writer.CHANNEL);
    }

    /** A client whose downloads put their bytes on disk through {@code writer} (fault injection in tests). */
    HubClient(HubConfig config, DownloadSink.Writer writer) {
        this.config = config;
        this.writer = writer;
        this.cache = new HubCache(config.cacheDir());
        this.http = HttpClient.newBuilder()
                .connectTimeout(config.connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER) // followed by hand: the token must not leave the hub
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    /**
     * The settings of this client.
     *
     * @return the configuration given at construction
     */
    public HubConfig config() {
        return config;
    }

    /**
     * Resolves a model at its {@code main} branch, without progress reporting.
     *
     * @param repoId e.g. {@code microsoft/Phi-3-vision-128k-instruct}
     * @return the snapshot folder with config, tokenizer, preprocessor and weights
     * @throws HubException if a required file cannot be obtained
     */
    public ModelSnapshot resolveModel(String repoId) {
        return resolveModel(repoId, "main", ProgressListener.NONE);
    }

    /**
     * Resolves a model folder: {@link #MODEL_FILES} plus the weights ({@code model.safetensors.index.json}
     * and every shard it names, or {@code model.safetensors}), each from the cache or downloaded.
     *
     * @param repoId e.g. {@code microsoft/Phi-3-vision-128k-instruct}
     * @param revision a branch, tag or 40-hex commit
     * @param listener progress callbacks
     * @return the snapshot folder and the files in it
     * @throws HubException if a required file cannot be obtained (offline and not cached, unauthorized,
     *     missing, corrupt or network failure)
     */
    public ModelSnapshot resolveModel(String repoId, String revision, ProgressListener listener) {
        long t0 = System.nanoTime();
        Session s = session(repoId, revision, listener);
        List<String> files = new ArrayList<>();
        for (String f : MODEL_FILES) {
            if (fetch(s, f, !OPTIONAL_FILES.contains(f)).isPresent()) {
                files.add(f);
            }
        }
        Optional<Path> index = fetch(s, WEIGHTS_INDEX, false);
        if (index.isPresent()) {
            files.add(WEIGHTS_INDEX);
            for (String shard : shardsOf(index.get())) {
                fetch(s, shard, true);
                files.add(shard);
            }
        } else {
            if (config.offline() && !cachedHere(s, WEIGHTS_SINGLE)) {
                throw offline(s, WEIGHTS_SINGLE + " (or " + WEIGHTS_INDEX + " with its shards)");
            }
            fetch(s, WEIGHTS_SINGLE, true);
            files.add(WEIGHTS_SINGLE);
        }
        Path dir = cache.snapshotDir(repoId, s.commit);
        LOG.log(System.Logger.Level.DEBUG, () -> "resolved " + repoId + "@" + revision + " (commit " + s.commit + ") to "
                + dir + ": " + files.size() + " files in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        return new ModelSnapshot(repoId, revision, s.commit, dir, files);
    }

    /**
     * The model folder for what a user typed: an existing directory is used as it is (no network, no
     * cache); anything else is a hub model id resolved with {@link #resolveModel(String, String,
     * ProgressListener)}.
     *
     * @param modelIdOrDirectory a local model folder or a hub id such as
     *     {@code microsoft/Phi-3-vision-128k-instruct}
     * @param revision the revision for a hub id (branch, tag or commit); ignored for a folder
     * @param listener progress callbacks for a download
     * @return a folder holding config.json, the tokenizer files and the weights
     * @throws HubException if a hub model cannot be obtained
     * @throws IllegalArgumentException if the text is neither a folder nor a valid model id
     */
    public Path modelDirectory(String modelIdOrDirectory, String revision, ProgressListener listener) {
        Path local = localDirectory(modelIdOrDirectory);
        if (local != null) {
            return local;
        }
        if (!REPO_ID.matcher(modelIdOrDirectory).matches()) {
            throw new IllegalArgumentException("model: expected an existing model folder or a hub id 'org/name', "
                    + "found '" + modelIdOrDirectory + "' (no such folder)");
        }
        return resolveModel(modelIdOrDirectory, revision, listener).directory();
    }

    private static Path localDirectory(String text) {
        try {
            Path p = Path.of(text);
            return Files.isDirectory(p) ? p : null;
        } catch (java.nio.file.InvalidPathException e) {
            return null;
        }
    }

    /**
     * Resolves one file of a repository.
     *
     * @param repoId the repository
     * @param revision a branch, tag or 40-hex commit
     * @param file the path inside the repository
     * @param listener progress callbacks
     * @return the file inside its snapshot folder
     * @throws HubException if it cannot be obtained
     */
    public Path resolveFile(String repoId, String revision, String file, ProgressListener listener) {
        return fetch(session(repoId, revision, listener), file, true).orElseThrow();
    }

    // ---- per-call state ------------------------------------------------------------------------

    /** One resolve call: the repository, the requested revision and, once known, its commit. */
    private static final class Session {
        final String repoId;
        final String revision;
        final ProgressListener listener;
        String commit;

        Session(String repoId, String revision, ProgressListener listener, String commit) {
            this.repoId = repoId;
            this.revision = revision;
            this.listener = listener;
            this.commit = commit;
        }

        String describe(String file) {
            return file + " of " + repoId + " (revision " + revision + ")";
        }
    }

    private Session session(String repoId, String revision, ProgressListener listener) {
        if (repoId == null || !REPO_ID.matcher(repoId).matches() || repoId.contains("--") || repoId.contains("..")) {
            throw new IllegalArgumentException("model id: expected 'org/name' (letters, digits, '.', '_', '-'), "
                    + "found '" + repoId + "'");
        }
        if (revision == null || revision.isBlank() || revision.contains("..") || revision.startsWith("/")) {
            throw new IllegalArgumentException("revision: expected a branch, tag or commit, found '" + revision + "'");
        }
        String commit = HubCache.COMMIT.matcher(revision).matches() ? revision : cache.readRef(repoId, revision);
        return new Session(repoId, revision, listener == null ? ProgressListener.NONE : listener, commit);
    }

    private boolean cachedHere(Session s, String file) {
        return s.commit != null && Files.exists(cache.snapshotFile(s.repoId, s.commit, file));
    }

    private HubException offline(Session s, String file) {
        return new HubException(Reason.OFFLINE_NOT_CACHED, "HF_HUB_OFFLINE is set and " + s.describe(file)
                + " is not in the cache " + cache.repoDir(s.repoId) + ": run once with network access (or unset "
                + "HF_HUB_OFFLINE) to download it");
    }

    // ---- one file ------------------------------------------------------------------------------

    /** The file from the cache or the hub; empty if it does not exist upstream and is not required. */
    private Optional<Path> fetch(Session s, String file, boolean required) {
        validateFile(file);
        if (s.commit != null && isCachedAnswer(s, file)) {
            return cachedAnswer(s, file, required);
        }
        if (config.offline()) {
            if (!required) {
                return Optional.empty(); // cannot know whether it exists; the caller decides
            }
            throw offline(s, file);
        }
        try {
            FileMetadata meta = head(s, file);
            if (meta.missing()) {
                String commit = s.commit != null ? s.commit : meta.commit();
                if (commit != null) {
                    if (s.commit == null) {
                        pin(s, commit);
                    }
                    cache.markMissing(s.repoId, commit, file);
                }
                if (required) {
                    throw new HubException(Reason.NOT_FOUND, s.describe(file) + " does not exist on "
                            + config.endpoint() + " (HTTP 404)");
                }
                return Optional.empty();
            }
            if (s.commit == null) {
                pin(s, meta.commit());
                if (isCachedAnswer(s, file)) {
                    return cachedAnswer(s, file, required);
                }
            }
            Path blob = cache.blob(s.repoId, meta.etag());
            boolean complete = isComplete(blob, meta);
            // Before any byte is written: a size the hub announces over the cap is refused outright.
            if (!complete && meta.size() > config.maxFileBytes()) {
                throw tooLarge(s.describe(file), "the hub announces " + meta.size() + " bytes (X-Linked-Size /"
                        + " Content-Length)", config.maxFileBytes());
            }
            Path linked = obtainAndLink(s, file, meta, blob);
            LOG.log(System.Logger.Level.DEBUG, () -> (complete ? "cache hit: " : "downloaded: ") + s.describe(file)
                    + " (" + meta.size() + " bytes)");
            s.listener.completed(file, linked, complete);
            return Optional.of(linked);
        } catch (IOException e) {
            if (DiskFull.is(e)) {
                throw DiskFull.error(s.describe(file), cache.repoDir(s.repoId), -1, e, "nothing incomplete was kept");
            }
            throw new HubException(Reason.CACHE, "cannot write " + s.describe(file) + " into the cache "
                    + cache.repoDir(s.repoId) + ": " + e, e);
        }
    }

    /** Whether the snapshot of the known commit has the file, or a marker saying it does not exist. */
    private boolean isCachedAnswer(Session s, String file) {
        return Files.exists(cache.snapshotFile(s.repoId, s.commit, file))
                || Files.exists(cache.noExistMarker(s.repoId, s.commit, file));
    }

    /** The cached file, or the cached "does not exist" (an error when the file is required). */
    private Optional<Path> cachedAnswer(Session s, String file, boolean required) {
        Path p = cache.snapshotFile(s.repoId, s.commit, file);
        if (Files.exists(p)) {
            s.listener.completed(file, p, true);
            return Optional.of(p);
        }
        if (required) {
            throw new HubException(Reason.NOT_FOUND, s.describe(file) + " does not exist at commit " + s.commit
                    + " (cached answer of the hub in " + cache.repoDir(s.repoId).resolve(".no_exist") + ")");
        }
        return Optional.empty();
    }

    private void pin(Session s, String commit) throws IOException {
        s.commit = commit;
        if (!commit.equals(s.revision)) {
            cache.writeRef(s.repoId, s.revision, commit);
        }
    }

    private static void validateFile(String file) {
        if (file == null || file.isEmpty() || file.startsWith("/") || file.contains("\\")
                || List.of(file.split("/")).contains("..")) {
            throw new IllegalArgumentException("repository file: expected a relative path such as config.json, "
                    + "found '" + file + "'");
        }
    }

    private List<String> shardsOf(Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new HubException(Reason.INTEGRITY, index + ": expected a JSON safetensors index, found: " + e, e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new HubException(Reason.INTEGRITY, index + ": weight_map: expected an object {tensor: shard}, "
                    + "found " + (map == null ? "no value" : map.toString().length() > 60 ? "an empty or odd value"
                            : map.toString()));
        }
        Set<String> shards = new LinkedHashSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String shard = e.getValue().asText("");
            validateFile(shard);
            shards.add(shard);
        }
        return List.copyOf(shards);
    }

    // ---- HTTP ----------------------------------------------------------------------------------

    /** What a HEAD of the resolve URL says about a file. */
    private record FileMetadata(boolean missing, String commit, String etag, long size, URI location) {
    }

    private URI resolveUrl(Session s, String revision, String file) {
        StringBuilder path = new StringBuilder();
        for (String segment : file.split("/")) {
            path.append('/').append(encode(segment));
        }
        return URI.create(config.endpoint() + "/" + s.repoId + "/resolve/" + encode(revision) + path);
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private HttpRequest.Builder request(URI url) {
        HttpRequest.Builder b = HttpRequest.newBuilder(url)
                .timeout(config.readTimeout())
                .header("User-Agent", "phi3v-java")
                .header("Accept-Encoding", "identity"); // sizes and hashes are of the raw bytes
        // The token goes to the hub only, never to the storage host an LFS file redirects to.
        if (config.token() != null && sameOrigin(url, config.endpoint())) {
            if (!"https".equalsIgnoreCase(url.getScheme()) && !config.allowTokenOverHttp()) {
                // Refused before connecting: on plain HTTP anyone on the path can read the token.
                throw new HubException(Reason.TOKEN_OVER_HTTP, "refusing to send the hub token (HF_TOKEN / "
                        + "$HF_HOME/token) over plain HTTP to " + config.endpoint() + ": anyone on the network path "
                        + "could read it. Use an https:// endpoint (HF_ENDPOINT), remove the token, or allow it "
                        + "explicitly with HubConfig.withAllowTokenOverHttp(true) for a trusted mirror");
            }
            b.header("Authorization", "Bearer " + config.token());
        }
        return b;
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /**
     * HEAD of the resolve URL. Redirects to the same host (a renamed repository) are followed; the
     * redirect of an LFS file to its storage host is not — its headers already carry the metadata.
     */
    private FileMetadata head(Session s, String file) {
        String revision = s.commit != null ? s.commit : s.revision;
        URI url = resolveUrl(s, revision, file);
        String commitSeen = null; // a redirect may carry X-Repo-Commit that the final answer lacks
        for (int redirects = 0; redirects <= MAX_REDIRECTS; redirects++) {
            HttpResponse<Void> r = sendWithRetries(s, file,
                    request(url).method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
            int status = r.statusCode();
            HttpHeaders h = r.headers();
            if (commitHeader(h) != null) {
                commitSeen = commitHeader(h);
            }
            if (status >= 300 && status < 400) {
                URI location = location(url, h, s, file);
                if (h.firstValue("X-Linked-Etag").isPresent() || !sameOrigin(location, config.endpoint())) {
                    return metadata(s, file, h, location, commitSeen);
                }
                url = location;
                continue;
            }
            if (status >= 200 && status < 300) {
                return metadata(s, file, h, null, commitSeen);
            }
            if (status == 404) {
                String code = h.firstValue("X-Error-Code").orElse("EntryNotFound");
                if (code.equals("EntryNotFound")) {
                    return new FileMetadata(true, commitHeader(h) != null ? commitHeader(h) : commitSeen, null, -1,
                            null);
                }
                throw new HubException(Reason.NOT_FOUND, (code.equals("RevisionNotFound")
                        ? "revision " + s.revision + " of " + s.repoId + " does not exist"
                        : "repository " + s.repoId + " does not exist") + " on " + config.endpoint()
                        + " (HTTP 404 " + code + ") while resolving " + file + tokenHint());
            }
            throw httpError(s, file, status, h);
        }
        throw new HubException(Reason.PROTOCOL, "more than " + MAX_REDIRECTS + " redirects resolving "
                + s.describe(file));
    }

    private String tokenHint() {
        return config.token() == null ? "; if it is private or gated, set HF_TOKEN" : "";
    }

    private HubException httpError(Session s, String file, int status, HttpHeaders h) {
        if (status == 401 || status == 403) {
            return new HubException(Reason.UNAUTHORIZED, "HTTP " + status + " for " + s.describe(file) + " on "
                    + config.endpoint() + ": " + (config.token() == null
                            ? "no token was sent; set HF_TOKEN (or save a token in $HF_HOME/token) to a token "
                                    + "with access to this repository"
                            : "the token from HF_TOKEN / $HF_HOME/token was refused; check that it is valid and "
                                    + "has access to this repository")
                    + ", and accept the model's license on the hub if it is gated"
                    + h.firstValue("X-Error-Message").map(m -> " (hub says: " + m + ")").orElse(""));
        }
        return new HubException(Reason.PROTOCOL, "HTTP " + status + " for " + s.describe(file) + " on "
                + config.endpoint() + h.firstValue("X-Error-Message").map(m -> " (hub says: " + m + ")").orElse(""));
    }

    private FileMetadata metadata(Session s, String file, HttpHeaders h, URI location, String commitSeen) {
        String commit = commitHeader(h) != null ? commitHeader(h) : commitSeen;
        if (commit == null) {
            if (s.commit == null) {
                throw new HubException(Reason.PROTOCOL, "hub response for " + s.describe(file) + " lacks a valid "
                        + "X-Repo-Commit header; is HF_ENDPOINT (" + config.endpoint() + ") a Hugging Face hub?");
            }
            commit = s.commit;
        }
        String etag = h.firstValue("X-Linked-Etag").or(() -> h.firstValue("ETag")).map(HubClient::unquote)
                .orElseThrow(() -> new HubException(Reason.PROTOCOL, "hub response for " + s.describe(file)
                        + " lacks an ETag header; is HF_ENDPOINT (" + config.endpoint() + ") a Hugging Face hub?"));
        long size = h.firstValue("X-Linked-Size").or(() -> h.firstValue("Content-Length"))
                .map(HubClient::parseLong).orElse(-1L);
        return new FileMetadata(false, commit, etag, size, location);
    }

    private static String commitHeader(HttpHeaders h) {
        return h.firstValue("X-Repo-Commit").map(String::strip).filter(c -> HubCache.COMMIT.matcher(c).matches())
                .orElse(null);
    }

    private static String unquote(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) {
            e = e.substring(1, e.length() - 1);
        }
        return e;
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private URI location(URI base, HttpHeaders h, Session s, String file) {
        String loc = h.firstValue("Location").orElseThrow(() -> new HubException(Reason.PROTOCOL,
                "redirect without a Location header for " + s.describe(file)));
        URI u = base.resolve(loc);
        if (!"http".equalsIgnoreCase(u.getScheme()) && !"https".equalsIgnoreCase(u.getScheme())) {
            throw new HubException(Reason.PROTOCOL, "redirect to a non-HTTP location '" + loc + "' for "
                    + s.describe(file));
        }
        return u;
    }

    /** Sends a bodiless request, retrying connection failures up to {@code maxAttempts} times. */
    private HttpResponse<Void> sendWithRetries(Session s, String file, HttpRequest req) {
        IOException last = null;
        for (int attempt = 1; attempt <= config.maxAttempts(); attempt++) {
            try {
                return http.send(req, HttpResponse.BodyHandlers.discarding());
            } catch (IOException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new HubException(Reason.NETWORK, "interrupted while resolving " + s.describe(file), e);
            }
        }
        throw new HubException(Reason.NETWORK, "cannot reach " + config.endpoint() + " for " + s.describe(file)
                + " after " + config.maxAttempts() + " attempts: " + last, last);
    }

    // ---- download ------------------------------------------------------------------------------

    private static boolean isComplete(Path blob, FileMetadata meta) throws IOException {
        return Files.isRegularFile(blob) && (meta.size() < 0 || Files.size(blob) == meta.size());
    }

    /**
     * Under the blob's lock (shared by threads and processes): downloads the blob unless it is complete
     * (another downloader may have finished it while we waited), then links it into the snapshot. The
     * link is made under the lock too, so no resolver can see the blob half-linked or race another's
     * link step into a dangling link.
     */
    private Path obtainAndLink(Session s, String file, FileMetadata meta, Path blob) throws IOException {
        Path part = blob.resolveSibling(blob.getFileName() + ".incomplete");
        Files.createDirectories(blob.getParent());
        Path lockPath = cache.lockFile(s.repoId, meta.etag());
        Files.createDirectories(lockPath.getParent());
        try (FileChannel lockChannel = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = awaitLock(lockChannel, lockPath, part, s, file);
            try {
                if (!isComplete(blob, meta)) {
                    download(s, file, meta, blob, part);
                }
                return cache.link(s.repoId, s.commit, file, blob);
            } finally {
                lock.release();
            }
        }
    }

    /**
     * Takes the blob's lock. If another downloader (thread or process) holds it, waits as long as its
     * partial file keeps growing; a holder silent for the read timeout is an error, so the wait is
     * bounded by the other download's progress.
     */
    private FileLock awaitLock(FileChannel ch, Path lockPath, Path part, Session s, String file) throws IOException {
        long lastSize = -1;
        long lastChange = System.nanoTime();
        while (true) {
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException sameJvm) {
                lock = null;
            }
            if (lock != null) {
                return lock;
            }
            long size = Files.exists(part) ? Files.size(part) : -1;
            if (size != lastSize) {
                lastSize = size;
                lastChange = System.nanoTime();
            } else if (System.nanoTime() - lastChange > config.readTimeout().toNanos()) {
                throw new HubException(Reason.CACHE, "another download of " + s.describe(file) + " holds the lock "
                        + lockPath + " but made no progress for " + config.readTimeout().toSeconds() + " s; if no "
                        + "other download is running, try again");
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new HubException(Reason.NETWORK, "interrupted while waiting for another download of "
                        + s.describe(file), e);
            }
        }
    }

    /**
     * Downloads into {@code <blob>.incomplete}, resuming what an earlier attempt left there, verifies
     * size and (for LFS files, whose etag is the sha256) the hash, then moves it to {@code <blob>}.
     * A full disk ends it at once (retrying cannot help) and deletes the partial file.
     */
    private void download(Session s, String file, FileMetadata meta, Path blob, Path part) throws IOException {
        URI url = meta.location() != null ? meta.location() : resolveUrl(s, s.commit, file);
        if (meta.size() >= 0) {
            long needed = meta.size() - Math.min(meta.size(), Files.exists(part) ? Files.size(part) : 0);
            long free = DiskFull.usableBytes(blob.getParent());
            if (free >= 0 && needed > free) {
                throw DiskFull.error(s.describe(file), blob.getParent(), needed, null, "nothing was downloaded");
            }
        }
        IOException last = null;
        for (int attempt = 1; attempt <= config.maxAttempts(); attempt++) {
            long have = Files.exists(part) ? Files.size(part) : 0;
            if (meta.size() >= 0 && have > meta.size()) {
                Files.delete(part);
                have = 0;
            }
            if (meta.size() >= 0 && have == meta.size() && have > 0) {
                break; // an earlier run got every byte but stopped before verifying
            }
            s.listener.started(file, meta.size(), have);
            try {
                transfer(s, file, url, part, have, meta.size());
                last = null;
                break;
            } catch (HubException e) {
                if (e.reason() == Reason.TOO_LARGE) {
                    Files.deleteIfExists(part);   // not resumable: whatever arrives next is over the cap too
                }
                throw e;
            } catch (IOException e) {
                if (DiskFull.is(e)) {
                    Files.deleteIfExists(part); // free what it took: the user must make room first anyway
                    throw DiskFull.error(s.describe(file), blob.getParent(), meta.size(), e,
                            "the partial download was deleted");
                }
                last = e; // keep the partial file: the next attempt (or run) resumes from it
            }
        }
        if (last != null) {
            long have = Files.exists(part) ? Files.size(part) : 0;
            throw new HubException(Reason.NETWORK, "download of " + s.describe(file) + " interrupted after "
                    + have + " of " + (meta.size() >= 0 ? meta.size() : "?") + " bytes (" + config.maxAttempts()
                    + " attempts; last error: " + last + "); run again to resume from " + part, last);
        }
        verify(s, file, meta, part);
        HubCache.moveAtomically(part, blob);
    }

    /** The refusal of a file over {@link HubConfig#maxFileBytes()}; {@code found} says how it was seen. */
    static HubException tooLarge(String what, String found, long max) {
        return new HubException(Reason.TOO_LARGE, what + " is larger than the download limit maxFileBytes "
                + max + ": " + found + "; nothing was kept. Raise it with HubConfig.withMaxFileBytes(bytes) if the"
                + " file is expected to be this large");
    }

    private void verify(Session s, String file, FileMetadata meta, Path part) throws IOException {
        long size = Files.size(part);
        if (meta.size() >= 0 && size != meta.size()) {
            Files.delete(part);
            throw new HubException(Reason.INTEGRITY, "size of " + s.describe(file) + ": expected " + meta.size()
                    + " bytes, found " + size + "; the download was deleted, run again");
        }
        if (SHA256.matcher(meta.etag()).matches()) {
            String actual = sha256(part);
            if (!actual.equals(meta.etag())) {
                Files.delete(part);
                throw new HubException(Reason.INTEGRITY, "sha256 of " + s.describe(file) + ": expected "
                        + meta.etag() + " (the hub's X-Linked-Etag), found " + actual
                        + "; the corrupt download was deleted, run again");
            }
        }
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0;) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * One GET of {@code url} (redirects followed by hand) appending to {@code part} from byte {@code have}
     * with an HTTP Range. The body is written by a subscriber on the client's thread while this thread
     * watches for stalls: no wait is unbounded.
     */
    private void transfer(Session s, String file, URI url, Path part, long have, long total) throws IOException {
        URI target = url;
        for (int redirects = 0; redirects <= MAX_REDIRECTS; redirects++) {
            HttpRequest.Builder b = request(target).GET();
            if (have > 0) {
                b.header("Range", "bytes=" + have + "-");
            }
            DownloadSink sink = new DownloadSink(part, have, total, file, s.listener, s.describe(file),
                    config.maxFileBytes(), writer);
            HttpResponse<Void> r = await(http.sendAsync(b.build(), sink::handle), sink);
            int status = r.statusCode();
            if (status >= 300 && status < 400) {
                target = location(target, r.headers(), s, file);
                continue;
            }
            if (status == 416) {
                Files.deleteIfExists(part); // our partial file does not fit the remote one: start over
                throw new IOException("HTTP 416: the partial download did not match; restarting");
            }
            if (status != 200 && status != 206) {
                throw httpError(s, file, status, r.headers());
            }
            sink.rethrow();
            return;
        }
        throw new HubException(Reason.PROTOCOL, "more than " + MAX_REDIRECTS + " redirects downloading "
                + s.describe(file));
    }

    private HttpResponse<Void> await(CompletableFuture<HttpResponse<Void>> future, DownloadSink sink)
            throws IOException {
        long limit = config.readTimeout().toNanos();
        try {
            while (true) {
                try {
                    return future.get(100, TimeUnit.MILLISECONDS);
                } catch (TimeoutException poll) {
                    HubException refused = sink.refusal();
                    if (refused != null) {
                        future.cancel(true);
                        sink.cancel();
                        throw refused;
                    }
                    IOException writeError = sink.error();
                    if (writeError != null) {
                        // The body was cancelled after a failed write: its future may never complete.
                        future.cancel(true);
                        sink.cancel();
                        throw writeError;
                    }
                    if (System.nanoTime() - sink.lastActivity() > limit) {
                        future.cancel(true);
                        sink.cancel();
                        throw new IOException("no data for " + config.readTimeout().toSeconds() + " s");
                    }
                }
            }
        } catch (ExecutionException e) {
            sink.cancel();
            HubException refused = sink.refusal();
            if (refused != null) {
                throw refused;
            }
            Throwable c = e.getCause();
            if (c instanceof HubException he) {
                throw he;
            }
            throw c instanceof IOException io ? io : new IOException(c);
        } catch (InterruptedException e) {
            future.cancel(true);
            sink.cancel();
            Thread.currentThread().interrupt();
            throw new HubException(Reason.NETWORK, "interrupted during the " + sink, e);
        } finally {
            sink.closeQuietly();
        }
    }
}
