package io.github.phi3v.core.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The on-disk layout of the HF hub cache, identical to Python's {@code huggingface_hub}:
 *
 * <pre>
 * &lt;cache&gt;/models--org--name/
 *   blobs/&lt;etag&gt;                       file contents, named by sha256 (LFS) or git blob id
 *   blobs/&lt;etag&gt;.incomplete            a download in progress (resumable)
 *   refs/&lt;revision&gt;                   the commit a branch or tag pointed to
 *   snapshots/&lt;commit&gt;/&lt;file&gt;        symlink to ../../blobs/&lt;etag&gt; (a hard link or copy where symlinks fail)
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
     * Makes {@code snapshots/<commit>/<file>} point to the blob: a relative symlink, as Python creates it.
     * Callers hold the blob's lock ({@link #lockFile}), so the blob cannot change meanwhile; the link
     * itself is still made race-free against other writers of the same snapshot (an older client, a
     * Python process): the link is created in place, which fails if anything is there already; an
     * existing entry that already gives the blob is accepted, anything else (a dangling or foreign link)
     * is replaced by a link made under a unique temporary name and renamed over it. Where the file system
     * refuses symlinks the snapshot gets a hard link, else a copy; the blob itself is never moved, so
     * other snapshots that share it keep working.
     */
    Path link(String repoId, String commit, String file, Path blob) throws IOException {
        Path target = snapshotFile(repoId, commit, file);
        Files.createDirectories(target.getParent());
        Path relative = target.getParent().relativize(blob);
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            if (givesBlob(target, blob)) {
                return target;
            }
            try {
                if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createSymbolicLink(target, relative);
                } else {
                    Path tmp = uniqueSibling(target, ".link.tmp");
                    Files.createSymbolicLink(tmp, relative);
                    moveAtomically(tmp, target);
                }
            } catch (FileAlreadyExistsException raced) {
                last = raced; // someone else created it between the check and ours: look at what is there
            } catch (AccessDeniedException | NoSuchFileException realError) {
                throw realError;
            } catch (FileSystemException e) {
                // A file system without symlinks (FAT, Windows without the privilege) says EPERM or
                // "privilege not held"; a full disk is not that and must not turn into a copy.
                if (DiskFull.is(e)) {
                    throw e;
                }
                return linkWithoutSymlinks(target, blob);
            } catch (UnsupportedOperationException noSymlinks) {
                return linkWithoutSymlinks(target, blob);
            }
        }
        if (givesBlob(target, blob)) {
            return target;
        }
        throw new IOException("could not link " + target + " to " + blob + " after 5 attempts (it keeps changing;"
                + " is another program rewriting the cache?)", last);
    }

    /** A hard link to the blob, or where that fails too a copy (written aside, then renamed in place). */
    private static Path linkWithoutSymlinks(Path target, Path blob) throws IOException {
        Path tmp = uniqueSibling(target, ".copy.tmp");
        try {
            try {
                Files.createLink(tmp, blob);
            } catch (UnsupportedOperationException | IOException noHardLinks) {
                if (noHardLinks instanceof IOException io && DiskFull.is(io)) {
                    throw io;
                }
                Files.copy(blob, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            moveAtomically(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    /**
     * Whether the snapshot entry already gives the blob's content: our relative symlink to the existing
     * blob, the blob's own hard link, or (as Python leaves it where links fail) a regular file of the
     * blob's size, written by an atomic rename, so complete.
     */
    static boolean givesBlob(Path target, Path blob) throws IOException {
        if (!Files.isRegularFile(blob)) {
            return false;
        }
        if (Files.isSymbolicLink(target)) {
            Path dest = target.getParent().resolve(Files.readSymbolicLink(target)).normalize();
            return dest.equals(blob.normalize());
        }
        if (!Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        return Files.isSameFile(target, blob) || Files.size(target) == Files.size(blob);
    }

    /** A name next to {@code p} that no other writer uses: {@code .<name>.<random><suffix>}. */
    private static Path uniqueSibling(Path p, String suffix) {
        return p.resolveSibling("." + p.getFileName() + "." + UUID.randomUUID() + suffix);
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
