package io.github.phi3v.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.Usage;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code phi3v ask}: one question about zero or more images, the answer streamed to stdout. */
@Command(name = "ask", mixinStandardHelpOptions = true,
        description = "Ask one question about images; the answer is streamed to standard output.",
        footer = {"", "Examples:", "  phi3v ask --model microsoft/Phi-3-vision-128k-instruct --image chart.png "
                + "\"Could you please introduce this stock to me?\"",
                "  echo \"What is shown?\" | phi3v ask --model tiny-random --image x.png -"})
final class AskCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();

    @ParentCommand
    Phi3vCli parent;

    @Spec
    CommandSpec spec;

    @Mixin
    SessionArgs sessionArgs;

    @Mixin
    VerboseOption verbose;

    @Option(names = "--stats", description = "Print token counts and timings to stderr after the answer.")
    boolean stats;

    @Option(names = "--json", description = "Print one JSON object instead of streaming: text, finish_reason and "
            + "usage (token counts, timings in ms).")
    boolean json;

    @Parameters(paramLabel = "QUESTION", arity = "1..*",
            description = "The question (several words are joined); - alone reads it from standard input.")
    List<String> question;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String text = questionText();  // before loading the model: a usage error should not wait for it
        sessionArgs.checkImages();     // likewise
        sessionArgs.checkGenerationOptions();
        try (Phi3Vision phi = sessionArgs.openModel(err);
             Session session = phi.session()) {
            sessionArgs.start(session);
            Answer a = session.stream(text, piece -> {
                if (!json) {
                    out.print(piece);
                    out.flush();
                }
            });
            out.println(json ? toJson(a) : "");
            out.flush();
            if (stats) {
                err.println(a.finishReason() + ", " + a.usage());
            }
        }
        return 0;
    }

    /** The question: the joined words, or all of standard input (stripped) for a lone {@code -}. */
    private String questionText() {
        if (!question.equals(List.of("-"))) {
            return String.join(" ", question);
        }
        String text;
        try {
            text = new String(parent.in.readAllBytes(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the question from standard input: " + e.getMessage(), e);
        }
        if (text.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "QUESTION is '-' but standard input is empty: expected the question there");
        }
        return text;
    }

    /** The answer as one JSON object (snake_case keys, as the OpenAI-style APIs users already parse). */
    static String toJson(Answer a) {
        Usage u = a.usage();
        Map<String, Object> usage = new LinkedHashMap<>();
        usage.put("prompt_tokens", u.promptTokens());
        usage.put("image_tokens", u.imageTokens());
        usage.put("completion_tokens", u.generatedTokens());
        usage.put("preprocess_ms", u.preprocessMillis());
        usage.put("vision_ms", u.visionMillis());
        usage.put("prefill_ms", u.prefillMillis());
        usage.put("decode_ms", u.decodeMillis());
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("text", a.text());
        root.put("finish_reason", a.finishReason().name().toLowerCase(Locale.ROOT));
        root.put("usage", usage);
        try {
            return JSON.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the answer as JSON: " + e.getOriginalMessage(), e);
        }
    }
}
