package io.github.phi3v.tooling.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.Logits;

/**
 * Decode speed of several model variants (bf16, int8, int4) loaded side by side in one process, their decode
 * steps interleaved in short windows, so that every variant decodes in the same minutes of the machine.
 *
 * <p>Why: {@code phi3v bench} runs the variants one after the other, minutes apart, and this VM's speed moves
 * by 20-40 % within minutes: seven bench runs in one hour gave int4/int8 decode ratios of 0.89-1.73x at 779
 * positions (docs/benchmarks.md, "Issue #20 runs on an AMD EPYC with AVX-512 VNNI and BF16"). Here each round
 * decodes one window of {@code window} tokens on every variant, the order reversed every other round (so a
 * drift of the machine during a round favours no variant), and a ratio is taken per round as well as over all
 * rounds. Each variant first reads the same random text prompt of {@code positions} tokens into its own KV
 * cache, then decodes one untimed window (JIT, first touch of the cache's pages).
 *
 * <p>The variants must fit in memory together: bf16, int8 and int4 of Phi-3-vision held 16.9 GB of RSS after
 * loading (docs/benchmarks.md), so all three fit on a 24 GB machine.
 *
 * <pre>java -cp "$CP" io.github.phi3v.tooling.bench.InterleavedDecodeProbe [bfloat16|float32] positions rounds
 *     window variant=DIR ...</pre>
 * where {@code variant} is {@code none}, {@code int8} or {@code int4} and {@code DIR} a model folder (the
 * bench's random model, or a pre-quantized folder of it).
 */
public final class InterleavedDecodeProbe {

    private InterleavedDecodeProbe() {
    }

    /**
     * What the interleaved decode measured.
     *
     * @param roundSeconds per round and variant, the window's decode time ({@code [rounds][variants]})
     * @param tokens per variant, the greedy tokens decoded: the first from the prompt, then every step's
     */
    record Result(double[][] roundSeconds, int[][] tokens) {

        /** Tokens per second of variant {@code v} over all rounds. */
        double tokensPerSecond(int v, int window) {
            double s = 0;
            for (double[] round : roundSeconds) {
                s += round[v];
            }
            return roundSeconds.length * window / s;
        }

        /** Per round, variant {@code v}'s speed over variant {@code base}'s (time of base / time of v). */
        double[] roundRatios(int v, int base) {
            return Arrays.stream(roundSeconds).mapToDouble(r -> r[base] / r[v]).toArray();
        }
    }

    /**
     * Reads the same prompt into every model's cache, decodes one untimed window on each, then {@code rounds}
     * rounds of one timed window per model, greedy (stop tokens ignored).
     *
     * @param models the variants, loaded
     * @param caches one cache per model, empty, of capacity {@code prompt.length + (rounds + 1) * window} at least
     * @param prompt the prompt's token ids
     * @param rounds timed rounds (at least 1)
     * @param window decode steps per model and round (at least 1)
     * @return the times and tokens
     */
    static Result run(List<Phi3VModel> models, List<KvCache> caches, int[] prompt, int rounds, int window) {
        Objects.requireNonNull(models, "models");
        Objects.requireNonNull(caches, "caches");
        if (models.isEmpty() || models.size() != caches.size()) {
            throw new IllegalArgumentException("one cache per model, and at least one model: " + models.size()
                    + " models, " + caches.size() + " caches");
        }
        if (rounds < 1 || window < 1 || prompt.length < 1) {
            throw new IllegalArgumentException("rounds, window and the prompt must be at least 1: rounds " + rounds
                    + ", window " + window + ", prompt " + prompt.length);
        }
        int n = models.size();
        int[][] tokens = new int[n][1 + (rounds + 1) * window];
        for (int v = 0; v < n; v++) {
            tokens[v][0] = Logits.argmax(models.get(v).forward(prompt, List.of(), caches.get(v), 0));
            WindowedDecode.steps(models.get(v), caches.get(v), tokens[v], 1, window);                      // untimed warm-up
        }
        double[][] seconds = new double[rounds][n];
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < n; i++) {
                int v = r % 2 == 0 ? i : n - 1 - i;
                seconds[r][v] = WindowedDecode.steps(models.get(v), caches.get(v), tokens[v], 1 + (r + 1) * window,
                        window);
            }
        }
        return new Result(seconds, tokens);
    }

    /**
     * Loads the variants, runs {@link #run} and prints per round and overall each variant's decode speed, and
     * for every pair of variants the ratio of their speeds: overall and the range and median over the rounds.
     *
     * @param args see the class comment
     */
    public static void main(String[] args) {
        int a = 0;
        Precision precision = Precision.BFLOAT16;
        if (args.length > 0 && (args[0].equals("bfloat16") || args[0].equals("float32"))) {
            precision = Precision.parse(args[a++]);
        }
        if (args.length - a < 4) {
            throw new IllegalArgumentException("usage: InterleavedDecodeProbe [bfloat16|float32] positions rounds "
                    + "window variant=DIR ...");
        }
        int positions = Integer.parseInt(args[a++]);
        int rounds = Integer.parseInt(args[a++]);
        int window = Integer.parseInt(args[a++]);
        List<String> names = new ArrayList<>();
        List<Phi3VModel> models = new ArrayList<>();
        List<KvCache> caches = new ArrayList<>();
        try {
            for (; a < args.length; a++) {
                String[] kv = args[a].split("=", 2);
                if (kv.length != 2) {
                    throw new IllegalArgumentException("expected variant=DIR, got " + args[a]);
                }
                Quantization q = Quantization.parse(kv[0]);
                ModelOptions options = new ModelOptions(precision, ModelOptions.Device.CPU, 0).withQuantization(q);
                long t0 = System.nanoTime();
                Phi3VModel model = Phi3VModel.load(Path.of(kv[1]), options);
                models.add(model);
                caches.add(model.newKvCache(positions + (rounds + 1) * window));
                names.add(kv[0]);
                System.out.printf(Locale.ROOT, "%s: loaded %s in %.1f s, RSS %.2f GB%n", kv[0], kv[1],
                        (System.nanoTime() - t0) / 1e9, ProcessMemory.rssBytes() / 1e9);
            }
            Result r = run(models, caches, BenchmarkRunner.textIds(positions, 1), rounds, window);
            for (int round = 0; round < rounds; round++) {
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "round %d:", round + 1));
                for (int v = 0; v < names.size(); v++) {
                    line.append(String.format(Locale.ROOT, " %s %.3f tok/s", names.get(v),
                            window / r.roundSeconds()[round][v]));
                }
                System.out.println(line);
            }
            for (int v = 0; v < names.size(); v++) {
                System.out.printf(Locale.ROOT, "%s: %.3f tok/s over %d rounds of %d tokens at %d-%d positions%n",
                        names.get(v), r.tokensPerSecond(v, window), rounds, window, positions + window,
                        positions + (rounds + 1) * window);
            }
            for (int base = 0; base < names.size(); base++) {
                for (int v = base + 1; v < names.size(); v++) {
                    double[] ratios = r.roundRatios(v, base);
                    Arrays.sort(ratios);
                    double overall = r.tokensPerSecond(v, window) / r.tokensPerSecond(base, window);
                    System.out.printf(Locale.ROOT, "%s / %s: %.2f overall, per round %.2f-%.2f (median %.2f)%n",
                            names.get(v), names.get(base), overall, ratios[0], ratios[ratios.length - 1], median(ratios));
                }
            }
        } finally {
            caches.forEach(KvCache::close);
            models.forEach(Phi3VModel::close);
        }
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
