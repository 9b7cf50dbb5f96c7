package io.github.phi3v.tooling.bench;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.Logits;

/**
 * Whether the first request after loading runs as fast as the later ones (issue #20's goal), window by window:
 * one model, several requests one after the other on the same cache (cleared in between), each a text prompt
 * then greedy decode steps timed in windows of a few tokens, with the time the JIT compiler spent during the
 * request ({@link CompilationMXBean}, summed over its threads). {@code phi3v bench} reports only each
 * scenario's mean, and its first scenario also warms its own linear probe; this keeps the first request's first
 * tokens apart from its last.
 *
 * <pre>java -cp "$CP" io.github.phi3v.tooling.bench.FirstRequestProbe variant=DIR promptTokens decodeTokens window
 *     requests [warmup=P,D | warmup=api]</pre>
 * where {@code variant} is {@code none}, {@code int8} or {@code int4}, {@code DIR} a bf16 model folder (the
 * bench's random model, or a pre-quantized folder of it) and {@code promptTokens} one length or one per request
 * ({@code 800,2000,800}). With {@code warmup=P,D} an untimed request of a
 * different random prompt of {@code P} tokens and {@code D} decode steps runs first, with {@code warmup=api}
 * the library's ({@link io.github.phi3v.core.Phi3VisionBuilder#warmUp(boolean)}): whether a warm-up at load
 * makes the first request as fast as the later ones.
 */
public final class FirstRequestProbe {

    private FirstRequestProbe() {
    }

    /**
     * What the requests measured.
     *
     * @param prefillSeconds per request, the prompt's forward pass
     * @param windowSeconds per request and window, the window's decode time ({@code [requests][windows]})
     * @param compileSeconds per request, the JIT compiler's time during it (NaN where the JVM does not report it)
     * @param tokens per request, the greedy tokens: the prompt's, then every step's
     * @param minorFaults per request, the process's minor page faults during it (-1 where the system does not
     *     report them)
     */
    record Result(double[] prefillSeconds, double[][] windowSeconds, double[] compileSeconds, int[][] tokens,
            long[] minorFaults) {
    }

    /**
     * The process's minor page faults so far: field 10 of {@code /proc/self/stat} (Linux), read after the
     * command name's closing parenthesis since the name may hold spaces.
     *
     * @return the count, or -1 where the file is missing or unreadable
     */
    static long minorFaults() {
        try {
            String stat = java.nio.file.Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
            return Long.parseLong(f[7]);   // f[0] is field 3 (state)
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * Runs the requests one after the other: each clears the cache, reads its prompt and decodes
     * {@code windows * window} greedy tokens (stop tokens ignored).
     *
     * @param model the model, loaded
     * @param cache its cache, of capacity {@code prompt length + windows * window} at least
     * @param prompts one prompt per request
     * @param windows timed windows per request (at least 1)
     * @param window decode steps per window (at least 1)
     * @return the times and tokens
     */
    static Result run(Phi3VModel model, KvCache cache, List<int[]> prompts, int windows, int window) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(cache, "cache");
        if (prompts.isEmpty() || windows < 1 || window < 1) {
            throw new IllegalArgumentException("at least one request, window and step: " + prompts.size()
                    + " requests, " + windows + " windows of " + window);
        }
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
        int n = prompts.size();
        double[] prefill = new double[n];
        double[][] seconds = new double[n][windows];
        double[] compile = new double[n];
        int[][] tokens = new int[n][1 + windows * window];
        long[] faults = new long[n];
        for (int r = 0; r < n; r++) {
            cache.clear();
            long f0 = minorFaults();
            long c0 = timed ? jit.getTotalCompilationTime() : 0;
            long t0 = System.nanoTime();
            tokens[r][0] = Logits.argmax(model.forward(prompts.get(r), List.of(), cache, 0));
            prefill[r] = (System.nanoTime() - t0) / 1e9;
            for (int w = 0; w < windows; w++) {
                seconds[r][w] = WindowedDecode.steps(model, cache, tokens[r], 1 + w * window, window);
            }
            compile[r] = timed ? (jit.getTotalCompilationTime() - c0) / 1e3 : Double.NaN;
            long f1 = minorFaults();
            faults[r] = f0 < 0 || f1 < 0 ? -1 : f1 - f0;
        }
        return new Result(prefill, seconds, compile, tokens, faults);
    }

    /**
     * Loads the variant, runs {@link #run} with a different random prompt per request and prints per request
     * the prefill time, the milliseconds per token of each window and the JIT compiler's time.
     *
     * @param args see the class comment
     */
    public static void main(String[] args) {
        if (args.length < 5 || args.length > 6 || !args[0].contains("=")
                || args.length == 6 && !args[5].matches("warmup=(\\d+,\\d+|api)")) {
            throw new IllegalArgumentException("usage: FirstRequestProbe variant=DIR promptTokens decodeTokens window "
                    + "requests [warmup=P,D|warmup=api]");
        }
        String[] kv = args[0].split("=", 2);
        // One length for every request, or one per request ("800,2000,800"): decode after prompts of each length.
        int[] lengths = java.util.Arrays.stream(args[1].split(",")).mapToInt(Integer::parseInt).toArray();
        int promptTokens = java.util.Arrays.stream(lengths).max().orElseThrow();
        int decodeTokens = Integer.parseInt(args[2]);
        int window = Integer.parseInt(args[3]);
        int requests = Integer.parseInt(args[4]);
        if (lengths.length != 1 && lengths.length != requests) {
            throw new IllegalArgumentException("promptTokens: one length or one per request (" + requests + "), got "
                    + args[1]);
        }
        int warmPrompt = 0;
        int warmSteps = 0;
        boolean apiWarmUp = args.length == 6 && args[5].equals("warmup=api");
        if (args.length == 6 && !apiWarmUp) {
            String[] pd = args[5].substring("warmup=".length()).split(",");
            warmPrompt = Integer.parseInt(pd[0]);
            warmSteps = Integer.parseInt(pd[1]);
        }
        if (window < 1 || decodeTokens % window != 0) {
            throw new IllegalArgumentException("decodeTokens must be a multiple of window: " + decodeTokens + ", "
                    + window);
        }
        long t0 = System.nanoTime();
        // Loaded as a user loads it (the same model either way), so that warmup=api is the library's warm-up.
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(Path.of(kv[1])).dtype(Precision.BFLOAT16)
                .quantization(Quantization.parse(kv[0])).maxContext(Math.max(1024, promptTokens + decodeTokens))
                .warmUp(apiWarmUp).build();
             KvCache cache = phi.model().newKvCache(Math.max(promptTokens + decodeTokens, warmPrompt + warmSteps))) {
            Phi3VModel model = phi.model();
            System.out.printf(Locale.ROOT, "%s: loaded %s in %.1f s%s%n", kv[0], kv[1], (System.nanoTime() - t0) / 1e9,
                    apiWarmUp ? " (warm-up included)" : "");
            if (warmPrompt > 0) {
                // Seed 0: no timed request reads this prompt (theirs are seeds 1..requests).
                Result warm = run(model, cache, List.of(BenchmarkRunner.textIds(warmPrompt, 0)), 1, Math.max(1,
                        warmSteps));
                System.out.printf(Locale.ROOT, "warm-up: %d prompt tokens %.0f ms, %d steps %.0f ms; JIT compiling "
                        + "%.2f s; minor faults %d%n", warmPrompt, warm.prefillSeconds()[0] * 1e3, Math.max(1,
                        warmSteps), warm.windowSeconds()[0][0] * 1e3, warm.compileSeconds()[0],
                        warm.minorFaults()[0]);
            }
            List<int[]> prompts = new java.util.ArrayList<>();
            for (int r = 0; r < requests; r++) {
                prompts.add(BenchmarkRunner.textIds(lengths[lengths.length == 1 ? 0 : r], r + 1));
            }
            Result res = run(model, cache, prompts, decodeTokens / window, window);
            for (int r = 0; r < requests; r++) {
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
                        "request %d: prefill %.0f ms; ms per token, windows of %d:", r + 1,
                        res.prefillSeconds()[r] * 1e3, window));
                double total = 0;
                for (double s : res.windowSeconds()[r]) {
                    line.append(String.format(Locale.ROOT, " %.0f", s * 1e3 / window));
                    total += s;
                }
                line.append(String.format(Locale.ROOT, "; decode %.3f tok/s; JIT compiling %.2f s; minor faults %d",
                        decodeTokens / total, res.compileSeconds()[r], res.minorFaults()[r]));
                System.out.println(line);
            }
        }
    }
}
