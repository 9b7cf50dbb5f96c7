package io.github.phi3v.tooling.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.tooling.random.RandomModel;
import io.github.phi3v.core.weights.DType;

/**
 * Aggregate decode throughput of continuous batching at 1, 2, 4, 8 concurrent streams, in one run, on a
 * random-weight Phi-3-V built from a real {@code config.json} (as {@code phi3v bench} does). Two levels:
 * <ul>
 *   <li><b>decodeStep</b>: B caches prefilled with different random prompts, then {@code --decode-tokens}
 *       batched steps timed; aggregate tok/s = B x steps / time (B = 1 is exactly the single-stream
 *       {@code forward} path);</li>
 *   <li><b>submit</b>: B text requests of {@code --decode-tokens} new tokens submitted at once to
 *       {@link Phi3Vision#submit}; aggregate tok/s = generated tokens / wall time from the first submit to
 *       the last answer (prefills included).</li>
 * </ul>
 * Not a test: run by hand, see docs/benchmarks.md ("Batched decoding"). Options: {@code --config FILE},
 * {@code --cache-dir DIR} (keeps the model folder), {@code --layers N} (a mid-size model: the config with
 * N decoder layers), {@code --streams 1,2,4,8}, {@code --decode-tokens 16}, {@code --prompt-tokens 32},
 * {@code --dtype bfloat16|float32}, {@code --skip-submit}.
 */
public final class BatchThroughputBench {

    private BatchThroughputBench() {
    }

    /**
     * Runs the measurement and prints one line per level and stream count.
     *
     * @param args the options above
     * @throws Exception if the model cannot be written or loaded
     */
    public static void main(String[] args) throws Exception {
        Path config = Path.of("../shared/golden/phi3v-128k-config/config.json");
        Path cacheDir = null;
        int layers = 0;
        int[] streams = {1, 2, 4, 8};
        int decodeTokens = 16;
        int promptTokens = 32;
        Precision precision = Precision.BFLOAT16;
        boolean submit = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--config" -> config = Path.of(args[++i]);
                case "--cache-dir" -> cacheDir = Path.of(args[++i]);
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--streams" -> streams = java.util.Arrays.stream(args[++i].split(","))
                        .mapToInt(Integer::parseInt).toArray();
                case "--decode-tokens" -> decodeTokens = Integer.parseInt(args[++i]);
                case "--prompt-tokens" -> promptTokens = Integer.parseInt(args[++i]);
                case "--dtype" -> precision = Precision.parse(args[++i]);
                case "--skip-submit" -> submit = false;
                default -> throw new IllegalArgumentException("unknown option " + args[i] + "; see the class Javadoc");
            }
        }
        Path dir = randomModel(config, cacheDir, layers, precision);
        Phi3VConfig cfg = Phi3VConfig.fromDirectory(dir);
        int maxStreams = java.util.Arrays.stream(streams).max().orElse(1);
        long t0 = System.nanoTime();
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(dir).dtype(precision).maxContext(1024)
                .maxBatchSize(maxStreams).build()) {
            System.out.printf(Locale.ROOT, "loaded %d layers, %s, in %.1f s; threads %s, load average %s%n",
                    cfg.numHiddenLayers(), precision.label(), (System.nanoTime() - t0) / 1e9,
                    System.getenv().getOrDefault("OMP_NUM_THREADS", "default"), loadAverage());
            Phi3VModel model = phi.model();
            decodeStep(model, new int[] {1, 2}, promptTokens, 2);       // warm-up (both kernel modes), not printed
            double single = 0;
            for (int b : streams) {
                double rate = decodeStep(model, new int[] {b}, promptTokens, decodeTokens)[0];
                single = b == 1 ? rate : single;
                System.out.printf(Locale.ROOT, "decodeStep  B=%d: %.2f tok/s aggregate (%.0f ms/step)%s%n", b, rate,
                        1000.0 * b / rate, single > 0 ? String.format(Locale.ROOT, ", %.2fx the single stream",
                                rate / single) : "");
            }
            if (submit) {
                single = 0;
                for (int b : streams) {
                    double rate = submit(phi, b, promptTokens, decodeTokens);
                    single = b == 1 ? rate : single;
                    System.out.printf(Locale.ROOT, "submit      B=%d: %.2f tok/s aggregate%s%n", b, rate,
                            single > 0 ? String.format(Locale.ROOT, ", %.2fx the single stream", rate / single) : "");
                }
            }
            System.out.println("load average at the end " + loadAverage());
        }
    }

    /**
     * The random-weight model folder for a real {@code config.json} (optionally cut to {@code layers} decoder
     * layers), written on first use under {@code cacheDir} (a temporary folder if null) and reused after.
     *
     * @param config the architecture's config.json
     * @param cacheDir where the folder is kept, or null
     * @param layers decoder layers, 0 for the config's
     * @param precision bfloat16 or float32 weights
     * @return the model folder
     * @throws java.io.IOException if it cannot be written
     */
    public static Path randomModel(Path config, Path cacheDir, int layers, Precision precision)
            throws java.io.IOException {
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(Files.readString(config));
        if (layers > 0) {
            json.put("num_hidden_layers", layers);
        }
        Phi3VConfig cfg = Phi3VConfig.fromJson(json.toString());
        Path root = cacheDir != null ? cacheDir : Files.createTempDirectory("phi3v-batch-bench-");
        Path dir = root.resolve("phi3v-batch-random-" + precision.label() + "-" + cfg.numHiddenLayers() + "l");
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))) {
            long t0 = System.nanoTime();
            System.out.println("writing random model to " + dir + " ...");
            RandomModel.builder(cfg).dtype(precision == Precision.FLOAT32 ? DType.F32 : DType.BF16)
                    .name("phi3v-batch-bench").build(dir);
            System.out.printf(Locale.ROOT, "written in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        }
        return dir;
    }

    /**
     * Per entry of {@code streams}: aggregate tokens/s of batched steps over that many prefilled caches.
     *
     * @param model the loaded model
     * @param streams batch sizes to measure, in order
     * @param promptTokens prompt length of the first stream (the others 3 more each: ragged caches)
     * @param steps batched steps timed per batch size
     * @return tokens/s per entry
     */
    public static double[] decodeStep(Phi3VModel model, int[] streams, int promptTokens, int steps) {
        double[] out = new double[streams.length];
        for (int s = 0; s < streams.length; s++) {
            int b = streams[s];
            List<KvCache> caches = new ArrayList<>();
            try {
                int[] tokens = new int[b];
                for (int i = 0; i < b; i++) {
                    // Different lengths per stream: ragged caches, as in a real batch.
                    int[] prompt = textIds(promptTokens + 3 * i, 17L * (i + 1));
                    KvCache c = model.newKvCache(prompt.length + steps + 1);
                    caches.add(c);
                    tokens[i] = argmax(model.forward(prompt, List.of(), c, 0));
                }
                long t0 = System.nanoTime();
                for (int step = 0; step < steps; step++) {
                    float[][] logits = model.decodeStep(tokens, caches);
                    for (int i = 0; i < b; i++) {
                        tokens[i] = argmax(logits[i]);
                    }
                }
                out[s] = (double) b * steps / ((System.nanoTime() - t0) / 1e9);
            } finally {
                caches.forEach(KvCache::close);
            }
        }
        return out;
    }

    /** Aggregate tokens/s of {@code b} requests submitted at once, wall time from submit to the last answer. */
    static double submit(Phi3Vision phi, int b, int promptTokens, int decodeTokens) throws Exception {
        GenerationConfig config = GenerationConfig.builder().maxNewTokens(decodeTokens).stopTokenIds().build();
        List<CompletableFuture<Answer>> futures = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < b; i++) {
            SplittableRandom rnd = new SplittableRandom(31L * (i + 1) + b);
            StringBuilder words = new StringBuilder();
            for (int w = 0; w < promptTokens / 2; w++) {
                words.append("word").append(rnd.nextInt(1000)).append(' ');
            }
            futures.add(phi.submit(ChatRequest.builder().config(config).user(words.toString()).build()));
        }
        long tokens = 0;
        for (CompletableFuture<Answer> f : futures) {
            tokens += f.get().usage().generatedTokens();
        }
        return tokens / ((System.nanoTime() - t0) / 1e9);
    }

    static int[] textIds(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed ^ n);
        int[] ids = new int[n];
        ids[0] = 1;
        for (int i = 1; i < n; i++) {
            ids[i] = 259 + rnd.nextInt(29000);
        }
        return ids;
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
