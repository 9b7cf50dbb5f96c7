package io.github.phi3v.core.hub;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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

    private final HubConfig config;
    private final HubCache cache;
    private final HubHttp http;
    private final BlobDownloader downloader;

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
        this.cache = new HubCache(config.cacheDir());
        this.http = new HubHttp(config, writer);
        this.downloader = new BlobDownloader(config, cache, http);
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
        ResolveSession s = session(repoId, revision, listener);
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

    private ResolveSession session(String repoId, String revision, ProgressListener listener) {
        if (repoId == null || !REPO_ID.matcher(repoId).matches() || repoId.contains("--") || repoId.contains("..")) {
            throw new IllegalArgumentException("model id: expected 'org/name' (letters, digits, '.', '_', '-'), "
                    + "found '" + repoId + "'");
        }
        if (revision == null || revision.isBlank() || revision.contains("..") || revision.startsWith("/")) {
            throw new IllegalArgumentException("revision: expected a branch, tag or commit, found '" + revision + "'");
        }
        String commit = HubCache.COMMIT.matcher(revision).matches() ? revision : cache.readRef(repoId, revision);
        return new ResolveSession(repoId, revision, listener == null ? ProgressListener.NONE : listener, commit);
    }

    private boolean cachedHere(ResolveSession s, String file) {
        return s.commit != null && Files.exists(cache.snapshotFile(s.repoId, s.commit, file));
    }

    private HubException offline(ResolveSession s, String file) {
        return new HubException(Reason.OFFLINE_NOT_CACHED, "HF_HUB_OFFLINE is set and " + s.describe(file)
                + " is not in the cache " + cache.repoDir(s.repoId) + ": run once with network access (or unset "
                + "HF_HUB_OFFLINE) to download it");
    }

    // ---- one file ------------------------------------------------------------------------------

    /** The file from the cache or the hub; empty if it does not exist upstream and is not required. */
    private Optional<Path> fetch(ResolveSession s, String file, boolean required) {
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
            HubHttp.FileMetadata meta = http.head(s, file);
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
            boolean complete = BlobDownloader.isComplete(blob, meta);
            // Before any byte is written: a size the hub announces over the cap is refused outright.
            if (!complete && meta.size() > config.maxFileBytes()) {
                throw BlobDownloader.tooLarge(s.describe(file), "the hub announces " + meta.size() + " bytes (X-Linked-Size /"
                        + " Content-Length)", config.maxFileBytes());
            }
            Path linked = downloader.obtainAndLink(s, file, meta, blob);
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
    private boolean isCachedAnswer(ResolveSession s, String file) {
        return Files.exists(cache.snapshotFile(s.repoId, s.commit, file))
                || Files.exists(cache.noExistMarker(s.repoId, s.commit, file));
    }

    /** The cached file, or the cached "does not exist" (an error when the file is required). */
    private Optional<Path> cachedAnswer(ResolveSession s, String file, boolean required) {
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

    private void pin(ResolveSession s, String commit) throws IOException {
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
}
