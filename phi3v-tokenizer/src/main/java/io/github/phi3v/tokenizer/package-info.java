/**
 * The Phi-3(-vision) tokenizer in pure Java (Jackson only), giving the same ids as Hugging Face's
 * {@code AutoProcessor}.
 *
 * <ul>
 *   <li>{@link io.github.phi3v.tokenizer.Phi3Tokenizer}: load {@code tokenizer.json} +
 *       {@code tokenizer_config.json}; {@code encode}, {@code decode}, multimodal prompt encoding with
 *       negative image placeholders ({@code encodeMultimodal}), vocabulary queries.</li>
 *   <li>{@link io.github.phi3v.tokenizer.StreamingDecoder}: incremental detokenization for generation.</li>
 *   <li>{@link io.github.phi3v.tokenizer.ChatTemplate} and {@link io.github.phi3v.tokenizer.Message}: the
 *       Phi-3 chat template without a template engine.</li>
 *   <li>{@link io.github.phi3v.tokenizer.ImageTags}: the {@code <|image_N|>} tags of prompts.</li>
 * </ul>
 *
 * <p>See {@code docs/tokenizer.md} for the exact semantics reproduced and the conformance data.
 */
package io.github.phi3v.tokenizer;
