/**
 * The model benchmark behind {@code phi3v bench}: {@link io.github.phi3v.tooling.bench.BenchmarkRunner}
 * builds (or reuses) a full-size random-weight Phi-3-V folder, measures the machine's memory read
 * bandwidth and GEMM throughput with libtorch, then times preprocessing, the vision tower, prefill and
 * decode, and reports {@link io.github.phi3v.tooling.bench.BenchmarkReport} with efficiency ratios.
 * Never run from {@code mvn verify}; see docs/benchmarks.md.
 */
package io.github.phi3v.tooling.bench;
