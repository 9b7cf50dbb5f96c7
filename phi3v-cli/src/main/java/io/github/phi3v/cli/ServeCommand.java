package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Phi3VisionBuilder;
import io.github.phi3v.server.Phi3vServer;
import io.github.phi3v.server.ServerMain;
import io.github.phi3v.server.ServerOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code phi3v serve}: the OpenAI-compatible HTTP server (phi3v-server) on a model loaded like {@code ask}'s. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve the model over HTTP in the OpenAI chat-completions format (see docs/server.md).",
        footer = {"", "Example:", "  phi3v serve --model tiny-random --port 8000",
                "  curl -s localhost:8000/v1/chat/completions -H 'Content-Type: application/json' "
                        + "-d '{\"model\":\"phi3v\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}'"})
final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelArgs modelArgs;

    @Mixin
    VerboseOption verbose;

    @Option(names = "--host", paramLabel = "ADDR", defaultValue = ServerOptions.DEFAULT_HOST,
            description = "Bind address (default ${DEFAULT-VALUE}; 0.0.0.0 for all interfaces).")
    String host;

    @Option(names = "--port", paramLabel = "N", defaultValue = "8000",
            description = "Port (default ${DEFAULT-VALUE}; 0 = a free port).")
    int port;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Bearer key every API request must carry (default: $PHI3V_API_KEY, else none).")
    String apiKey;

    @Option(names = "--served-model-name", paramLabel = "NAME",
            description = "The model id of the API (default: the model folder's name).")
    String modelName;

    @Option(names = "--max-batch", paramLabel = "N", defaultValue = "8",
            description = "Requests decoded together in one batched step (continuous batching; default"
                    + " ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--packed-decode-weights",
            description = "Keep the decoder's weights a second time in oneDNN's layout for decode steps: a batched"
                    + " step of 4 requests then took 1.2x one request's step (bf16 on the CPU without --quantize;"
                    + " about 7.6 GB more memory for the real model).")
    boolean packedDecodeWeights;

    @Option(names = "--max-running", paramLabel = "N",
            description = "Requests generating at once (default: --max-batch); above --max-batch they wait for"
                    + " a place in the batch.")
    Integer maxRunning;

    @Option(names = "--max-queue", paramLabel = "N", defaultValue = "32",
            description = "Requests waiting; more get HTTP 429 (default ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--max-images", paramLabel = "N", defaultValue = "8",
            description = "Images per request (default ${DEFAULT-VALUE}).")
    int maxImages;

    @Option(names = "--num-crops", paramLabel = "N", description = "Crop budget of images (default: the model's).")
    Integer numCrops;

    @Option(names = "--allow-http", description = "Accept http:// image URLs too (default: https and data: only).")
    boolean allowHttp;

    @Option(names = "--allow-image-host", paramLabel = "HOST[:PORT]",
            description = "Fetch images from this internal host despite the private-address guard (repeatable).")
    List<String> imageHosts = new ArrayList<>();

    @Option(names = "--shutdown-timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "Grace period for running requests when stopping (default ${DEFAULT-VALUE}).")
    long shutdownSeconds;

    @Option(names = "--warm-up", description = "Run one short text request before listening, so that the first"
            + " client's prompt is not slower than the later ones' (adds 1-3 s to the full-size model's load).")
    boolean warmUp;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String key = apiKey != null ? apiKey : System.getenv("PHI3V_API_KEY");
        // The server's concurrency is the model's: one more running request would be refused by the model.
        int running = maxRunning != null ? maxRunning : maxBatch;
        Phi3VisionBuilder b = modelArgs.builder(err, null).maxBatchSize(maxBatch).maxConcurrentRequests(running)
                .packedDecodeWeights(packedDecodeWeights).warmUp(warmUp)
                .imageLoader(ServerMain.imageLoader(allowHttp, imageHosts));
        if (numCrops != null) {
            b.numCrops(numCrops);
        }
        try (Phi3Vision phi = b.build()) {
            Phi3vServer.Builder sb = Phi3vServer.builder(phi).host(host).port(port).apiKey(key)
                    .maxRunning(running).maxQueue(maxQueue).maxImagesPerRequest(maxImages)
                    .shutdownTimeout(Duration.ofSeconds(shutdownSeconds));
            if (modelName != null) {
                sb.modelName(modelName);
            }
            Phi3vServer server = sb.build().start();
            Runtime.getRuntime().addShutdownHook(new Thread(server::close, "phi3v-serve-shutdown"));
            out.println("phi3v serve: " + server.options().modelName() + " at " + server.baseUrl()
                    + (key == null ? " (no API key)" : " (API key required)"));
            out.flush();
            server.awaitClose();
        }
        return 0;
    }
}
