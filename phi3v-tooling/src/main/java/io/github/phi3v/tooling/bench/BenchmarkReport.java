package io.github.phi3v.tooling.bench;

import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * Everything one {@link BenchmarkRunner} run measured, with the environment it ran under. Printed as
 * a table ({@link #toTable()}) or JSON ({@link #toJson()}).
 *
 * @param environment the settings and machine the figures belong to
 * @param machine memory bandwidth and GEMM throughput measured in this run
 * @param configPath the config.json the model was built from
 * @param modelDir the random-weight model folder that was loaded
 * @param buildSeconds time to write the folder (0 when a cached one was reused)
 * @param checkpointBytes size of {@code model.safetensors}
 * @param variants one entry per model variant (bf16, bf16 + int8 decoder, ...)
 */
public record BenchmarkReport(Environment environment, MachineLimits machine, String configPath, String modelDir,
        double buildSeconds, long checkpointBytes, List<VariantResult> variants) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * Copies the list.
     *
     * @param environment the settings and machine the figures belong to
     * @param machine memory bandwidth and GEMM throughput measured in this run
     * @param configPath the config.json the model was built from
     * @param modelDir the random-weight model folder that was loaded
     * @param buildSeconds seconds spent writing the folder (0 when a cached one was reused)
     * @param checkpointBytes size of {@code model.safetensors} in bytes
     * @param variants one entry per model variant; not null
     */
    public BenchmarkReport {
        variants = List.copyOf(variants);
    }

    /**
     * The settings a run used; figures are only comparable under the same ones.
     *
     * @param ompWaitPolicy {@code OMP_WAIT_POLICY} (null = unset)
     * @param gompSpinCount {@code GOMP_SPINCOUNT} (null = unset)
     * @param glibcTunables {@code GLIBC_TUNABLES} (null = unset)
     * @param threads libtorch intra-op threads
     * @param cpus processors visible to the JVM
     * @param cpuModel {@code model name} of /proc/cpuinfo
     * @param cpuBf16 whether the CPU lists native bf16 instructions
     * @param memTotalBytes {@code MemTotal}
     * @param javaVersion the JVM version
     * @param os operating system and architecture
     * @param loadAverageStart /proc/loadavg at the start (other work on the machine)
     * @param loadAverageEnd /proc/loadavg at the end
     * @param startedAt ISO-8601 start time
     * @param nativeKernels {@code "on"} when the project's native kernels ran (int4 decode linears), else
     *     {@code "off: "} and the reason
     */
    public record Environment(String ompWaitPolicy, String gompSpinCount, String glibcTunables, int threads, int cpus, String cpuModel,
            boolean cpuBf16, long memTotalBytes, String javaVersion, String os, String loadAverageStart,
            String loadAverageEnd, String startedAt, String nativeKernels) {
    }

    /**
     * The machine limits measured in the same process.
     *
     * @param readBandwidthBytesPerSecond sum over a 1 GiB float32 buffer, best of 5
     * @param bf16GemmFlops bf16 {@code linear} [1024 x 3072] · [8192 x 3072]ᵀ, best of 3
     */
    public record MachineLimits(double readBandwidthBytesPerSecond, double bf16GemmFlops) {
    }

    /**
     * The figures of one model variant.
     *
     * @param name e.g. {@code bfloat16} or {@code bfloat16+int8}
     * @param loadSeconds {@code Phi3VModel.load} time: for bf16 reading and converting; for a quantized
     *     variant loading its pre-quantized folder ({@code QuantizedCheckpoint}, no quantizing at load)
     * @param quantizeSeconds writing that pre-quantized folder (0 if reused from an earlier run or unquantized)
     * @param weightBytesPerToken bytes of weights one decode step reads: decoder linears, norms, lm_head
     *     and one embedding row (CLIP is not used in decode)
     * @param decodeLinearBytesPerSecond what this variant's one-row decoder linears stream on their own,
     *     measured before loading ({@code DecodeLinearProbe}, through {@link io.github.phi3v.core.model.DecoderLinear});
     *     the kernel efficiencies use the figure measured between the decode steps instead
     *     ({@link ScenarioResult#decodeLinearBytesPerSecond})
     * @param kvCacheBytes bytes of the preallocated KV cache (max context)
     * @param rssAfterLoadBytes resident memory after loading
     * @param peakRssBytes peak resident memory (VmHWM) of this variant, reset before it loaded
     * @param scenarios the timed workloads
     */
    public record VariantResult(String name, double loadSeconds, double quantizeSeconds, long weightBytesPerToken,
            double decodeLinearBytesPerSecond, long kvCacheBytes, long rssAfterLoadBytes, long peakRssBytes,
            List<ScenarioResult> scenarios) {

        /**
         * Copies the list.
         *
         * @param name e.g. {@code bfloat16} or {@code bfloat16+int8}
         * @param loadSeconds {@code Phi3VModel.load} time in seconds (quantized variants: of the pre-quantized folder)
         * @param quantizeSeconds seconds writing the pre-quantized folder (0: reused or unquantized)
         * @param weightBytesPerToken bytes of weights one decode step reads
         * @param decodeLinearBytesPerSecond bytes per second this variant's one-row decoder linears stream alone
         * @param kvCacheBytes bytes of the preallocated KV cache (max context)
         * @param rssAfterLoadBytes resident memory in bytes after loading
         * @param peakRssBytes peak resident memory (VmHWM) in bytes of this variant
         * @param scenarios the timed workloads; not null
         */
        public VariantResult {
            scenarios = List.copyOf(scenarios);
        }
    }

    /**
     * One workload's figures. Times in milliseconds; NaN where not applicable (no image).
     *
     * @param name scenario name
     * @param numCrops num_crops (0 = text only)
     * @param imageTokens placeholder tokens of the image
     * @param promptTokens prompt length
     * @param preprocessMs image processor (pure Java), warm JVM
     * @param visionMs CLIP on the real crops + HD transform + projection
     * @param visionFlops achieved FLOP/s of the vision tower ({@code BenchmarkRunner.visionFlopCount} over
     *     visionMs); NaN without an image
     * @param visionEfficiency visionFlops / measured bf16 GEMM FLOP/s, next to prefillEfficiency
     * @param prefillMs decoder over the whole prompt, logits of the last position
     * @param prefillTokensPerSecond prompt tokens / prefill time
     * @param prefillFlops achieved FLOP/s (useful operations: 2·params·tokens for the linears plus causal
     *     attention) over the prefill time
     * @param prefillEfficiency prefillFlops / measured bf16 GEMM FLOP/s
     * @param timeToFirstTokenMs preprocess + vision + prefill + picking the token
     * @param decodeTokens greedy tokens timed after the prefill
     * @param decodeTokensPerSecond decode tokens / decode time
     * @param decodeEfficiency weightBytesPerToken · tokens/s / measured read bandwidth
     * @param decodeWeightBytesPerSecond the decode steps' weight stream: weightBytesPerToken · tokens/s
     * @param decodeLinearBytesPerSecond what the variant's decoder linears stream alone, measured between the
     *     decode steps ({@code WindowedDecode}: median of one probe pass after each step)
     * @param decodeKernelEfficiency decodeWeightBytesPerSecond / decodeLinearBytesPerSecond: the share of the
     *     step that runs at the kernels' own speed (the rest is attention over the KV cache, norms, lm_head and
     *     per-operation overheads)
     * @param kvBytesPerToken KV cache bytes one decode step reads at the mean decode position (not in
     *     the efficiency)
     * @param decodeKernelEfficiencyCeiling the highest {@code decodeKernelEfficiency} a step can reach when its
     *     attention reads {@code kvBytesPerToken} at the measured read bandwidth and everything else is free
     *     ({@link #kernelEfficiencyCeiling}, with decodeLinearBytesPerSecond)
     * @param peakRssBytes peak RSS after this scenario
     */
    public record ScenarioResult(String name, int numCrops, int imageTokens, int promptTokens, double preprocessMs,
            double visionMs, double visionFlops, double visionEfficiency, double prefillMs,
            double prefillTokensPerSecond, double prefillFlops,
            double prefillEfficiency, double timeToFirstTokenMs, int decodeTokens, double decodeTokensPerSecond,
            double decodeEfficiency, double decodeWeightBytesPerSecond, double decodeLinearBytesPerSecond,
            double decodeKernelEfficiency, long kvBytesPerToken,
            double decodeKernelEfficiencyCeiling, long peakRssBytes) {
    }

    /**
     * The share of a decode step that can run at the linear kernels' own speed when the step also reads the KV
     * cache: weight time / (weight time + KV time), the weights at what the variant's decoder linears stream
     * alone and the cache at the machine's read bandwidth, with nothing else in the step. The KV cache is in
     * the model dtype for every variant, so the smaller the weights, the larger the cache's share: with
     * Phi-3-V's 32 layers x 3072 bf16 keys and values a step at 2000 positions reads 0.79 GB of cache.
     *
     * @param weightBytes weights one decode step reads
     * @param linearBytesPerSecond what the decoder linears stream alone
     * @param kvBytes KV cache bytes one decode step reads
     * @param readBytesPerSecond the machine's read bandwidth
     * @return the ceiling in (0, 1]
     */
    public static double kernelEfficiencyCeiling(double weightBytes, double linearBytesPerSecond, double kvBytes,
            double readBytesPerSecond) {
        double weights = weightBytes / linearBytesPerSecond;
        return weights / (weights + kvBytes / readBytesPerSecond);
    }

    /**
     * The report as indented JSON.
     *
     * @return JSON text
     */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A human-readable report: environment, machine limits, then one table per variant.
     *
     * @return the text, lines separated by {@code \n}
     */
    public String toTable() {
        StringBuilder b = new StringBuilder();
        Environment e = environment;
        b.append(String.format(Locale.ROOT, "environment: %d threads of %d cpus (%s%s), OMP_WAIT_POLICY=%s, "
                + "GOMP_SPINCOUNT=%s, GLIBC_TUNABLES=%s, %s, %s%n", e.threads(), e.cpus(), e.cpuModel(),
                e.cpuBf16() ? ", bf16" : "", e.ompWaitPolicy(), e.gompSpinCount(), e.glibcTunables(), e.javaVersion(), e.os()));
        b.append(String.format(Locale.ROOT, "load average: start %s, end %s; native kernels %s%n",
                e.loadAverageStart(), e.loadAverageEnd(), e.nativeKernels()));
        b.append(String.format(Locale.ROOT, "machine: read bandwidth %.1f GB/s, bf16 GEMM %.1f GFLOP/s%n",
                machine.readBandwidthBytesPerSecond() / 1e9, machine.bf16GemmFlops() / 1e9));
        b.append(String.format(Locale.ROOT, "model: %s (checkpoint %.2f GB, %s)%n", modelDir, checkpointBytes / 1e9,
                buildSeconds > 0 ? String.format(Locale.ROOT, "written in %.1f s", buildSeconds) : "reused"));
        for (VariantResult v : variants) {
            b.append(String.format(Locale.ROOT, "%n%s: load %.1f s%s, weights read per decode token %.2f GB, decoder "
                    + "linears alone stream %.1f GB/s (before loading), KV cache %.2f GB, RSS after load %.2f GB, peak RSS %.2f GB%n",
                    v.name(), v.loadSeconds(), v.name().contains("+") ? String.format(Locale.ROOT,
                            " (pre-quantized folder%s)", v.quantizeSeconds() > 0 ? String.format(Locale.ROOT,
                            ", written in %.1f s", v.quantizeSeconds()) : ", reused") : "",
                    v.weightBytesPerToken() / 1e9, v.decodeLinearBytesPerSecond() / 1e9,
                    v.kvCacheBytes() / 1e9, v.rssAfterLoadBytes() / 1e9, v.peakRssBytes() / 1e9));
            b.append(String.format(Locale.ROOT,
                    "%-12s %7s %9s %9s %7s %10s %9s %8s %10s %8s %7s %8s %8s %7s %7s %8s %7s%n",
                    "scenario", "prompt", "preproc", "vision", "vision", "prefill", "prefill", "TTFT", "decode",
                    "decode", "decode", "weights", "linears", "kernel", "ceiling", "prefill", "peak"));
            b.append(String.format(Locale.ROOT,
                    "%-12s %7s %9s %9s %7s %10s %9s %8s %10s %8s %7s %8s %8s %7s %7s %8s %7s%n",
                    "", "tokens", "ms", "ms", "eff", "ms", "tok/s", "s", "tok/s", "ms/tok", "eff", "GB/s", "GB/s", "eff",
                    "w/ KV", "eff", "RSS GB"));
            for (ScenarioResult s : v.scenarios()) {
                b.append(String.format(Locale.ROOT,
                        "%-12s %7d %9s %9s %7s %10.0f %9.1f %8.2f %10.3f %8s %7.2f %8.1f %8.1f %7.3f %7.3f %8.2f %7.2f%n",
                        s.name(), s.promptTokens(), fmt(s.preprocessMs()), fmt(s.visionMs()),
                        Double.isNaN(s.visionEfficiency()) ? "-" : String.format(Locale.ROOT, "%.2f",
                                s.visionEfficiency()), s.prefillMs(),
                        s.prefillTokensPerSecond(), s.timeToFirstTokenMs() / 1000, s.decodeTokensPerSecond(),
                        s.decodeTokens() > 0 ? fmt(1000 / s.decodeTokensPerSecond()) : "-", s.decodeEfficiency(),
                        s.decodeWeightBytesPerSecond() / 1e9, s.decodeLinearBytesPerSecond() / 1e9,
                        s.decodeKernelEfficiency(), s.decodeKernelEfficiencyCeiling(), s.prefillEfficiency(),
                        s.peakRssBytes() / 1e9));
            }
        }
        return b.toString();
    }

    private static String fmt(double ms) {
        return Double.isNaN(ms) ? "-" : String.format(Locale.ROOT, "%.0f", ms);
    }
}
