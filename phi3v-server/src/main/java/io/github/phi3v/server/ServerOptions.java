package io.github.phi3v.server;

import java.time.Duration;
import java.util.Objects;

/**
 * Everything a {@link Phi3vServer} needs besides the model, as one immutable value (what the CLI's
 * {@code phi3v serve} and {@link ServerMain} fill from their flags). Build it with
 * {@link Phi3vServer#builder(io.github.phi3v.core.Phi3Vision)} or start from {@link #defaults(String)}.
 *
 * @param host the address to bind; {@code 127.0.0.1} (loopback only) by default, {@code 0.0.0.0} for all
 *     interfaces
 * @param port the TCP port, 0 for a free one ({@link Phi3vServer#port()} tells which)
 * @param apiKey the key clients must send as {@code Authorization: Bearer <key>}, or null for none
 * @param modelName the model id clients send in {@code model} and {@code GET /v1/models} lists
 * @param maxRunning requests generating at once, decoded together by continuous batching (at most the model's
 *     {@code maxConcurrentRequests}; above its {@code maxBatchSize} the rest wait in the model's queue)
 * @param maxQueue requests waiting for a running slot; one more is refused with 429
 * @param maxBodyBytes the largest request body; a larger one is refused with 413 without being parsed (up to
 *     16 MiB of it is read and dropped first, so that a client still sending it receives the answer)
 * @param maxImagesPerRequest the most {@code image_url} parts in one request (all messages together)
 * @param defaultMaxTokens new tokens when a request gives neither {@code max_tokens} nor
 *     {@code max_completion_tokens}
 * @param shutdownTimeout how long {@link Phi3vServer#close()} lets running requests finish before it
 *     cancels them
 */
public record ServerOptions(String host, int port, String apiKey, String modelName, int maxRunning, int maxQueue,
        long maxBodyBytes, int maxImagesPerRequest, int defaultMaxTokens, Duration shutdownTimeout) {

    /** Default bind address: loopback only. */
    public static final String DEFAULT_HOST = "127.0.0.1";
    /** Default port (the one vLLM and many OpenAI-compatible servers use). */
    public static final int DEFAULT_PORT = 8000;
    /** Default running requests: as many as the model decodes in one batched step by default. */
    public static final int DEFAULT_MAX_RUNNING = io.github.phi3v.core.Phi3Vision.DEFAULT_MAX_BATCH_SIZE;
    /** Default waiting requests. */
    public static final int DEFAULT_MAX_QUEUE = 32;
    /** Default body limit: 32 MiB, room for a few base64 photos. */
    public static final long DEFAULT_MAX_BODY_BYTES = 32L << 20;
    /** Default images per request. */
    public static final int DEFAULT_MAX_IMAGES_PER_REQUEST = 8;
    /** Default new tokens when the request does not say. */
    public static final int DEFAULT_MAX_TOKENS = 1024;
    /** Default grace period of {@link Phi3vServer#close()}. */
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    /**
     * Validates the options.
     *
     * @throws IllegalArgumentException naming the option that is out of range
     */
    public ServerOptions {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(modelName, "modelName");
        Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
        if (host.isBlank()) {
            throw new IllegalArgumentException("host must not be blank (e.g. 127.0.0.1 or 0.0.0.0)");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0 (a free port) to 65535, got " + port);
        }
        if (apiKey != null && apiKey.isEmpty()) {
            throw new IllegalArgumentException("apiKey must not be empty; pass null for no key");
        }
        if (modelName.isBlank()) {
            throw new IllegalArgumentException("modelName must not be blank");
        }
        requirePositive("maxRunning", maxRunning);
        if (maxQueue < 0) {
            throw new IllegalArgumentException("maxQueue must be >= 0 (0 refuses every request that cannot run at"
                    + " once), got " + maxQueue);
        }
        requirePositive("maxBodyBytes", maxBodyBytes);
        requirePositive("maxImagesPerRequest", maxImagesPerRequest);
        requirePositive("defaultMaxTokens", defaultMaxTokens);
        if (shutdownTimeout.isNegative()) {
            throw new IllegalArgumentException("shutdownTimeout must be >= 0, got " + shutdownTimeout);
        }
    }

    /**
     * The defaults for a model name: loopback, port {@value #DEFAULT_PORT}, no key and the limits above.
     *
     * @param modelName the id clients send in {@code model}
     * @return the options
     */
    public static ServerOptions defaults(String modelName) {
        return new ServerOptions(DEFAULT_HOST, DEFAULT_PORT, null, modelName, DEFAULT_MAX_RUNNING, DEFAULT_MAX_QUEUE,
                DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_IMAGES_PER_REQUEST, DEFAULT_MAX_TOKENS, DEFAULT_SHUTDOWN_TIMEOUT);
    }

    private static void requirePositive(String name, long value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + value);
        }
    }

    @Override
    public String toString() {
        // never print the key itself
        return "ServerOptions[host=" + host + ", port=" + port + ", apiKey=" + (apiKey == null ? "none" : "set")
                + ", modelName=" + modelName + ", maxRunning=" + maxRunning + ", maxQueue=" + maxQueue
                + ", maxBodyBytes=" + maxBodyBytes + ", maxImagesPerRequest=" + maxImagesPerRequest
                + ", defaultMaxTokens=" + defaultMaxTokens + ", shutdownTimeout=" + shutdownTimeout + "]";
    }
}
