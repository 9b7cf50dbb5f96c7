package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.server.Phi3vServer;
import io.github.phi3v.tooling.bench.BatchThroughputBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code phi3v serve-bench}: aggregate decode throughput of the HTTP server at 1, 2, 4, 8 concurrent streams
 * in one run, on a random-weight Phi-3-V built from the real config (no download). For each stream count B,
 * B streamed chat requests with different prompts are sent at once over loopback; the server decodes them
 * together (continuous batching). Two rates per B:
 * <ul>
 *   <li><b>decode</b>: tokens decoded by the model's batched steps ({@link Phi3Vision#decodeStepsByBatchSize()},
 *       sampled every 2 ms) while all B streams were decoding (from the moment the last stream got its first
 *       chunk to the moment the first stream got its last), per second: the batched decode rate without the
 *       prefills, which the server runs one at a time;</li>
 *   <li><b>end to end</b>: completion tokens of all streams / wall time from sending to the last answer.</li>
 * </ul>
 * With {@code --kernel}, the same model's {@code decodeStep} rate (no server, no sampling) is measured right
 * before each server level, for comparison in the same minutes (the VM's speed drifts within a run).
 */
@Command(name = "serve-bench", mixinStandardHelpOptions = true,
        description = "Aggregate decode tokens/s of phi3v serve (continuous batching) at several concurrent streams, "
                + "in one run, on a full-size random-weight Phi-3-V (no download).",
        footer = {"", "Example:", "  phi3v serve-bench --cache-dir /tmp/phi3v-batch-bench --streams 1,2,4,8 --kernel"
                + " --packed-decode-weights"})
final class ServeBenchCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Mixin
    VerboseOption verbose;

    @Option(names = "--config", paramLabel = "FILE", defaultValue = "../shared/golden/phi3v-128k-config/config.json",
            description = "config.json of the architecture (default: ${DEFAULT-VALUE}).")
    Path config;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Keep the random model folder here between runs (7.6 GB in bf16); default: a temporary "
                    + "folder.")
    Path cacheDir;

    @Option(names = "--layers", paramLabel = "N", defaultValue = "0",
            description = "Decoder layers (0 = the config's; fewer for a quick mid-size run).")
    int layers;

    @Option(names = "--dtype", paramLabel = "DTYPE", defaultValue = "bfloat16",
            description = "Weights dtype: bfloat16 or float32 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--streams", paramLabel = "LIST", split = ",", defaultValue = "1,2,4,8",
            description = "Concurrent streams to measure, in order (default: ${DEFAULT-VALUE}).")
    List<Integer> streams;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "48",
            description = "New tokens per request (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--prompt-words", paramLabel = "N", defaultValue = "16",
            description = "Random words per prompt (default: ${DEFAULT-VALUE}).")
    int promptWords;

    @Option(names = "--packed-decode-weights",
            description = "Load with packed decode weights (Phi3VisionBuilder.packedDecodeWeights; bfloat16 only).")
    boolean packedDecodeWeights;

    @Option(names = "--kernel", description = "Also time the model's batched decodeStep without the server.")
    boolean kernel;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Precision precision = Precision.parse(dtype);
        Path dir = BatchThroughputBench.randomModel(config, cacheDir, layers, precision);
        int max = streams.stream().mapToInt(Integer::intValue).max().orElse(1);
        long t0 = System.nanoTime();
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(dir).dtype(precision).maxContext(1024)
                .maxBatchSize(max).maxConcurrentRequests(max).packedDecodeWeights(packedDecodeWeights)
                .imageLoader(ImageLoader.forUntrustedInput()).build()) {
            out.printf(Locale.ROOT, "loaded %s (%s%s) in %.1f s; load average %s%n", dir.getFileName(),
                    precision.label(), packedDecodeWeights ? ", packed decode weights" : "",
                    (System.nanoTime() - t0) / 1e9, loadAverage());
            out.flush();
            try (Phi3vServer server = Phi3vServer.builder(phi).port(0).modelName("bench").maxRunning(max).build()
                    .start()) {
                HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
                run(http, server, phi, 1, 4);   // warm-up, not printed
                if (kernel) {
                    BatchThroughputBench.decodeStep(phi.model(), new int[] {1, 2}, 32, 2);   // warm-up
                }
                double singleKernel = 0;
                double singleDecode = 0;
                double singleEnd = 0;
                for (int b : streams) {
                    // Kernel and server for one B back to back: the VM's speed drifts, the two are compared here.
                    if (kernel) {
                        double rate = BatchThroughputBench.decodeStep(phi.model(), new int[] {b}, 32, 16)[0];
                        singleKernel = b == 1 ? rate : singleKernel;
                        out.printf(Locale.ROOT, "decodeStep B=%d: %.2f tok/s (%.0f ms/step)%s%n", b, rate,
                                1000.0 * b / rate, ratio(rate, singleKernel));
                        out.flush();
                    }
                    Level level = run(http, server, phi, b, maxTokens);
                    singleDecode = b == 1 ? level.decodeRate : singleDecode;
                    singleEnd = b == 1 ? level.endToEndRate : singleEnd;
                    out.printf(Locale.ROOT, "server     B=%d: decode %.2f tok/s (%.0f ms/step)%s; end to end %.2f tok/s%s;"
                            + " %d tokens (%d decoded in a %.1f s window); load average %s%n", b, level.decodeRate,
                            1000.0 * b / level.decodeRate, ratio(level.decodeRate, singleDecode), level.endToEndRate,
                            ratio(level.endToEndRate, singleEnd), level.tokens, level.windowTokens,
                            level.windowSeconds, loadAverage());
                    out.flush();
                }
                out.println("batch-size histogram (/metrics):");
                HttpResponse<String> m = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.port() + "/metrics")).GET().build(), HttpResponse.BodyHandlers.ofString());
                m.body().lines().filter(l -> l.startsWith("phi3v_batch_size")).forEach(out::println);
            }
        }
        return 0;
    }

    private static String ratio(double rate, double single) {
        return single > 0 ? String.format(Locale.ROOT, " (%.2fx)", rate / single) : "";
    }

    /** One stream count's measurement. */
    private record Level(double decodeRate, double endToEndRate, long tokens, long windowTokens,
            double windowSeconds) {
    }

    /** Tokens decoded by batched steps so far: the sum of b x (steps of batch size b). */
    private static long decodedTokens(Phi3Vision phi) {
        long[] steps = phi.decodeStepsByBatchSize();
        long n = 0;
        for (int b = 1; b < steps.length; b++) {
            n += b * steps[b];
        }
        return n;
    }

    /** What one stream saw: arrival times of its content chunks and its usage. */
    private static final class Stream {
        final List<Long> chunkNanos = new ArrayList<>();
        long completionTokens;
    }

    private Level run(HttpClient http, Phi3vServer server, Phi3Vision phi, int b, int tokens) throws Exception {
        CyclicBarrier start = new CyclicBarrier(b);
        List<long[]> samples = java.util.Collections.synchronizedList(new ArrayList<>());   // {nanos, tokens}
        java.util.concurrent.atomic.AtomicBoolean sampling = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                samples.add(new long[] {System.nanoTime(), decodedTokens(phi)});
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "serve-bench-sampler");
        sampler.start();
        List<CompletableFuture<Stream>> calls = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < b; i++) {
            String body = requestBody(i, b, tokens);
            calls.add(CompletableFuture.supplyAsync(() -> {
                try {
                    start.await();
                    return stream(http, server.port(), body);
                } catch (Exception e) {
                    throw new IllegalStateException("stream failed: " + e, e);
                }
            }, r -> new Thread(r, "serve-bench-client").start()));
        }
        List<Stream> done = new ArrayList<>();
        try {
            for (CompletableFuture<Stream> c : calls) {
                done.add(c.get(30, TimeUnit.MINUTES));
            }
        } finally {
            sampling.set(false);
            sampler.join();
        }
        long end = System.nanoTime();
        long windowStart = Long.MIN_VALUE;
        long windowEnd = Long.MAX_VALUE;
        long total = 0;
        for (Stream s : done) {
            if (s.chunkNanos.isEmpty()) {
                throw new IllegalStateException("a stream received no content");
            }
            windowStart = Math.max(windowStart, s.chunkNanos.get(0));
            windowEnd = Math.min(windowEnd, s.chunkNanos.get(s.chunkNanos.size() - 1));
            total += s.completionTokens;
        }
        // The first sample inside the window and the last one: the tokens the batch decoded between them.
        long[] first = null;
        long[] last = null;
        synchronized (samples) {
            for (long[] sample : samples) {
                if (sample[0] >= windowStart && sample[0] <= windowEnd) {
                    first = first == null ? sample : first;
                    last = sample;
                }
            }
        }
        long windowTokens = first == null ? 0 : last[1] - first[1];
        double windowSeconds = first == null ? 0 : (last[0] - first[0]) / 1e9;
        double decode = windowSeconds > 0 ? windowTokens / windowSeconds : Double.NaN;
        return new Level(decode, total / ((end - t0) / 1e9), total, windowTokens, windowSeconds);
    }

    private String requestBody(int i, int b, int tokens) {
        SplittableRandom rnd = new SplittableRandom(31L * (i + 1) + b);
        StringBuilder words = new StringBuilder();
        for (int w = 0; w < promptWords; w++) {
            words.append("word").append(rnd.nextInt(1000)).append(' ');
        }
        ObjectNode req = JSON.createObjectNode().put("model", "bench").put("max_tokens", tokens).put("stream", true);
        req.putObject("stream_options").put("include_usage", true);
        req.putArray("messages").addObject().put("role", "user").put("content", words.toString().trim());
        return req.toString();
    }

    private static Stream stream(HttpClient http, int port, String body) throws Exception {
        HttpResponse<java.util.stream.Stream<String>> r = http.send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + port + "/v1/chat/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("HTTP " + r.statusCode());
        }
        Stream s = new Stream();
        r.body().forEach(line -> {
            if (!line.startsWith("data: {")) {
                return;
            }
            long now = System.nanoTime();
            JsonNode chunk;
            try {
                chunk = JSON.readTree(line.substring("data: ".length()));
            } catch (java.io.IOException e) {
                throw new IllegalStateException("bad event: " + line, e);
            }
            JsonNode content = chunk.at("/choices/0/delta/content");
            if (content.isTextual() && !content.asText().isEmpty()) {
                s.chunkNanos.add(now);
            }
            JsonNode usage = chunk.get("usage");
            if (usage != null && usage.isObject()) {
                s.completionTokens = usage.get("completion_tokens").asLong();
            }
        });
        return s;
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
