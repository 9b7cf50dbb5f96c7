package io.github.phi3v.core.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.regex.Pattern;

/**
 * The on-disk layout of the HF hub cache, identical to Python's {@code huggingface_hub}:
 *
 * <pre>
 * &lt;cache&gt;/models--org--name/
 *   blobs/&lt;etag&gt;                       file contents, named by sha256 (LFS) or git blob id
 *   blobs/&lt;etag&gt;.incomplete            a download in progress (resumable)
 *   refs/&lt;revision&gt;                   the commit a branch or tag pointed to
 *   snapshots/&lt;commit&gt;/&lt;file&gt;        symlink to ../../blobs/&lt;etag&gt; (a moved blob where links fail)
 *   .no_exist/&lt;commit&gt;/&lt;file&gt;        empty marker: the file does not exist at that commit
 * </pre>
 *
 * Every write is atomic (temp file + move), so a crash never leaves a half-written ref or link.
 */
final class HubCache {

    static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9._-]+");

    private final Path root;

    HubCache(Path root) {
        this.root = root;
    }

    Path root() {
        return root;
    }

    /** {@code models--org--name}, as Python names it. */
    static String folderName(String repoId) {
        return "models--" + repoId.replace("/", "--");
    }

    Path repoDir(String repoId) {
        return root.resolve(folderName(repoId));
    }

    Path snapshotDir(String repoId, String commit) {
        return repoDir(repoId).resolve("snapshots").resolve(commit);
    }

    Path snapshotFile(String repoId, String commit, String file) {
        return inside(snapshotDir(repoId, commit), file);
    }

    Path blob(String repoId, String etag) {
        if (!SAFE_NAME.matcher(etag).matches()) {
            throw new HubException(HubException.Reason.PROTOCOL, "hub etag '" + etag + "' of " + repoId
                    + ": expected letters, digits, '.', '_' or '-' only (it names a cache file)");
        }
        return repoDir(repoId).resolve("blobs").resolve(etag);
    }

    Path noExistMarker(String repoId, String commit, String file) {
        return inside(repoDir(repoId).resolve(".no_exist").resolve(commit), file);
    }

    Path lockFile(String repoId, String etag) {
        return root.resolve(".locks").resolve(folderName(repoId)).resolve(etag + ".lock");
    }

    private Path refFile(String repoId, String revision) {
        return inside(repoDir(repoId).resolve("refs"), revision);
    }

    /** The commit a cached ref points to, or null if the ref is not cached. */
    String readRef(String repoId, String revision) {
        Path ref = refFile(repoId, revision);
        if (!Files.isRegularFile(ref)) {
            return null;
        }
        try {
            String commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
            return COMMIT.matcher(commit).matches() ? commit : null;
        } catch (IOException e) {
            throw new HubException(HubException.Reason.CACHE, "cannot read the cached ref " + ref + ": " + e, e);
        }
    }

    /** Records that {@code revision} points to {@code commit} (atomically replaces an older ref). */
    void writeRef(String repoId, String revision, String commit) throws IOException {
        Path ref = refFile(repoId, revision);
        if (commit.equals(readRef(repoId, revision))) {
            return;
        }
        Files.createDirectories(ref.getParent());
        Path tmp = Files.createTempFile(ref.getParent(), ".ref", ".tmp");
        Files.writeString(tmp, commit, StandardCharsets.UTF_8);
        moveAtomically(tmp, ref);
    }

    /** Creates the empty marker recording that {@code file} does not exist at {@code commit}. */
    void markMissing(String repoId, String commit, String file) throws IOException {
        Path marker = noExistMarker(repoId, commit, file);
        Files.createDirectories(marker.getParent());
        try {
            Files.createFile(marker);
        } catch (FileAlreadyExistsException ignored) {
            // Another run recorded it already.
        }
    }

    /**
     * Makes {@code snapshots/<commit>/<file>} point to the blob: a relative symlink, as Python creates
     * it; where the file system refuses links, the blob is moved there instead (Python does the same).
     */
    Path link(String repoId, String commit, String file, Path blob) throws IOException {
        Path target = snapshotFile(repoId, commit, file);
        Files.createDirectories(target.getParent());
        Path relative = target.getParent().relativize(blob);
        Path tmp = target.resolveSibling("." + target.getFileName() + ".link.tmp");
        Files.deleteIfExists(tmp);
        try {
            Files.createSymbolicLink(tmp, relative);
        } catch (UnsupportedOperationException | IOException noLinks) {
            moveAtomically(blob, target);
            return target;
        }
        moveAtomically(tmp, target);
        return target;
    }

    /** A move that is atomic where the file system allows, so readers never see a partial file. */
    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** {@code base/relative}, refusing anything that would escape {@code base}. */
    private static Path inside(Path base, String relative) {
        Path p = base.resolve(relative).normalize();
        if (!p.startsWith(base) || p.equals(base)) {
            throw new IllegalArgumentException("'" + relative + "': expected a relative path inside " + base);
        }
        return p;
    }
}
