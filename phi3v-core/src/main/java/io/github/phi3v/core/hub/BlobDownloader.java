package io.github.phi3v.core.hub;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

import io.github.phi3v.core.hub.HubException.Reason;
import io.github.phi3v.core.hub.HubHttp.FileMetadata;

/**
 * Puts one blob into the {@link HubCache}: under the blob's file lock (shared by threads and processes) it
 * downloads into {@code <blob>.incomplete} through {@link HubHttp}, resuming and retrying, checks the size
 * and, for LFS files, the sha256, moves the result into place and links it into the snapshot. Thread-safe.
 */
final class BlobDownloader {

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    private final HubConfig config;
    private final HubCache cache;
    private final HubHttp http;

    BlobDownloader(HubConfig config, HubCache cache, HubHttp http) {
        this.config = config;
        this.cache = cache;
        this.http = http;
    }

    /** Whether the cache holds the blob whole (its size as announced, when the hub announced one). */
    static boolean isComplete(Path blob, FileMetadata meta) throws IOException {
        return Files.isRegularFile(blob) && (meta.size() < 0 || Files.size(blob) == meta.size());
    }

    /**
     * Under the blob's lock (shared by threads and processes): downloads the blob unless it is complete
     * (another downloader may have finished it while we waited), then links it into the snapshot. The
     * link is made under the lock too, so no resolver can see the blob half-linked or race another's
     * link step into a dangling link.
     */
    Path obtainAndLink(ResolveSession s, String file, FileMetadata meta, Path blob) throws IOException {
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
    private FileLock awaitLock(FileChannel ch, Path lockPath, Path part, ResolveSession s, String file) throws IOException {
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
            long size = sizeWhileUnlocked(part);
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
     * The size of the partial file another downloader is writing, or -1 if there is none. Read without
     * the lock, so the holder may move the file into place between any two calls: a vanished file is
     * "none", not an error.
     */
    private static long sizeWhileUnlocked(Path part) throws IOException {
        try {
            return Files.size(part);
        } catch (NoSuchFileException finishedOrNotStarted) {
            return -1;
        }
    }

    /**
     * Downloads into {@code <blob>.incomplete}, resuming what an earlier attempt left there, verifies
     * size and (for LFS files, whose etag is the sha256) the hash, then moves it to {@code <blob>}.
     * A full disk ends it at once (retrying cannot help) and deletes the partial file.
     */
    private void download(ResolveSession s, String file, FileMetadata meta, Path blob, Path part) throws IOException {
        URI url = meta.location() != null ? meta.location() : http.resolveUrl(s, s.commit, file);
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
                http.transfer(s, file, url, part, have, meta.size());
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

    private void verify(ResolveSession s, String file, FileMetadata meta, Path part) throws IOException {
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

}
