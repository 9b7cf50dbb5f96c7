/**
 * Random-weight Phi-3-V model folders for demos, tests and benchmarks without the real checkpoint:
 * {@link io.github.phi3v.core.random.RandomModel} (config, preprocessor config, weights named and shaped by
 * the model's one name table), {@link io.github.phi3v.core.random.SyntheticTokenizer} (generated tokenizer
 * files with the real special tokens and ids) and {@link io.github.phi3v.core.random.SafetensorsWriter}
 * (the project's one safetensors writer, streaming and atomic, also used by the CLI's {@code inspect}).
 */
package io.github.phi3v.core.random;
