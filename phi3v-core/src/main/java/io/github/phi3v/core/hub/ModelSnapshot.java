package io.github.phi3v.core.hub;

import java.nio.file.Path;
import java.util.List;

/**
 * A model folder resolved from the hub cache: {@code directory} is an ordinary HF model folder
 * ({@code config.json}, tokenizer files, weights) that the loaders read directly.
 *
 * @param repoId the repository, e.g. {@code microsoft/Phi-3-vision-128k-instruct}
 * @param revision the revision asked for (branch, tag or commit)
 * @param commit the 40-hex commit the files belong to
 * @param directory {@code <cache>/models--org--name/snapshots/<commit>}
 * @param files the repository paths present in {@code directory}, in download order
 */
public record ModelSnapshot(String repoId, String revision, String commit, Path directory, List<String> files) {

    /**
     * Copies the file list.
     *
     * @param repoId the repository, e.g. {@code microsoft/Phi-3-vision-128k-instruct}
     * @param revision the revision asked for (branch, tag or commit)
     * @param commit the 40-hex commit the files belong to
     * @param directory the snapshot folder {@code <cache>/models--org--name/snapshots/<commit>}
     * @param files repository paths present in {@code directory}, in download order; not null
     */
    public ModelSnapshot {
        files = List.copyOf(files);
    }
}
