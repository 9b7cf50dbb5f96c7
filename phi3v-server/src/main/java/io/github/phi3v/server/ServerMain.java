package io.github.phi3v.server;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Phi3VisionBuilder;
import io.github.phi3v.image.ImageLoader;

/**
 * Runs the server from the command line:
 * {@code java -cp ... io.github.phi3v.server.ServerMain --model ID|DIR [--port 8000] [--host 127.0.0.1]
 * [--api-key KEY] ...} ({@code --help} lists every option). The key can also come from the environment
 * variable {@code PHI3V_API_KEY}, which keeps it out of process listings. Stops gracefully on SIGTERM/Ctrl-C.
 */
public final class ServerMain {

    private static final String USAGE = String.join("\n",
            "usage: ServerMain --model ID|DIR [options]",
            "  --model ID|DIR            hub id (downloaded on first use) or a local model folder",
            "  --host ADDR               bind address (default 127.0.0.1; 0.0.0.0 for all interfaces)",
            "  --port N                  port (default 8000; 0 = a free port)",
            "  --api-key KEY             required bearer key (default: $PHI3V_API_KEY, else none)",
            "  --served-model-name NAME  the model id of the API (default: the model folder's name)",
            "  --max-batch N             requests decoded together in one batched step (default 8)",
            "  --max-running N           requests generating at once (default: --max-batch)",
            "  --packed-decode-weights   decoder weights a second time in oneDNN's layout: batched decode steps"
                    + " of 4 took 1.2x one's (bf16, CPU; ~7.6 GB more)",
            "  --max-queue N             requests waiting; more get 429 (default 32)",
            "  --max-body-bytes N        largest request body (default 33554432)",
            "  --max-images N            images per request (default 8)",
            "  --max-tokens N            new tokens when a request sets none (default 1024)",
            "  --max-context N           context of every request in tokens (default 8192)",
            "  --dtype NAME              weights precision (bfloat16, float16, float32)",
            "  --num-crops N             crop budget of images (default: the model's)",
            "  --allow-http              accept http:// image URLs too (default: https and data: only)",
            "  --allow-image-host HOST   fetch images from this internal host[:port] (repeatable)",
            "  --shutdown-timeout SEC    grace period for running requests at shutdown (default 30)",
            "  --warm-up                 run one short text request before listening, so the first client's",
            "                            prompt is not slower than the later ones' (Phi3VisionBuilder.warmUp)");

    private ServerMain() {
    }

    /**
     * Starts the server and blocks until the process is stopped.
     *
     * @param args the options above
     */
    public static void main(String[] args) {
        int code = run(args, System.out, System.err);
        if (code != 0) {
            System.exit(code);
        }
    }

    /**
     * The image loader the server uses for request images: {@link ImageLoader#forUntrustedInput()} with
     * optional {@code http} and named internal hosts (what {@code --allow-http} and
     * {@code --allow-image-host} set; the CLI's {@code serve} builds its model with it too).
     *
     * @param allowHttp whether plain-http image URLs are accepted
     * @param hosts hosts fetched without the private-address check
     * @return the loader
     */
    public static ImageLoader imageLoader(boolean allowHttp, List<String> hosts) {
        return ImageLoader.forUntrustedInput().toBuilder().allowHttp(allowHttp)
                .allowHosts(hosts.toArray(new String[0])).build();
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        String model = null;
        Phi3VisionBuilder mb = Phi3Vision.builder();
        ServerOptions d = ServerOptions.defaults("phi3v");
        String host = d.host();
        int port = d.port();
        String apiKey = System.getenv("PHI3V_API_KEY");
        String name = null;
        int maxBatch = Phi3Vision.DEFAULT_MAX_BATCH_SIZE;
        Integer maxRunning = null;
        int maxQueue = d.maxQueue();
        long maxBody = d.maxBodyBytes();
        int maxImages = d.maxImagesPerRequest();
        int maxTokens = d.defaultMaxTokens();
        Duration shutdown = d.shutdownTimeout();
        boolean allowHttp = false;
        List<String> hosts = new ArrayList<>();
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--help", "-h" -> {
                        out.println(USAGE);
                        return 0;
                    }
                    case "--model" -> model = value(args, ++i, a);
                    case "--host" -> host = value(args, ++i, a);
                    case "--port" -> port = Integer.parseInt(value(args, ++i, a));
                    case "--api-key" -> apiKey = value(args, ++i, a);
                    case "--served-model-name" -> name = value(args, ++i, a);
                    case "--max-batch" -> maxBatch = Integer.parseInt(value(args, ++i, a));
                    case "--max-running" -> maxRunning = Integer.parseInt(value(args, ++i, a));
                    case "--packed-decode-weights" -> mb.packedDecodeWeights(true);
                    case "--max-queue" -> maxQueue = Integer.parseInt(value(args, ++i, a));
                    case "--max-body-bytes" -> maxBody = Long.parseLong(value(args, ++i, a));
                    case "--max-images" -> maxImages = Integer.parseInt(value(args, ++i, a));
                    case "--max-tokens" -> maxTokens = Integer.parseInt(value(args, ++i, a));
                    case "--max-context" -> mb.maxContext(Integer.parseInt(value(args, ++i, a)));
                    case "--dtype" -> mb.dtype(value(args, ++i, a));
                    case "--num-crops" -> mb.numCrops(Integer.parseInt(value(args, ++i, a)));
                    case "--allow-http" -> allowHttp = true;
                    case "--allow-image-host" -> hosts.add(value(args, ++i, a));
                    case "--shutdown-timeout" -> shutdown = Duration.ofSeconds(Long.parseLong(value(args, ++i, a)));
                    case "--warm-up" -> mb.warmUp(true);
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            if (model == null) {
                throw new IllegalArgumentException("--model is required");
            }
            if (maxRunning == null) {
                maxRunning = maxBatch;
            }
            mb.maxBatchSize(maxBatch);
        } catch (IllegalArgumentException e) {   // NumberFormatException included
            err.println("error: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        java.nio.file.Path dir = java.nio.file.Path.of(model);
        if (java.nio.file.Files.isDirectory(dir)) {
            mb.modelDir(dir);
        } else {
            mb.modelId(model);
        }
        // The server's concurrency is the model's: one more running request would be refused by the model.
        mb.maxConcurrentRequests(Math.max(maxRunning, 1)).imageLoader(imageLoader(allowHttp, hosts));
        try (Phi3Vision phi = mb.build()) {
            Phi3vServer.Builder sb = Phi3vServer.builder(phi).host(host).port(port).apiKey(apiKey)
                    .maxRunning(maxRunning).maxQueue(maxQueue).maxBodyBytes(maxBody).maxImagesPerRequest(maxImages)
                    .defaultMaxTokens(maxTokens).shutdownTimeout(shutdown);
            if (name != null) {
                sb.modelName(name);
            }
            Phi3vServer server = sb.build().start();
            Runtime.getRuntime().addShutdownHook(new Thread(server::close, "phi3v-server-shutdown"));
            out.println("phi3v-server: serving " + server.options().modelName() + " at " + server.baseUrl()
                    + (apiKey == null ? " (no API key)" : " (API key required)"));
            server.awaitClose();
            return 0;
        } catch (RuntimeException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }
}
