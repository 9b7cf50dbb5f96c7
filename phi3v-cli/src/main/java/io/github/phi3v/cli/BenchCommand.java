package io.github.phi3v.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.tooling.bench.BenchmarkOptions;
import io.github.phi3v.tooling.bench.BenchmarkReport;
import io.github.phi3v.tooling.bench.BenchmarkRunner;
import io.github.phi3v.tooling.bench.Scenario;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code phi3v bench}: the model benchmark of docs/benchmarks.md, on a full-size random-weight Phi-3-V
 * (no download). Progress goes to stderr, the table (or JSON) to stdout.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark a full-size Phi-3-V with random weights (no download): preprocessing, vision tower, "
                + "prefill, time to first token, decode, peak RSS, plus the machine's memory bandwidth and bf16 GEMM "
                + "throughput measured in the same run, and the efficiency ratios against them.",
        footer = {"", "Examples:", "  phi3v bench --cache-dir ~/.cache/phi3v-bench",
                "  phi3v bench --cache-dir DIR --scenario nc4 --decode-tokens 32 --quantize none,int8 --json",
                "  phi3v bench --cache-dir DIR --scenario prefill --prefill-tokens 2000 --decode-tokens 0"})
final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    VerboseOption verbose;

    @Option(names = "--config", paramLabel = "FILE", defaultValue = "../shared/golden/phi3v-128k-config/config.json",
            description = "config.json of the architecture (default: ${DEFAULT-VALUE}, relative to the working "
                    + "directory).")
    Path config;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Keep the random model folder here between runs (8.3 GB in bf16); default: a temporary "
                    + "folder deleted afterwards.")
    Path cacheDir;

    @Option(names = "--dtype", paramLabel = "DTYPE", defaultValue = "bfloat16",
            description = "Weights and compute dtype: bfloat16, float32, float16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--quantize", paramLabel = "LIST", split = ",", defaultValue = "none,int8",
            description = "Variants to run one after the other on the same checkpoint: none, int8 (int8 decoder "
                    + "linears), int4 (int4 decoder linears, groups of 32); a quantized variant loads a pre-quantized "
                    + "copy written once next to the random model (default: ${DEFAULT-VALUE}).")
    List<String> quantize;

    @Option(names = "--scenario", paramLabel = "LIST", split = ",", defaultValue = "nc16,nc4,prefill",
            description = "Workloads: nc<N> = the 1344x1008 image and a short question at num_crops N; prefill = "
                    + "text-only prompt of --prefill-tokens; prefill<N> (default: ${DEFAULT-VALUE}).")
    List<String> scenarios;

    @Option(names = "--prefill-tokens", paramLabel = "N", defaultValue = "2000",
            description = "Length of the text-only prefill scenario (default: ${DEFAULT-VALUE}).")
    int prefillTokens;

    @Option(names = "--decode-tokens", paramLabel = "N", defaultValue = "32",
            description = "Greedy tokens timed after each prefill; 0 = none (default: ${DEFAULT-VALUE}).")
    int decodeTokens;

    @Option(names = "--max-context", paramLabel = "N", defaultValue = "4096",
            description = "KV cache capacity in positions (default: ${DEFAULT-VALUE}).")
    int maxContext;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "libtorch intra-op threads; 0 = one per core (default).")
    int threads;

    @Option(names = "--question", paramLabel = "TEXT", defaultValue = BenchmarkOptions.DEFAULT_QUESTION,
            description = "The question after the image (default: ${DEFAULT-VALUE}).")
    String question;

    @Option(names = "--json", description = "Print the report as JSON instead of a table.")
    boolean json;

    @Option(names = "--out", paramLabel = "FILE", description = "Also write the JSON report to this file.")
    Path out;

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<Quantization> variants = new ArrayList<>();
        for (String q : quantize) {
            variants.add(Quantization.parse(q));
        }
        List<Scenario> list = new ArrayList<>();
        for (String s : scenarios) {
            list.add(Scenario.parse(s, prefillTokens));
        }
        BenchmarkOptions options = new BenchmarkOptions(config, cacheDir, Precision.parse(dtype), variants, list,
                decodeTokens, maxContext, threads, question, 20240522L);
        BenchmarkReport report = new BenchmarkRunner(options, line -> {
            err.println("bench: " + line);
            err.flush();
        }).run();
        stdout.println(json ? report.toJson() : report.toTable());
        stdout.flush();
        if (out != null) {
            Files.writeString(out, report.toJson());
        }
        return 0;
    }
}
