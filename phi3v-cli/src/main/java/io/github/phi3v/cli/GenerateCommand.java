package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.generate.GenerationConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code phi3v generate}: generation from a raw prompt or raw ids, printing the new ids and their text.
 * The lower-level counterpart of {@code ask} for conformance checks against Python: no chat template,
 * a fresh KV cache, float32 unless {@code --dtype} says otherwise.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate from a raw prompt or raw input ids (conformance tool): prints the generated ids "
                + "and their text. Greedy by default, like do_sample=False.",
        footer = {"", "Example:", "  phi3v generate --model DIR --input-ids '[1, 32010, 29871, 13, 1724]' "
                + "--max-new-tokens 24 --json"})
final class GenerateCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Mixin
    PromptArgs promptArgs;

    @Mixin
    SamplingArgs sampling;

    @Mixin
    VerboseOption verbose;

    @Option(names = "--greedy", description = "Greedy decoding (the default; cannot be combined with sampling options).")
    boolean greedy;

    @Option(names = "--json", description = "Print one JSON object (ids, text, finish reason, usage) instead of text.")
    boolean json;

    @Override
    public Integer call() throws JsonProcessingException {
        if (greedy && sampling.sampling()) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--greedy cannot be combined with --temperature, --top-p or --top-k");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        promptArgs.checkImages();
        GenerationConfig config = sampling.config();
        try (Phi3Vision phi = promptArgs.openModel(err)) {
            PromptArgs.Input input = promptArgs.resolve(phi);
            Answer a = phi.rawPrompts().generate(input.ids(), input.images(), config, piece -> { }, CancellationToken.none());
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("prompt_tokens", input.ids().length);
                m.put("new_ids", a.tokenIds());
                m.put("text", a.text());
                m.put("finish_reason", a.finishReason().name());
                m.put("usage", Map.of(
                        "prompt_tokens", a.usage().promptTokens(),
                        "image_tokens", a.usage().imageTokens(),
                        "generated_tokens", a.usage().generatedTokens(),
                        "vision_ms", a.usage().visionMillis(),
                        "prefill_ms", a.usage().prefillMillis(),
                        "decode_ms", a.usage().decodeMillis()));
                out.println(JSON.writeValueAsString(m));
            } else {
                out.println("ids: " + Arrays.toString(a.tokenIds()));
                out.println("text: " + a.text());
                out.println("finish: " + a.finishReason() + " (" + input.ids().length + " prompt tokens, "
                        + a.usage().generatedTokens() + " generated)");
            }
            out.flush();
        }
        return 0;
    }
}
