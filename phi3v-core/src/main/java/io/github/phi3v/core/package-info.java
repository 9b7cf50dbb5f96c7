/**
 * The fluent API: {@link io.github.phi3v.core.Phi3Vision} (a loaded model, shared by threads) and
 * {@link io.github.phi3v.core.Session} (one conversation with its KV cache and image embedding cache).
 *
 * <pre>{@code
 * try (Phi3Vision phi = Phi3Vision.load(Path.of("Phi-3-vision-128k-instruct"));
 *      Session chat = phi.session()) {
 *     System.out.println(chat.image(Path.of("cat.jpg")).ask("What is shown in this image?").text());
 * }
 * }</pre>
 *
 * <p>Lower levels: {@code io.github.phi3v.core.model} (the network on libtorch),
 * {@code io.github.phi3v.core.generate} (decode loop, sampling, streaming, budgets),
 * {@code io.github.phi3v.core.hub} (model download cache).
 */
package io.github.phi3v.core;
