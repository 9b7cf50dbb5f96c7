/**
 * Text generation that does not depend on the model: configuration, logits processing and sampling,
 * stop conditions, the decode loop, streaming adapters and budget/memory planning.
 *
 * <p>The decode loop ({@link io.github.phi3v.core.generate.Generator}) is written against two small
 * interfaces, {@link io.github.phi3v.core.generate.LogitsSource} (the model plus its KV cache) and
 * {@link io.github.phi3v.core.generate.TextDecoder} (the tokenizer's streaming detokenizer), so it can
 * be tested, and reused, without libtorch:
 *
 * <pre>{@code
 * GenerationConfig config = GenerationConfig.builder()
 *         .maxNewTokens(200)
 *         .stopStrings("\n\n")
 *         .build();                                   // greedy, like do_sample=False
 * Answer answer = Generator.generate(promptIds, model, decoder, config, System.out::print,
 *         CancellationToken.none());
 * System.out.println(answer.finishReason() + " " + answer.usage());
 * }</pre>
 *
 * <p>Logits processing follows Hugging Face transformers' {@code generate}: repetition penalty, then (when
 * sampling) temperature, top-k, top-p, min-p, and a multinomial draw; greedy decoding is an argmax that
 * returns the first index on ties, as {@code torch.argmax} does.
 */
package io.github.phi3v.core.generate;
