package io.github.phi3v.core;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

import io.github.phi3v.core.hub.HubClient;
import io.github.phi3v.core.hub.HubConfig;
import io.github.phi3v.core.hub.ProgressListener;

/**
 * Where a model is loaded from: a local model folder or a Hugging Face hub repository id.
 * {@link #parse(String)} is the one rule that tells the two apart in a user-given string (a command-line
 * argument, a configuration property); loading turns either into the folder the loader reads.
 *
 * <pre>{@code
 * ModelLocation.parse("microsoft/Phi-3-vision-128k-instruct");   // a hub id
 * ModelLocation.parse("models/phi3v");                          // a folder, if it exists
 * ModelLocation.parse("./no-such-folder");                      // IllegalArgumentException: looks like a path
 * }</pre>
 *
 * <p>Immutable.
 */
public final class ModelLocation {

    private final Path folder;
    private final String hubId;

    private ModelLocation(Path folder, String hubId) {
        this.folder = folder;
        this.hubId = hubId;
    }

    /**
     * A local model folder (checked when the model is loaded).
     *
     * @param dir the folder with {@code config.json}, the weights and the tokenizer files
     * @return the location
     */
    public static ModelLocation folder(Path dir) {
        return new ModelLocation(Objects.requireNonNull(dir, "dir"), null);
    }

    /**
     * A hub repository, loaded through the local hub cache (downloading missing files).
     *
     * @param id e.g. {@code microsoft/Phi-3-vision-128k-instruct}
     * @return the location
     */
    public static ModelLocation hub(String id) {
        return new ModelLocation(null, Objects.requireNonNull(id, "id"));
    }

    /**
     * Reads a model argument: an existing folder is a folder; anything that looks like a path (starts
     * with {@code /}, {@code .} or {@code ~}, contains a backslash, ends with {@code /}, has more than one
     * {@code /}, or names a file) but is no folder is an error; the rest is a hub id.
     *
     * @param idOrPath a folder path or a hub id
     * @return the location
     * @throws IllegalArgumentException if it looks like a path but names no folder
     */
    public static ModelLocation parse(String idOrPath) {
        Objects.requireNonNull(idOrPath, "idOrPath");
        Path path = asPath(idOrPath);
        if (path != null && Files.isDirectory(path)) {
            return folder(path);
        }
        if (looksLikePath(idOrPath) || (path != null && Files.exists(path))) {
            throw new IllegalArgumentException("model folder '" + idOrPath + "' does not exist (expected a folder "
                    + "with config.json and the weights, or a hub id like microsoft/Phi-3-vision-128k-instruct)");
        }
        return hub(idOrPath);
    }

    /**
     * The local folder, if this is one.
     *
     * @return the folder, or empty for a hub id
     */
    public Optional<Path> folder() {
        return Optional.ofNullable(folder);
    }

    /**
     * The hub repository id, if this is one.
     *
     * @return the id, or empty for a folder
     */
    public Optional<String> hubId() {
        return Optional.ofNullable(hubId);
    }

    /** The folder the model is read from: the folder itself, or the hub cache's snapshot (downloaded if missing). */
    Path resolve(HubConfig hubConfig, String revision, ProgressListener progress) {
        if (folder != null) {
            if (!Files.isDirectory(folder)) {
                throw new IllegalArgumentException("model folder " + folder + " does not exist or is not a "
                        + "directory (expected config.json, the weights and the tokenizer files)");
            }
            return folder;
        }
        HubClient client = new HubClient(hubConfig != null ? hubConfig : HubConfig.fromEnvironment());
        return client.resolveModel(hubId, revision, progress).directory();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelLocation other && Objects.equals(folder, other.folder)
                && Objects.equals(hubId, other.hubId);
    }

    @Override
    public int hashCode() {
        return Objects.hash(folder, hubId);
    }

    @Override
    public String toString() {
        return folder != null ? "folder " + folder : "hub " + hubId;
    }

    private static Path asPath(String s) {
        try {
            return Path.of(s);
        } catch (InvalidPathException e) {
            return null;
        }
    }

    private static boolean looksLikePath(String s) {
        return s.startsWith("/") || s.startsWith(".") || s.startsWith("~") || s.contains("\\") || s.endsWith("/")
                || s.chars().filter(c -> c == '/').count() > 1;
    }
}
