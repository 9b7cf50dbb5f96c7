package io.github.phi3v.tokenizer;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The {@code normalizer} of {@code tokenizer.json}, applied to every text segment between added
 * tokens. Supported: {@code null}, {@code Prepend} (only on non-empty text, as in HF), {@code Replace}
 * with a {@code String} pattern, and a {@code Sequence} of these. Immutable.
 */
final class Normalizer {

    private record Step(boolean prepend, String pattern, String content) {
    }

    private final List<Step> steps;

    private Normalizer(List<Step> steps) {
        this.steps = List.copyOf(steps);
    }

    static Normalizer parse(JsonNode node, String file) {
        List<Step> steps = new ArrayList<>();
        if (node != null && !node.isNull()) {
            collect(node, steps, file, "normalizer");
        }
        return new Normalizer(steps);
    }

    private static void collect(JsonNode node, List<Step> steps, String file, String field) {
        String type = Json.text(node, "type", file, field);
        switch (type) {
            case "Sequence" -> {
                JsonNode list = Json.array(node, "normalizers", file, field);
                for (int i = 0; i < list.size(); i++) {
                    collect(list.get(i), steps, file, field + ".normalizers[" + i + "]");
                }
            }
            case "Prepend" -> steps.add(new Step(true, null, Json.text(node, "prepend", file, field)));
            case "Replace" -> steps.add(new Step(false, Json.stringPattern(node, file, field),
                    Json.text(node, "content", file, field)));
            default -> throw new TokenizerLoadException(file + ": " + field + ".type is \"" + type
                    + "\"; supported normalizers are Sequence, Prepend and Replace (String pattern)");
        }
    }

    String apply(String text) {
        String s = text;
        for (Step step : steps) {
            if (step.prepend()) {
                if (!s.isEmpty()) {
                    s = step.content() + s;
                }
            } else if (!step.pattern().isEmpty()) {
                s = s.replace(step.pattern(), step.content());
            }
        }
        return s;
    }
}
