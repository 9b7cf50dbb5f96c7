/**
 * Reading model weights: our own safetensors reader ({@link io.github.phi3v.core.weights.Checkpoint}),
 * single-file or sharded through {@code model.safetensors.index.json}. Every header is bounds-checked
 * before any byte is mapped, each tensor is memory-mapped on its own (so no mapping exceeds the JDK's
 * 2 GiB buffer limit) and handed to libtorch with {@code from_blob}, without a Java-heap copy, or read
 * into a fresh tensor ({@link io.github.phi3v.core.weights.Checkpoint#read}, the CPU loading path). Problems,
 * read errors included, are {@link io.github.phi3v.core.weights.InvalidCheckpointException}s naming the
 * file and tensor.
 */
package io.github.phi3v.core.weights;
