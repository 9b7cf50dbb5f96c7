package io.github.phi3v.server;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import io.github.phi3v.core.generate.Usage;

/**
 * The server's counters, rendered by {@code GET /metrics} in the Prometheus text format (version 0.0.4).
 * Thread-safe.
 */
final class ServerMetrics {

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final LongAdder promptTokens = new LongAdder();
    private final LongAdder cachedPromptTokens = new LongAdder();
    private final LongAdder completionTokens = new LongAdder();
    private final LongAdder cancelled = new LongAdder();
    private final Summary timeToFirstToken = new Summary("phi3v_time_to_first_token_seconds",
            "Time from the start of generation (after queueing) to the first token: image loading, vision, prefill.");
    private final Summary tokensPerSecond = new Summary("phi3v_decode_tokens_per_second",
            "Decode speed of each finished request (tokens after the first per second).");
    private final LongSupplier running;
    private final LongSupplier queued;
    private final LongSupplier kvCacheBytes;
    /** The model's decode steps by batch size (index b: steps of b sequences). */
    private final Supplier<long[]> stepsByBatchSize;

    ServerMetrics(LongSupplier running, LongSupplier queued, LongSupplier kvCacheBytes,
            Supplier<long[]> stepsByBatchSize) {
        this.running = running;
        this.queued = queued;
        this.kvCacheBytes = kvCacheBytes;
        this.stepsByBatchSize = stepsByBatchSize;
    }

    /** Counts a finished HTTP request by endpoint and status. */
    void request(String endpoint, int status) {
        requests.computeIfAbsent(endpoint + "\u0000" + status, k -> new LongAdder()).increment();
    }

    /** Counts a generation that ran (also one that was cancelled). */
    void generation(Usage usage, boolean wasCancelled) {
        promptTokens.add(usage.promptTokens());
        cachedPromptTokens.add(usage.cachedPromptTokens());
        completionTokens.add(usage.generatedTokens());
        timeToFirstToken.observe(usage.timeToFirstTokenMillis() / 1000.0);
        if (usage.tokensPerSecond() > 0) {
            tokensPerSecond.observe(usage.tokensPerSecond());
        }
        if (wasCancelled) {
            cancelled.increment();
        }
    }

    long requests(String endpoint, int status) {
        LongAdder a = requests.get(endpoint + "\u0000" + status);
        return a == null ? 0 : a.sum();
    }

    long cancelled() {
        return cancelled.sum();
    }

    long completionTokens() {
        return completionTokens.sum();
    }

    String render() {
        StringBuilder out = new StringBuilder(2048);
        out.append("# HELP phi3v_requests_total HTTP requests by endpoint and status.\n");
        out.append("# TYPE phi3v_requests_total counter\n");
        Map<String, Long> sorted = new TreeMap<>();
        requests.forEach((k, v) -> sorted.put(k, v.sum()));
        sorted.forEach((k, v) -> {
            String[] parts = k.split("\u0000");
            out.append("phi3v_requests_total{endpoint=\"").append(parts[0]).append("\",status=\"").append(parts[1])
                    .append("\"} ").append(v).append('\n');
        });
        counter(out, "phi3v_prompt_tokens_total", "Prompt tokens of generations (image tokens included).",
                promptTokens.sum());
        counter(out, "phi3v_cached_prompt_tokens_total", "Prompt tokens taken from the prefix cache.",
                cachedPromptTokens.sum());
        counter(out, "phi3v_completion_tokens_total", "Generated tokens.", completionTokens.sum());
        counter(out, "phi3v_cancelled_requests_total",
                "Generations cancelled because the client went away (or at shutdown).", cancelled.sum());
        gauge(out, "phi3v_running_requests", "Requests generating now (decoded together, continuous batching).",
                running.getAsLong());
        gauge(out, "phi3v_queue_length", "Requests waiting for a running slot.", queued.getAsLong());
        gauge(out, "phi3v_kv_cache_bytes", "Native bytes held by KV caches (running and prefix-cached).",
                kvCacheBytes.getAsLong());
        batchSizeHistogram(out, stepsByBatchSize.get());
        timeToFirstToken.render(out);
        tokensPerSecond.render(out);
        return out.toString();
    }

    /** Decode steps by the number of sequences each decoded together: one bucket per batch size. */
    static void batchSizeHistogram(StringBuilder out, long[] steps) {
        String name = "phi3v_batch_size";
        out.append("# HELP ").append(name).append(" Sequences decoded together per batched decode step.\n");
        out.append("# TYPE ").append(name).append(" histogram\n");
        long count = 0;
        long sum = 0;
        for (int b = 1; b < steps.length; b++) {
            count += steps[b];
            sum += b * steps[b];
            out.append(name).append("_bucket{le=\"").append(b).append("\"} ").append(count).append('\n');
        }
        out.append(name).append("_bucket{le=\"+Inf\"} ").append(count).append('\n');
        out.append(name).append("_sum ").append(sum).append('\n');
        out.append(name).append("_count ").append(count).append('\n');
    }

    /** Decode steps so far whose batch held at least {@code b} sequences. */
    long stepsWithBatchOfAtLeast(int b) {
        long[] steps = stepsByBatchSize.get();
        long n = 0;
        for (int i = Math.max(1, b); i < steps.length; i++) {
            n += steps[i];
        }
        return n;
    }

    private static void counter(StringBuilder out, String name, String help, long value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" counter\n").append(name).append(' ').append(value).append('\n');
    }

    private static void gauge(StringBuilder out, String name, String help, long value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" gauge\n").append(name).append(' ').append(value).append('\n');
    }
}
