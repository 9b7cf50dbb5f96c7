package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.util.concurrent.Callable;

import io.github.phi3v.core.hub.HubClient;
import io.github.phi3v.core.hub.HubConfig;
import io.github.phi3v.core.hub.ModelSnapshot;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code phi3v download}: fetches a model into the Hugging Face hub cache (shared with Python tools),
 * with a progress bar, and prints the snapshot folder. Files already cached are not downloaded again;
 * an interrupted download resumes.
 */
@Command(name = "download", mixinStandardHelpOptions = true,
        description = "Download a model into the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or "
                + "~/.cache/huggingface/hub) and print its folder. Honours HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE.",
        footer = {"", "Example:", "  phi3v download microsoft/Phi-3-vision-128k-instruct"})
final class DownloadCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    VerboseOption verbose;

    @Parameters(index = "0", paramLabel = "ID", description = "The repository id, e.g. microsoft/Phi-3-vision-128k-instruct.")
    String repoId;

    @Option(names = "--revision", paramLabel = "R", defaultValue = "main",
            description = "Branch, tag or commit (default: ${DEFAULT-VALUE}).")
    String revision;

    @Mixin
    CacheDirOption cache;

    @Option(names = "--endpoint", paramLabel = "URL", description = "Hub endpoint (default: HF_ENDPOINT or "
            + "https://huggingface.co).")
    URI endpoint;

    @Option(names = "--offline", description = "Use only the cache, like HF_HUB_OFFLINE=1.")
    boolean offline;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        HubConfig config = HubConfig.fromEnvironment();
        if (cache.cacheDir != null) {
            config = config.withCacheDir(cache.cacheDir);
        }
        if (endpoint != null) {
            config = config.withEndpoint(endpoint);
        }
        if (offline) {
            config = config.withOffline(true);
        }
        HubClient hub = new HubClient(config);
        ModelSnapshot snap = hub.resolveModel(repoId, revision, new ProgressBar(err));
        err.println(snap.files().size() + " files of " + snap.repoId() + " at " + snap.commit());
        out.println(snap.directory());
        out.flush();
        return 0;
    }
}
