package io.github.phi3v.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.RawPrompts;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.tooling.Models;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The model and raw model input of the conformance commands ({@code inspect}, {@code generate}): images plus
 * either a prompt (tokenized exactly like the Python {@code Phi3VProcessor}: no chat template is applied,
 * write it into the prompt) or the input ids themselves.
 */
final class PromptArgs {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    ModelArgs modelArgs;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE",
            description = "An image file; repeat for several (image k fills the -k placeholders / <|image_k|>).")
    List<String> images = new ArrayList<>();

    @Option(names = "--num-crops", paramLabel = "N",
            description = "Crop budget per image (default: num_crops of preprocessor_config.json).")
    Integer numCrops;

    // The heading matters: picocli registers the options of an @ArgGroup inside a @Mixin twice (once with
    // the mixin's options, once with the group), and without a heading the usage help lists both copies.
    // A group with a heading is rendered in its own section from the group's options, so each is listed
    // once. Parsing and the mutual exclusion are the group's either way.
    @ArgGroup(exclusive = true, multiplicity = "1", heading = "%nModel input (exactly one of):%n")
    Source source;

    /** Exactly one of --prompt and --input-ids. */
    static final class Source {
        @Option(names = "--prompt", paramLabel = "TEXT", required = true,
                description = "The full prompt, chat template included, e.g. \"<|user|>\\n<|image_1|>\\nWhat is "
                        + "this?<|end|>\\n<|assistant|>\\n\" (tokenized like Phi3VProcessor, BOS per chunk). The "
                        + "escapes \\n, \\t and \\\\ are turned into newline, tab and backslash.")
        String prompt;

        @Option(names = "--input-ids", paramLabel = "JSON|FILE", required = true,
                description = "Token ids as a JSON array ([1, 32010, ...], or [[...]] with one row), or a file "
                        + "holding one; image k's placeholders are -k.")
        String inputIds;
    }

    /** The input ready for the model, with each image's placeholder count. */
    record Input(int[] ids, List<ImagePixels> images, int[] imageTokens) {
    }

    /** Checks that the image files exist (before the model is loaded). */
    void checkImages() {
        for (String image : images) {
            Models.requireImageFile(image);
        }
    }

    /**
     * Loads the model in float32 unless {@code --dtype} says otherwise: the conformance tools compare with
     * the float32 Python reference.
     *
     * @param err where the tiny-random banner and download progress go
     */
    Phi3Vision openModel(PrintWriter err) {
        return modelArgs.open(err, "float32");
    }

    /** Preprocesses the images and tokenizes the prompt (or parses the ids). */
    Input resolve(Phi3Vision phi) {
        int crops = numCrops != null ? numCrops : phi.imageProcessor().numCrops();
        RawPrompts raw = phi.rawPrompts();
        List<ImagePixels> pixels = new ArrayList<>();
        int[] counts = new int[images.size()];
        for (int k = 0; k < images.size(); k++) {
            ImagePixels p = raw.preprocess(Models.requireImageFile(images.get(k)), crops);
            pixels.add(p);
            counts[k] = raw.imageTokenCount(p);
        }
        int[] ids = source.prompt != null ? phi.tokenizer().encodeMultimodal(unescape(source.prompt), counts)
                : parseIds(source.inputIds);
        return new Input(ids, pixels, counts);
    }

    /**
     * Parses {@code [1, 2, 3]}, {@code [[1, 2, 3]]} or the name of a file containing either.
     *
     * @throws IllegalArgumentException with what was expected and found
     */
    static int[] parseIds(String text) {
        String json = text.strip();
        if (!json.startsWith("[")) {
            Path file = Path.of(json);
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("--input-ids: expected a JSON array of token ids or a file holding "
                        + "one, found '" + abbreviate(json) + "' (no such file)");
            }
            try {
                json = Files.readString(file).strip();
            } catch (IOException e) {
                throw new UncheckedIOException("--input-ids: cannot read " + file + ": " + e.getMessage(), e);
            }
        }
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("--input-ids: expected a JSON array of integers, found malformed JSON '"
                    + abbreviate(json) + "'");
        }
        if (node != null && node.isArray() && node.size() == 1 && node.get(0).isArray()) {
            node = node.get(0);     // [[...]]: a batch of one, as Python prints input_ids
        }
        if (node == null || !node.isArray() || node.isEmpty()) {
            throw new IllegalArgumentException("--input-ids: expected a non-empty JSON array of integers, found '"
                    + abbreviate(json) + "'");
        }
        int[] ids = new int[node.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new IllegalArgumentException("--input-ids: element " + i + " must be an integer token id, found "
                        + v);
            }
            ids[i] = v.intValue();
        }
        return ids;
    }

    /**
     * Turns the two-character escapes {@code \n}, {@code \t} and {@code \\} into newline, tab and
     * backslash, so prompts can be written on one shell line as in Python; other backslashes stay.
     */
    static String unescape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(i + 1);
                if (n == 'n' || n == 't' || n == '\\') {
                    sb.append(n == 'n' ? '\n' : n == 't' ? '\t' : '\\');
                    i++;
                    continue;
                }
            }
            sb.append(c);
        }
        return sb.toString();
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
