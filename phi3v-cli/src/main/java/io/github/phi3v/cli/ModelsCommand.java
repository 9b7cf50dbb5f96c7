package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code phi3v models}: the models in the Hugging Face hub cache with their size on disk. */
@Command(name = "models", mixinStandardHelpOptions = true,
        description = "List the models in the Hugging Face cache with their size on disk.")
final class ModelsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    CacheDirOption cache;

    @Mixin
    VerboseOption verbose;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path dir = cache.resolve();
        List<CachedModels.Entry> models = CachedModels.list(dir);
        if (models.isEmpty()) {
            err.println("no models in " + dir);
        }
        int width = models.stream().mapToInt(m -> m.id().length()).max().orElse(0);
        long total = 0;
        for (CachedModels.Entry m : models) {
            out.println(String.format(Locale.ROOT, "%-" + width + "s  %9s  %s", m.id(), ProgressBar.bytes(m.bytes()),
                    m.folder()));
            total += m.bytes();
        }
        if (!models.isEmpty()) {
            err.println(models.size() + (models.size() == 1 ? " model, " : " models, ") + ProgressBar.bytes(total)
                    + " in " + dir);
        }
        out.flush();
        return 0;
    }
}
