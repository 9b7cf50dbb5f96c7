package io.github.phi3v.core.hub;

import java.nio.file.Path;

/**
 * Receives download progress, per file of a repository. Called on the downloading thread (or the HTTP
 * client's thread while a body streams); implementations must be quick and must not throw.
 */
@FunctionalInterface
public interface ProgressListener {

    /** A listener that ignores everything. */
    ProgressListener NONE = (file, done, total) -> { };

    /**
     * Bytes of one file received so far, including bytes of an earlier partial download being resumed.
     *
     * @param file the file's path in the repository, e.g. {@code model-00001-of-00002.safetensors}
     * @param bytesDone bytes on disk so far
     * @param bytesTotal the file's size, or -1 if the hub did not say
     */
    void progress(String file, long bytesDone, long bytesTotal);

    /**
     * A file is about to be downloaded.
     *
     * @param file the file's path in the repository
     * @param bytesTotal its size, or -1 if unknown
     * @param resumeFrom bytes already present from an interrupted download (0 for a fresh one)
     */
    default void started(String file, long bytesTotal, long resumeFrom) {
    }

    /**
     * A file is available locally.
     *
     * @param file the file's path in the repository
     * @param path where it is, inside the snapshot folder
     * @param fromCache true if nothing was downloaded
     */
    default void completed(String file, Path path, boolean fromCache) {
    }
}
