package io.github.phi3v.cli;

import java.nio.file.Path;

import io.github.phi3v.core.hub.HubConfig;
import picocli.CommandLine.Option;

/** {@code --cache-dir} of the commands that use the hub cache ({@code download}, {@code models}, {@code rm}). */
final class CacheDirOption {

    @Option(names = "--cache-dir", paramLabel = "DIR", description = "Hub cache folder (default: from HF_HUB_CACHE, "
            + "HF_HOME or ~/.cache/huggingface/hub).")
    Path cacheDir;

    /** The folder given, else the one {@link HubConfig#fromEnvironment()} resolves. */
    Path resolve() {
        return cacheDir != null ? cacheDir : HubConfig.fromEnvironment().cacheDir();
    }
}
