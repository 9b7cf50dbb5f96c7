package io.github.phi3v.server;

import java.time.Duration;
import java.util.Objects;

import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.image.ImageLoader;

/**
 * An OpenAI-compatible HTTP server for one loaded {@link Phi3Vision}: {@code POST /v1/chat/completions}
 * (plain and streamed), {@code GET /v1/models}, {@code GET /health} and {@code GET /metrics}
 * (Prometheus). Requests are stateless, so any number of instances can serve behind a load balancer.
 *
 * <pre>{@code
 * try (Phi3Vision model = Phi3Vision.builder().modelId("microsoft/Phi-3-vision-128k-instruct")
 *              .imageLoader(ImageLoader.forUntrustedInput()).build();
 *      Phi3vServer server = Phi3vServer.builder(model).port(8000).apiKey(System.getenv("PHI3V_API_KEY"))
 *              .build().start()) {
 *     server.awaitClose();
 * }
 * }</pre>
 *
 * <p><b>Safety.</b> Image URLs of requests are fetched by the model's {@link ImageLoader}: the server
 * refuses to start on a model whose loader reads {@code file:} URLs or reaches private addresses (build the
 * model with {@link ImageLoader#forUntrustedInput()}, adding {@code allowHosts} for an internal image store).
 * Text is always encoded literally (no special tokens from users); bodies, images per request, running and
 * queued requests are bounded; the API key is compared in constant time.
 *
 * <p><b>Closing.</b> {@link #close()} refuses new and queued requests with 503, lets running ones finish
 * (up to {@link ServerOptions#shutdownTimeout()}, then cancels them at their next token) and stops the
 * HTTP server. The model is the caller's: it is not closed.
 */
public final class Phi3vServer implements AutoCloseable {

    private final Phi3Vision model;
    private final ServerOptions options;
    private final Admission admission;
    private final ServerMetrics metrics;
    private final Server jetty;
    private final ServerConnector connector;
    private volatile boolean closed;

    private Phi3vServer(Phi3Vision model, ServerOptions options, ChatBackend backend) {
        this.model = model;
        this.options = options;
        this.admission = new Admission(options.maxRunning(), options.maxQueue());
        this.metrics = new ServerMetrics(admission::running, admission::queued, this::kvBytes,
                this::decodeStepsByBatchSize);
        ChatCompletionParser parser = new ChatCompletionParser(options.modelName(), options.maxImagesPerRequest(),
                options.defaultMaxTokens());
        ChatEndpoint chat = new ChatEndpoint(parser, backend, admission, metrics, options.modelName());
        // Threads: running + queued requests block one each; the rest answer refusals, health and metrics.
        QueuedThreadPool pool = new QueuedThreadPool(Math.max(32, options.maxRunning() + options.maxQueue() + 16));
        pool.setName("phi3v-http");
        this.jetty = new Server(pool);
        this.connector = new ServerConnector(jetty, 1, 1);
        connector.setHost(options.host());
        connector.setPort(options.port());
        // A non-streamed answer of a large model sends nothing for minutes: do not time it out.
        connector.setIdleTimeout(Duration.ofMinutes(10).toMillis());
        jetty.addConnector(connector);
        jetty.setHandler(new ApiHandler(options, chat, metrics, admission));
        // Draining is done by Admission (running requests finish first); then idle keep-alive connections
        // are simply closed, with no further graceful wait.
        jetty.setStopTimeout(0);
    }

    /**
     * A builder with {@link ServerOptions#defaults(String)}, the model name taken from the model folder's
     * name.
     *
     * @param model the loaded model (stays the caller's to close)
     * @return the builder
     */
    public static Builder builder(Phi3Vision model) {
        return new Builder(model);
    }

    /**
     * Creates and starts a server.
     *
     * @param model the loaded model
     * @param options the options
     * @return the running server
     * @throws IllegalArgumentException if the model's image loader is not safe for untrusted input
     * @throws IllegalStateException if the port cannot be bound
     */
    public static Phi3vServer start(Phi3Vision model, ServerOptions options) {
        return create(model, options).start();
    }

    private static Phi3vServer create(Phi3Vision model, ServerOptions options) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        requireSafeLoader(model.imageProcessor().loader());
        if (model.isClosed()) {
            throw new IllegalStateException("the model is closed; load it again before serving it");
        }
        if (options.maxRunning() > model.limits().maxConcurrentRequests()) {
            throw new IllegalArgumentException("maxRunning " + options.maxRunning() + " exceeds the model's"
                    + " maxConcurrentRequests " + model.limits().maxConcurrentRequests() + ", so the model would refuse running"
                    + " requests; lower maxRunning or build the model with maxConcurrentRequests(n)");
        }
        return new Phi3vServer(model, options, ChatBackend.batched(model));
    }

    static void requireSafeLoader(ImageLoader loader) {
        if (loader.allowFileUrls() || loader.allowPrivateAddresses()) {
            throw new IllegalArgumentException("the model's image loader "
                    + (loader.allowFileUrls() ? "reads file: URLs" : "reaches private addresses")
                    + ", which would let any client read this machine's files or internal services; build the"
                    + " model with .imageLoader(ImageLoader.forUntrustedInput()) (allowHosts(...) admits chosen"
                    + " internal hosts)");
        }
    }

    /**
     * Binds the port and starts answering.
     *
     * @return this server
     * @throws IllegalStateException if it cannot start (port in use) or was closed
     */
    public synchronized Phi3vServer start() {
        if (closed) {
            throw new IllegalStateException("this server was closed; create a new one");
        }
        if (jetty.isStarted()) {
            return this;
        }
        try {
            jetty.start();
        } catch (Exception e) {
            try {
                jetty.stop();
            } catch (Exception ignored) {
                // already failing
            }
            throw new IllegalStateException("could not start the server on " + options.host() + ":"
                    + options.port() + ": " + e.getMessage(), e);
        }
        return this;
    }

    /**
     * The port the server listens on (the chosen one when {@link ServerOptions#port()} was 0).
     *
     * @return the port, or -1 before {@link #start()}
     */
    public int port() {
        return connector.getLocalPort();
    }

    /**
     * The options it runs with.
     *
     * @return the options
     */
    public ServerOptions options() {
        return options;
    }

    /**
     * The base URL clients use, e.g. {@code http://127.0.0.1:8000/v1}.
     *
     * @return the URL of the {@code /v1} API
     */
    public String baseUrl() {
        String host = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        return "http://" + host + ":" + port() + "/v1";
    }

    /**
     * The model being served.
     *
     * @return the model
     */
    public Phi3Vision model() {
        return model;
    }

    /** Blocks until the server has stopped (another thread called {@link #close()}). */
    public void awaitClose() {
        try {
            jetty.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    String metricsText() {
        return metrics.render();
    }

    ServerMetrics metrics() {
        return metrics;
    }

    private long[] decodeStepsByBatchSize() {
        try {
            return model.decodeStepsByBatchSize();
        } catch (RuntimeException e) {
            return new long[0];   // closed model
        }
    }

    private long kvBytes() {
        try {
            return model.kvCacheBytesInUse();
        } catch (RuntimeException e) {
            return 0;   // closed model
        }
    }

    /**
     * Graceful stop: new and queued requests get 503, running ones finish (cancelled at their next token
     * after {@link ServerOptions#shutdownTimeout()}), then the port is released. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        admission.close();
        if (!admission.awaitIdle(Admission.nanos(options.shutdownTimeout()))) {
            admission.cancelRunning();
            admission.awaitIdle(Admission.nanos(Duration.ofSeconds(10)));
        }
        try {
            jetty.stop();
        } catch (Exception e) {
            throw new IllegalStateException("stopping the HTTP server failed: " + e.getMessage(), e);
        }
    }

    /** Builds a {@link Phi3vServer}; not thread-safe. */
    public static final class Builder {
        private final Phi3Vision model;
        private String host = ServerOptions.DEFAULT_HOST;
        private int port = ServerOptions.DEFAULT_PORT;
        private String apiKey;
        private String modelName;
        private int maxRunning;
        private int maxQueue = ServerOptions.DEFAULT_MAX_QUEUE;
        private long maxBodyBytes = ServerOptions.DEFAULT_MAX_BODY_BYTES;
        private int maxImagesPerRequest = ServerOptions.DEFAULT_MAX_IMAGES_PER_REQUEST;
        private int defaultMaxTokens = ServerOptions.DEFAULT_MAX_TOKENS;
        private Duration shutdownTimeout = ServerOptions.DEFAULT_SHUTDOWN_TIMEOUT;

        private Builder(Phi3Vision model) {
            this.model = Objects.requireNonNull(model, "model");
            // As many running requests as one batched step decodes: more would wait in the model's queue.
            this.maxRunning = Math.min(model.limits().maxBatchSize(), model.limits().maxConcurrentRequests());
        }

        /**
         * The bind address (default {@value ServerOptions#DEFAULT_HOST}).
         *
         * @param h an address or host name; {@code 0.0.0.0} for every interface
         * @return this builder
         */
        public Builder host(String h) {
            this.host = h;
            return this;
        }

        /**
         * The port (default {@value ServerOptions#DEFAULT_PORT}).
         *
         * @param p 0 for a free port
         * @return this builder
         */
        public Builder port(int p) {
            this.port = p;
            return this;
        }

        /**
         * The API key clients must send as {@code Authorization: Bearer <key>} (default: none).
         *
         * @param key the key, or null for none
         * @return this builder
         */
        public Builder apiKey(String key) {
            this.apiKey = key;
            return this;
        }

        /**
         * The model id of the API (default: the model folder's name, e.g. {@code Phi-3-vision-128k-instruct}).
         *
         * @param name the id clients send as {@code model}
         * @return this builder
         */
        public Builder modelName(String name) {
            this.modelName = name;
            return this;
        }

        /**
         * Requests generating at once (default: the model's {@link io.github.phi3v.core.Limits#maxBatchSize()}, at most its
         * {@link io.github.phi3v.core.Limits#maxConcurrentRequests()}); these are decoded together by continuous batching.
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder maxRunning(int n) {
            this.maxRunning = n;
            return this;
        }

        /**
         * Requests waiting for a slot (default {@value ServerOptions#DEFAULT_MAX_QUEUE}); more get 429.
         *
         * @param n at least 0
         * @return this builder
         */
        public Builder maxQueue(int n) {
            this.maxQueue = n;
            return this;
        }

        /**
         * The largest request body (default 32 MiB); larger ones get 413.
         *
         * @param bytes at least 1
         * @return this builder
         */
        public Builder maxBodyBytes(long bytes) {
            this.maxBodyBytes = bytes;
            return this;
        }

        /**
         * The most images in one request (default {@value ServerOptions#DEFAULT_MAX_IMAGES_PER_REQUEST}).
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder maxImagesPerRequest(int n) {
            this.maxImagesPerRequest = n;
            return this;
        }

        /**
         * New tokens when a request sets no {@code max_tokens} (default {@value ServerOptions#DEFAULT_MAX_TOKENS}).
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder defaultMaxTokens(int n) {
            this.defaultMaxTokens = n;
            return this;
        }

        /**
         * How long {@link #close()} waits for running requests (default 30 s).
         *
         * @param timeout zero or more
         * @return this builder
         */
        public Builder shutdownTimeout(Duration timeout) {
            this.shutdownTimeout = timeout;
            return this;
        }

        /**
         * The options collected so far.
         *
         * @return the options
         * @throws IllegalArgumentException naming an option out of range
         */
        public ServerOptions options() {
            String name = modelName != null ? modelName : defaultModelName(model);
            return new ServerOptions(host, port, apiKey, name, maxRunning, maxQueue, maxBodyBytes,
                    maxImagesPerRequest, defaultMaxTokens, shutdownTimeout);
        }

        /**
         * Creates the server (not started).
         *
         * @return the server; call {@link Phi3vServer#start()}
         * @throws IllegalArgumentException for an option out of range or an unsafe image loader
         */
        public Phi3vServer build() {
            return create(model, options());
        }
    }

    static String defaultModelName(Phi3Vision model) {
        java.nio.file.Path dir = model.modelDir();
        // hub snapshots live in .../models--org--name/snapshots/<hash>: name the repository, not the hash
        for (java.nio.file.Path p = dir; p != null; p = p.getParent()) {
            java.nio.file.Path f = p.getFileName();
            if (f != null && f.toString().startsWith("models--")) {
                return f.toString().substring("models--".length()).replace("--", "/");
            }
        }
        return dir.getFileName() == null ? "phi3v" : dir.getFileName().toString();
    }
}
