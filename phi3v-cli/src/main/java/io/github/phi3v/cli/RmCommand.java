package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code phi3v rm}: removes one model from the Hugging Face hub cache. */
@Command(name = "rm", mixinStandardHelpOptions = true,
        description = "Remove a model from the Hugging Face cache (all its revisions).",
        footer = {"", "Example:", "  phi3v rm microsoft/Phi-3-vision-128k-instruct"})
final class RmCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    CacheDirOption cache;

    @Mixin
    VerboseOption verbose;

    @Parameters(index = "0", paramLabel = "ID", description = "The repository id, as 'phi3v models' lists it.")
    String id;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        CachedModels.Entry removed = CachedModels.remove(cache.resolve(), id);
        out.println("removed " + removed.id() + " (" + ProgressBar.bytes(removed.bytes()) + ", " + removed.folder()
                + ")");
        out.flush();
        return 0;
    }
}
