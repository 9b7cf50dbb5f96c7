package io.github.phi3v.tooling.bench;

import java.nio.file.Path;
import java.util.List;

import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;

/**
 * What {@link BenchmarkRunner} measures.
 *
 * @param config the {@code config.json} of the architecture (the real Phi-3-vision-128k one for the
 *     published figures)
 * @param cacheDir folder that keeps the random-weight model folders between runs; null = a temporary
 *     folder deleted after the run
 * @param precision dtype of the random checkpoint and of the computation
 * @param variants the model variants to run one after the other on the same checkpoint (e.g.
 *     {@code [NONE, INT8]}: bf16, then int8 weight-only decoder linears)
 * @param scenarios the workloads, in order
 * @param decodeTokens greedy tokens generated after each prefill (timed; 0 = no decode)
 * @param maxContext KV cache capacity (positions)
 * @param threads libtorch intra-op threads (0 = the runtime's default, one per core)
 * @param question the text after the image
 * @param seed seed of the random weights, image and text-only prompts
 */
public record BenchmarkOptions(Path config, Path cacheDir, Precision precision, List<Quantization> variants,
        List<Scenario> scenarios, int decodeTokens, int maxContext, int threads, String question, long seed) {

    /** Default location of the real config, relative to the repository root (the working directory). */
    public static final Path DEFAULT_CONFIG = Path.of("../shared/golden/phi3v-128k-config/config.json");
    /** Default question. */
    public static final String DEFAULT_QUESTION = "What is shown in this image?";

    /**
     * Validates and copies the lists.
     *
     * @param config the architecture's {@code config.json}; not null
     * @param cacheDir folder keeping the random-weight model folders between runs; null = a temporary one
     * @param precision dtype of the random checkpoint and of the computation; not null
     * @param variants model variants, run in order on the same checkpoint; not null, not empty
     * @param scenarios the workloads, in order; not null, not empty
     * @param decodeTokens greedy tokens timed after each prefill (≥ 0; 0 = no decode)
     * @param maxContext KV cache capacity in positions (≥ 1)
     * @param threads libtorch intra-op threads (≥ 0; 0 = the runtime's default)
     * @param question the text after the image; not null
     * @param seed seed of the random weights, image and text-only prompts
     * @throws IllegalArgumentException if a rule above is broken
     */
    public BenchmarkOptions {
        if (config == null || precision == null || variants == null || scenarios == null || question == null) {
            throw new IllegalArgumentException("config, precision, variants, scenarios and question must not be null");
        }
        if (variants.isEmpty() || scenarios.isEmpty()) {
            throw new IllegalArgumentException("expected at least one variant and one scenario, found "
                    + variants.size() + " variants and " + scenarios.size() + " scenarios");
        }
        if (decodeTokens < 0 || maxContext < 1 || threads < 0) {
            throw new IllegalArgumentException("expected decodeTokens >= 0, maxContext >= 1, threads >= 0, found "
                    + decodeTokens + ", " + maxContext + ", " + threads);
        }
        variants = List.copyOf(variants);
        scenarios = List.copyOf(scenarios);
    }

    /**
     * The full run: bf16, then int8; scenarios nc16, nc4 and a 2000-token text prefill; 32 decode
     * tokens; context 4096.
     *
     * @param config the config.json
     * @return the options
     */
    public static BenchmarkOptions defaults(Path config) {
        return new BenchmarkOptions(config, null, Precision.BFLOAT16, List.of(Quantization.NONE, Quantization.INT8),
                List.of(Scenario.image(16), Scenario.image(4), Scenario.textPrefill(2000)), 32, 4096, 0,
                DEFAULT_QUESTION, 20240522L);
    }

    /**
     * A copy with other scenarios.
     *
     * @param s the scenarios
     * @return the copy
     */
    public BenchmarkOptions withScenarios(List<Scenario> s) {
        return new BenchmarkOptions(config, cacheDir, precision, variants, s, decodeTokens, maxContext, threads,
                question, seed);
    }

    /**
     * A copy with other variants.
     *
     * @param v the variants
     * @return the copy
     */
    public BenchmarkOptions withVariants(List<Quantization> v) {
        return new BenchmarkOptions(config, cacheDir, precision, v, scenarios, decodeTokens, maxContext, threads,
                question, seed);
    }

    /**
     * A copy with another cache folder.
     *
     * @param dir the folder (null = temporary)
     * @return the copy
     */
    public BenchmarkOptions withCacheDir(Path dir) {
        return new BenchmarkOptions(config, dir, precision, variants, scenarios, decodeTokens, maxContext, threads,
                question, seed);
    }

    /**
     * A copy with another decode length.
     *
     * @param n tokens
     * @return the copy
     */
    public BenchmarkOptions withDecodeTokens(int n) {
        return new BenchmarkOptions(config, cacheDir, precision, variants, scenarios, n, maxContext, threads,
                question, seed);
    }

    /**
     * A copy with another KV capacity.
     *
     * @param n positions
     * @return the copy
     */
    public BenchmarkOptions withMaxContext(int n) {
        return new BenchmarkOptions(config, cacheDir, precision, variants, scenarios, decodeTokens, n, threads,
                question, seed);
    }

    /**
     * A copy with another precision.
     *
     * @param p the dtype
     * @return the copy
     */
    public BenchmarkOptions withPrecision(Precision p) {
        return new BenchmarkOptions(config, cacheDir, p, variants, scenarios, decodeTokens, maxContext, threads,
                question, seed);
    }

    /**
     * A copy with another thread count.
     *
     * @param n threads (0 = default)
     * @return the copy
     */
    public BenchmarkOptions withThreads(int n) {
        return new BenchmarkOptions(config, cacheDir, precision, variants, scenarios, decodeTokens, maxContext, n,
                question, seed);
    }
}
