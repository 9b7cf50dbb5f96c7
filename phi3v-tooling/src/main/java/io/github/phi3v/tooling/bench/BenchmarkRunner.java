package io.github.phi3v.tooling.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.CRC32;

import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.ImageEmbeddings;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.Logits;
import io.github.phi3v.core.runtime.NativeInt4Kernel;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.TorchRuntime;
import io.github.phi3v.core.weights.DType;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.image.ProcessedImage;
import io.github.phi3v.image.RgbImage;
import io.github.phi3v.tokenizer.Phi3Tokenizer;
import io.github.phi3v.tooling.random.RandomModel;

/**
 * Runs the model benchmark: writes (or reuses) a random-weight model folder for the configured
 * architecture, measures the machine limits, then for each variant loads the model and times every
 * scenario: image preprocessing, vision tower, prefill, time to first token and greedy decode.
 *
 * <pre>{@code
 * BenchmarkReport r = new BenchmarkRunner(BenchmarkOptions.defaults(Path.of("config.json")), System.err::println).run();
 * System.out.println(r.toTable());
 * }</pre>
 *
 * <p>The image is a fixed synthetic 1344×1008 picture; the prompt is the chat-formatted question with
 * the image tag, tokenized by the folder's synthetic tokenizer (same special tokens as the real one).
 * Greedy decoding ignores stop tokens so every run decodes exactly {@code decodeTokens}. One instance
 * runs once; not thread-safe.
 */
public final class BenchmarkRunner {

    /** Width of the test image (the 4:3 photo). */
    public static final int IMAGE_WIDTH = 1344;
    /** Height of the test image. */
    public static final int IMAGE_HEIGHT = 1008;

    private static final long PROBE_BUFFER_BYTES = 1L << 30;

    private final BenchmarkOptions options;
    private final Consumer<String> log;
    private final boolean quickProbes;

    /**
     * @param options what to measure
     * @param log receives one progress line per step (e.g. {@code System.err::println})
     */
    public BenchmarkRunner(BenchmarkOptions options, Consumer<String> log) {
        this(options, log, false);
    }

    /** With {@code quickProbes}, the machine probes use small buffers (tests only: the figures mean little). */
    BenchmarkRunner(BenchmarkOptions options, Consumer<String> log, boolean quickProbes) {
        this.options = Objects.requireNonNull(options, "options");
        this.log = Objects.requireNonNull(log, "log");
        this.quickProbes = quickProbes;
    }

    /**
     * Runs everything.
     *
     * @return the report
     * @throws IOException if the config cannot be read or the model folder cannot be written
     */
    public BenchmarkReport run() throws IOException {
        String started = Instant.now().toString();
        String loadStart = loadAverage();
        if (!Files.isRegularFile(options.config())) {
            throw new IOException("config.json not found at " + options.config().toAbsolutePath().normalize()
                    + ": expected the Phi-3-vision config (default " + BenchmarkOptions.DEFAULT_CONFIG
                    + " relative to the repository root); pass --config");
        }
        Phi3VConfig config = Phi3VConfig.fromFile(options.config());
        TorchRuntime.ensureInitialized();
        if (options.threads() > 0) {
            TorchRuntime.setThreads(options.threads());
        }
        Path tempRoot = null;
        Path root = options.cacheDir();
        if (root == null) {
            tempRoot = Files.createTempDirectory("phi3v-bench-");
            root = tempRoot;
        }
        try {
            Path dir = root.resolve(folderName(config));
            double buildSeconds = 0;
            if (!Files.isRegularFile(dir.resolve("model.safetensors")) || !Files.isRegularFile(dir.resolve("config.json"))) {
                log.accept("writing random " + options.precision().label() + " model to " + dir + " ...");
                long t0 = System.nanoTime();
                RandomModel.builder(config).dtype(dtype(options.precision())).seed(options.seed())
                        .name("phi3v-bench-random").build(dir);
                buildSeconds = seconds(t0);
                log.accept(String.format(Locale.ROOT, "written in %.1f s", buildSeconds));
            } else {
                log.accept("reusing " + dir);
            }
            long checkpointBytes = Files.size(dir.resolve("model.safetensors"));

            log.accept("measuring memory read bandwidth and bf16 GEMM ...");
            double bandwidth = quickProbes ? HardwareProbe.readBandwidth(1 << 20, 1)
                    : HardwareProbe.readBandwidth(PROBE_BUFFER_BYTES, 5);
            double gemm = quickProbes ? HardwareProbe.gemmFlops(ScalarType.BFloat16, 16, 64, 64, 1)
                    : HardwareProbe.gemmFlops(ScalarType.BFloat16, 1024, 8192, 3072, 3);
            BenchmarkReport.MachineLimits machine = new BenchmarkReport.MachineLimits(bandwidth, gemm);
            log.accept(String.format(Locale.ROOT, "read bandwidth %.1f GB/s, bf16 GEMM %.1f GFLOP/s", bandwidth / 1e9,
                    gemm / 1e9));

            Phi3Tokenizer tokenizer = Phi3Tokenizer.fromDirectory(dir);
            List<BenchmarkReport.VariantResult> variants = new ArrayList<>();
            for (Quantization q : options.variants()) {
                variants.add(runVariant(dir, config, q, tokenizer, machine));
            }
            BenchmarkReport.Environment env = new BenchmarkReport.Environment(System.getenv("OMP_WAIT_POLICY"),
                    System.getenv("GOMP_SPINCOUNT"),
                    System.getenv("GLIBC_TUNABLES"), TorchRuntime.threads(), Runtime.getRuntime().availableProcessors(),
                    cpuModel(), Precision.cpuHasBf16(), memTotal(), System.getProperty("java.vm.name") + " "
                    + System.getProperty("java.version"), System.getProperty("os.name") + " "
                    + System.getProperty("os.arch"), loadStart, loadAverage(), started,
                    NativeKernels.available() ? "on" : "off: " + NativeKernels.unavailableReason()
                            + (NativeInt4Kernel.available() ? " (the int4 kernel runs on AVX2)" : ""));
            return new BenchmarkReport(env, machine, options.config().toAbsolutePath().normalize().toString(),
                    dir.toString(), buildSeconds, checkpointBytes, variants);
        } finally {
            if (tempRoot != null) {
                deleteTree(tempRoot);
            }
        }
    }

    private BenchmarkReport.VariantResult runVariant(Path dir, Phi3VConfig config, Quantization q,
            Phi3Tokenizer tokenizer, BenchmarkReport.MachineLimits machine) {
        String name = options.precision().label() + (q == Quantization.NONE ? "" : "+" + q.name().toLowerCase(Locale.ROOT));
        log.accept("[" + name + "] measuring what one-row decoder linears stream ...");
        // Four layers' matrices (0.9 GB in bf16) dwarf any cache; before the model loads, so RSS figures
        // below do not include the probe.
        double linearProbe = DecodeLinearProbe.bytesPerSecond(config, options.precision(), q, quickProbes ? 1 : 4,
                quickProbes ? 1 : 3);
        log.accept(String.format(Locale.ROOT, "[%s] decoder linears stream %.1f GB/s", name, linearProbe / 1e9));
        System.gc();
        // The probe whose passes run between decode steps (WindowedDecode): one set of the four linears,
        // allocated before the peak is reset, so the RSS figures include it (0.07-0.23 GB for Phi-3). None
        // without decode steps.
        try (DecodeLinearProbe window = options.decodeTokens() > 0
                ? DecodeLinearProbe.open(config, options.precision(), q, 1) : null) {
            ProcessMemory.resetPeak();
            return loadAndRun(dir, config, q, tokenizer, machine, name, linearProbe, window);
        }
    }

    private BenchmarkReport.VariantResult loadAndRun(Path dir, Phi3VConfig config, Quantization q,
            Phi3Tokenizer tokenizer, BenchmarkReport.MachineLimits machine, String name, double linearProbe,
            DecodeLinearProbe window) {
        // A quantized variant loads a pre-quantized folder (written once, next to the random model), the way
        // a user runs it after `phi3v quantize`: no quantizing at load. Its values are random quantized ones
        // (RandomQuantizedFolder): quantizing 3.8 B random weights would take many minutes for nothing.
        Path loadDir = dir;
        double quantizeSeconds = 0;
        if (q != Quantization.NONE) {
            loadDir = dir.resolveSibling(dir.getFileName() + "-" + q.name().toLowerCase(Locale.ROOT));
            if (!Files.isRegularFile(loadDir.resolve("config.json"))) {
                log.accept("[" + name + "] writing the pre-quantized folder " + loadDir + " ...");
                long tq = System.nanoTime();
                try {
                    RandomQuantizedFolder.write(dir, loadDir, q, options.seed());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                quantizeSeconds = seconds(tq);
            }
        }
        log.accept("[" + name + "] loading " + loadDir + " ...");
        long t0 = System.nanoTime();
        ModelOptions mo = new ModelOptions(options.precision(), ModelOptions.Device.CPU, options.threads())
                .withQuantization(q);
        List<BenchmarkReport.ScenarioResult> results = new ArrayList<>();
        try (Phi3VModel model = Phi3VModel.load(loadDir, mo)) {
            double loadSeconds = seconds(t0);
            long rssAfterLoad = ProcessMemory.rssBytes();
            long weightBytes = ModelCosts.weightBytesPerToken(config, options.precision(), q);
            log.accept(String.format(Locale.ROOT, "[%s] loaded in %.1f s, RSS %.2f GB", name, loadSeconds,
                    rssAfterLoad / 1e9));
            long kvBytes;
            try (KvCache cache = model.newKvCache(Math.min(options.maxContext(), config.maxPositionEmbeddings()))) {
                kvBytes = cache.sizeInBytes();
                for (Scenario s : options.scenarios()) {
                    log.accept("[" + name + "] " + s.name() + " ...");
                    BenchmarkReport.ScenarioResult r = runScenario(model, cache, config, tokenizer, s, machine,
                            weightBytes, window);
                    log.accept(String.format(Locale.ROOT, "[%s] %s: %d prompt tokens, TTFT %.2f s, prefill %.1f tok/s, "
                            + "decode %.3f tok/s", name, s.name(), r.promptTokens(), r.timeToFirstTokenMs() / 1000,
                            r.prefillTokensPerSecond(), r.decodeTokensPerSecond()));
                    results.add(r);
                }
            }
            return new BenchmarkReport.VariantResult(name, loadSeconds, quantizeSeconds, weightBytes, linearProbe, kvBytes,
                    rssAfterLoad, ProcessMemory.peakRssBytes(), results);
        }
    }

    private BenchmarkReport.ScenarioResult runScenario(Phi3VModel model, KvCache cache, Phi3VConfig config,
            Phi3Tokenizer tokenizer, Scenario s, BenchmarkReport.MachineLimits machine, long weightBytes,
            DecodeLinearProbe window) {
        double preprocessMs = Double.NaN;
        double visionMs = Double.NaN;
        double visionFlops = Double.NaN;
        int imageTokens = 0;
        int[] ids;
        List<ImageEmbeddings> images = new ArrayList<>();
        try {
            if (s.hasImage()) {
                Phi3ImageProcessor processor = Phi3ImageProcessor.builder().numCrops(s.numCrops()).build();
                RgbImage image = testImage(options.seed());
                processor.process(image);                                    // warm-up: JIT, not a cold JVM
                long t0 = System.nanoTime();
                ProcessedImage p = processor.process(image);
                preprocessMs = millis(t0);
                long t1 = System.nanoTime();
                images.add(model.encodeImage(p.pixelValues(), p.numCrops(), p.hdHeight(), p.hdWidth()));
                visionMs = millis(t1);
                imageTokens = images.get(0).tokenCount();
                visionFlops = ModelCosts.visionFlopCount(config, p.realCrops(), imageTokens) / (visionMs / 1000);
                String prompt = "<|user|>\n<|image_1|>\n" + options.question() + "<|end|>\n<|assistant|>\n";
                ids = tokenizer.encodeMultimodal(prompt, new int[] {imageTokens});
            } else {
                ids = textIds(s.textTokens(), options.seed());
            }
            int total = ids.length + options.decodeTokens();
            if (total > cache.capacity()) {
                throw new IllegalArgumentException("scenario " + s.name() + " needs " + ids.length + " prompt + "
                        + options.decodeTokens() + " decode positions, but the max context is " + cache.capacity()
                        + "; raise --max-context");
            }
            cache.clear();
            long t2 = System.nanoTime();
            float[] logits = model.forward(ids, images, cache, 0);
            int token = Logits.argmax(logits);
            double prefillMs = millis(t2);
            double ttft = prefillMs + (s.hasImage() ? preprocessMs + visionMs : 0);
            for (ImageEmbeddings e : images) {
                e.close();
            }
            images.clear();

            int n = options.decodeTokens();
            WindowedDecode.Result decode = n > 0 ? WindowedDecode.run(model, cache, token, n, window) : null;
            double prefillFlops = ModelCosts.prefillFlopCount(config, ids.length) / (prefillMs / 1000);
            double decodeTps = n > 0 ? n / decode.decodeSeconds() : Double.NaN;
            double linearRate = n > 0 ? decode.linearBytesPerSecond() : Double.NaN;
            long elem = options.precision() == Precision.FLOAT32 ? 4 : 2;
            long kvPerToken = (long) config.numHiddenLayers() * 2 * config.numKeyValueHeads() * config.headDim()
                    * elem * (ids.length + n / 2);
            return new BenchmarkReport.ScenarioResult(s.name(), s.numCrops(), imageTokens, ids.length, preprocessMs,
                    visionMs, visionFlops, visionFlops / machine.bf16GemmFlops(), prefillMs,
                    ids.length / (prefillMs / 1000), prefillFlops,
                    prefillFlops / machine.bf16GemmFlops(), ttft, n, decodeTps,
                    n > 0 ? weightBytes * decodeTps / machine.readBandwidthBytesPerSecond() : Double.NaN,
                    weightBytes * decodeTps, linearRate, weightBytes * decodeTps / linearRate, kvPerToken,
                    BenchmarkReport.kernelEfficiencyCeiling(weightBytes, linearRate, kvPerToken,
                            machine.readBandwidthBytesPerSecond()),
                    ProcessMemory.peakRssBytes());
        } finally {
            for (ImageEmbeddings e : images) {
                e.close();
            }
        }
    }

    /** A deterministic 1344×1008 picture: smooth colour gradients with some noise. */
    static RgbImage testImage(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] rgb = new byte[IMAGE_WIDTH * IMAGE_HEIGHT * 3];
        int i = 0;
        for (int y = 0; y < IMAGE_HEIGHT; y++) {
            for (int x = 0; x < IMAGE_WIDTH; x++) {
                int noise = rnd.nextInt(32);
                rgb[i++] = (byte) ((x * 255 / IMAGE_WIDTH + noise) & 0xff);
                rgb[i++] = (byte) ((y * 255 / IMAGE_HEIGHT + noise) & 0xff);
                rgb[i++] = (byte) (((x + y) * 127 / IMAGE_HEIGHT + noise) & 0xff);
            }
        }
        return RgbImage.of(IMAGE_WIDTH, IMAGE_HEIGHT, rgb);
    }

    /** A text-only prompt: BOS then random ordinary token ids. */
    static int[] textIds(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed ^ n);
        int[] ids = new int[n];
        ids[0] = 1;
        for (int i = 1; i < n; i++) {
            ids[i] = 259 + rnd.nextInt(29000);
        }
        return ids;
    }

    private String folderName(Phi3VConfig config) throws IOException {
        CRC32 crc = new CRC32();
        crc.update(Files.readAllBytes(options.config()));
        crc.update(Long.toString(options.seed()).getBytes(StandardCharsets.US_ASCII));
        return String.format(Locale.ROOT, "phi3v-random-%s-%08x", options.precision().label(), crc.getValue());
    }

    private static DType dtype(Precision p) {
        return switch (p) {
            case FLOAT32 -> DType.F32;
            case BFLOAT16 -> DType.BF16;
            case FLOAT16 -> DType.F16;
        };
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // reported as unknown
        }
        return "unknown";
    }

    private static long memTotal() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024L;
                }
            }
        } catch (IOException | RuntimeException e) {
            // reported as -1
        }
        return -1;
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static double millis(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
