/**
 * Random-weight Phi-3-V model folders for demos, tests and benchmarks without the real checkpoint:
 * {@link io.github.phi3v.tooling.random.RandomModel} (config, preprocessor config, weights named and shaped by
 * the model's one name table), {@link io.github.phi3v.tooling.random.SyntheticTokenizer} (generated tokenizer
 * files with the real special tokens and ids); the weights are written by the library's one safetensors
 * writer, {@link io.github.phi3v.core.weights.SafetensorsWriter}.
 */
package io.github.phi3v.tooling.random;
