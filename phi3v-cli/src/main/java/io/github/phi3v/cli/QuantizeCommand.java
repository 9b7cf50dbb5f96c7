package io.github.phi3v.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.model.QuantizedCheckpoint;
import io.github.phi3v.tooling.Models;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code phi3v quantize}: writes a pre-quantized copy of a model folder ({@link QuantizedCheckpoint}), which
 * every command then loads without quantizing again, and prints the new folder.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Write a pre-quantized copy of a model (decoder linears int8 or int4, everything else "
                + "unchanged) that loads without quantizing at every start. Pass the new folder as --model.",
        footer = {"", "Example:",
            "  phi3v quantize --model microsoft/Phi-3-vision-128k-instruct --to int4 --out ~/models/phi3v-int4"})
final class QuantizeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    VerboseOption verbose;

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "ID|DIR|tiny-random",
            description = "The model to quantize: a Hugging Face id (downloaded into the HF cache), a local model "
                    + "folder, or tiny-random.")
    String model;

    @Option(names = "--to", required = true, paramLabel = "int8|int4",
            description = "int8: one scale per output channel; int4: groups of 32 inputs with a scale and a zero.")
    String to;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "The folder to write (created; must not hold a model yet).")
    Path out;

    @Override
    public Integer call() throws IOException {
        Quantization q;
        try {
            q = Quantization.parse(to);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--to: " + e.getMessage());
        }
        if (q == Quantization.NONE) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--to: expected int8 or int4, not " + to);
        }
        PrintWriter err = spec.commandLine().getErr();
        Path source = Models.directory(model, err, new ProgressBar(err));
        long start = System.nanoTime();
        QuantizedCheckpoint.write(source, out, q);
        long bytes = Files.size(out.resolve("model.safetensors"));
        err.printf(Locale.ROOT, "%s: decoder linears quantized to %s in %.1f s, weights %.2f GB%n", source,
                q.name().toLowerCase(Locale.ROOT), (System.nanoTime() - start) / 1e9, bytes / 1e9);
        err.flush();
        PrintWriter o = spec.commandLine().getOut();
        o.println(out);
        o.flush();
        return 0;
    }
}
