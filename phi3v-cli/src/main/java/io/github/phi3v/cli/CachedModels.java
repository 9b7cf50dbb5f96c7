package io.github.phi3v.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The models in a Hugging Face hub cache folder, as {@code huggingface_hub} lays them out
 * ({@code models--org--name/} with {@code blobs/}, {@code refs/}, {@code snapshots/}): listing with their
 * size on disk, and removal of one. Symbolic links are never followed: a model's size is the sum of the
 * regular files under its folder (its blobs, or files moved into its snapshots where links failed), and
 * removing it deletes the links themselves, never what they point to.
 */
final class CachedModels {

    /** A repository id: {@code name} or {@code org/name}, the characters the hub allows. */
    private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?");
    private static final String PREFIX = "models--";

    /** One cached model: its repository id, folder and bytes on disk. */
    record Entry(String id, Path folder, long bytes) {
    }

    private CachedModels() {
    }

    /**
     * The cached models, sorted by id; an absent cache folder holds none.
     *
     * @param cache the hub cache folder
     * @return the models
     */
    static List<Entry> list(Path cache) {
        if (!Files.isDirectory(cache)) {
            return List.of();
        }
        List<Entry> entries = new ArrayList<>();
        try (Stream<Path> s = Files.list(cache)) {
            for (Path p : s.toList()) {
                String name = p.getFileName().toString();
                if (name.startsWith(PREFIX) && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    entries.add(new Entry(name.substring(PREFIX.length()).replaceFirst("--", "/"), p, size(p)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the hub cache " + cache + ": " + e.getMessage(), e);
        }
        entries.sort(Comparator.comparing(Entry::id));
        return entries;
    }

    /**
     * Deletes one model's folder.
     *
     * @param cache the hub cache folder
     * @param id the repository id, e.g. {@code microsoft/Phi-3-vision-128k-instruct}
     * @return what was removed (its size as before removal)
     * @throws IllegalArgumentException if {@code id} is not a repository id or the model is not cached
     */
    static Entry remove(Path cache, String id) {
        if (!REPO_ID.matcher(id).matches() || id.contains("..")) {
            throw new IllegalArgumentException("'" + id + "' is not a model id (expected org/name, e.g. "
                    + "microsoft/Phi-3-vision-128k-instruct)");
        }
        Path folder = cache.resolve(PREFIX + id.replace("/", "--"));
        if (!Files.isDirectory(folder, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("model " + id + " is not in the hub cache " + cache
                    + " ('phi3v models' lists what is)");
        }
        Entry removed = new Entry(id, folder, size(folder));
        try (Stream<Path> s = Files.walk(folder)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + folder + ": " + e.getMessage(), e);
        }
        return removed;
    }

    /** Bytes of the regular files under {@code folder}, links not followed. */
    private static long size(Path folder) {
        long total = 0;
        try (Stream<Path> s = Files.walk(folder)) {
            for (Path p : s.toList()) {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    try {
                        total += Files.size(p);
                    } catch (NoSuchFileException gone) {
                        // removed while we looked (e.g. an .incomplete download finished): not counted
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + folder + ": " + e.getMessage(), e);
        }
        return total;
    }
}
