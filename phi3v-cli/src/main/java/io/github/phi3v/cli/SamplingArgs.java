package io.github.phi3v.cli;

import java.util.ArrayList;
import java.util.List;

import io.github.phi3v.core.generate.GenerationConfig;
import picocli.CommandLine.Option;

/** Generation options shared by ask, chat and generate. Greedy unless a sampling option is given. */
final class SamplingArgs {

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "256",
            description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T",
            description = "Sample with this temperature instead of greedy decoding.")
    Float temperature;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling threshold (implies sampling).")
    Float topP;

    @Option(names = "--top-k", paramLabel = "K", description = "Top-k sampling (implies sampling).")
    Integer topK;

    @Option(names = "--seed", paramLabel = "S", description = "Seed for sampling (same seed, same output).")
    Long seed;

    @Option(names = "--min-p", paramLabel = "P",
            description = "Min-p sampling: drop tokens below P times the top probability (implies sampling).")
    Float minP;

    @Option(names = "--repetition-penalty", paramLabel = "X",
            description = "Penalize tokens already in the context: positive logits divided by X, negative ones "
                    + "multiplied (> 1 discourages repeats; also with greedy decoding).")
    Float repetitionPenalty;

    @Option(names = "--stop", paramLabel = "TEXT",
            description = "Stop when the answer contains TEXT (repeatable; TEXT itself is not printed).")
    List<String> stop = new ArrayList<>();

    @Option(names = "--ignore-eos",
            description = "Do not stop at <|end|>, <|endoftext|> or </s>: always generate --max-new-tokens tokens.")
    boolean ignoreEos;

    /** True if any sampling option was given. */
    boolean sampling() {
        return temperature != null || topP != null || topK != null || minP != null;
    }

    /** The generation config these options describe. */
    GenerationConfig config() {
        GenerationConfig.Builder b = GenerationConfig.builder().maxNewTokens(maxNewTokens);
        if (sampling()) {
            b.doSample(true);
            if (temperature != null) {
                b.temperature(temperature);
            }
            if (topP != null) {
                b.topP(topP);
            }
            if (topK != null) {
                b.topK(topK);
            }
            if (minP != null) {
                b.minP(minP);
            }
        }
        if (repetitionPenalty != null) {
            b.repetitionPenalty(repetitionPenalty);
        }
        if (!stop.isEmpty()) {
            b.stopStrings(stop);
        }
        if (seed != null) {
            b.seed(seed);
        }
        if (ignoreEos) {
            b.stopTokenIds(new int[0]);
        }
        return b.build();
    }
}
