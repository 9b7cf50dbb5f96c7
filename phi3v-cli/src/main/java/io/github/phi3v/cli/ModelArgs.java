package io.github.phi3v.cli;

import java.io.PrintWriter;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Phi3VisionBuilder;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.tooling.Models;
import picocli.CommandLine.Option;

/** Options that choose and place the model, shared by the commands that run it. */
final class ModelArgs {

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "ID|DIR|tiny-random",
            description = "A Hugging Face model id (e.g. microsoft/Phi-3-vision-128k-instruct; downloaded into the "
                    + "HF cache on first use), a local model folder, or tiny-random (random weights, meaningless "
                    + "output, no download).")
    String model;

    @Option(names = "--dtype", paramLabel = "TYPE",
            description = "Compute precision: float32, bfloat16 or float16 (default: bfloat16 where the CPU has bf16 instructions, else float32; inspect and generate: float32).")
    String dtype;

    @Option(names = "--quantize", paramLabel = "none|int8|int4",
            description = "Weight quantization of the decoder's linear layers (CPU only; default none).")
    String quantize;

    @Option(names = "--device", paramLabel = "cpu|cuda",
            description = "Where to compute (cuda needs the GPU natives, see docs/gpu.md; default cpu).")
    String device;

    @Option(names = "--threads", paramLabel = "N", description = "libtorch intra-op threads (default: all cores).")
    Integer threads;

    @Option(names = "--max-context", paramLabel = "TOKENS",
            description = "Largest prompt + answer in tokens; sizes the KV cache (default: 8192).")
    Integer maxContext;

    /**
     * Loads the model.
     *
     * @param err where the tiny-random banner and download progress go
     * @param defaultDtype the precision when {@code --dtype} is absent, or null for the library default
     */
    Phi3Vision open(PrintWriter err, String defaultDtype) {
        return builder(err, defaultDtype).build();
    }

    /** The builder {@link #open} builds, for commands that add options of their own (e.g. serve's limits). */
    Phi3VisionBuilder builder(PrintWriter err, String defaultDtype) {
        checkPlacement();
        Phi3VisionBuilder b = Models.builder(model, err, new ProgressBar(err));
        if (quantize != null) {
            b.quantization(quantize);
        }
        if (device != null) {
            b.device(device);
        }
        String d = dtype != null ? dtype : defaultDtype;
        if (d != null) {
            b.dtype(d);
        }
        if (threads != null) {
            b.threads(threads);
        }
        if (maxContext != null) {
            b.maxContext(maxContext);
        }
        return b;
    }

    /**
     * Usage errors (exit 2) before anything is built, downloaded or loaded: a device or quantization the
     * library does not know (its own parsers judge, on a builder that is then dropped), and a quantization
     * off the CPU (the int8 kernels are CPU kernels).
     */
    private void checkPlacement() {
        try {
            Phi3VisionBuilder names = Phi3Vision.builder();
            if (quantize != null) {
                names.quantization(quantize);
            }
            if (device != null) {
                names.device(device);
            }
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        if (quantize != null && device != null && Quantization.parse(quantize) != Quantization.NONE
                && !device.strip().equalsIgnoreCase("cpu")) {
            throw new UsageException("--quantize " + quantize + " runs on the CPU only; use --device cpu or leave out "
                    + "--quantize");
        }
    }
}
