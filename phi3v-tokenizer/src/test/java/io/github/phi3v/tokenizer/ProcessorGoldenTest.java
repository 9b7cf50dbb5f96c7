package io.github.phi3v.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.phi3v.testsupport.Jsonl;
import io.github.phi3v.testsupport.SharedData;
import org.junit.jupiter.api.Test;

/**
 * Every row of {@code processor_golden.jsonl} (the official {@code Phi3VProcessor}): the chat template
 * text, the chunks of the tag split, each chunk's ids, the full {@code input_ids} with negative image
 * placeholders, and the processor's validation errors.
 */
class ProcessorGoldenTest {

    @Test
    void processorGolden() {
        Phi3Tokenizer tok = TestTokenizers.phi3v();
        List<JsonNode> rows = Jsonl.read(SharedData.tokenizer().resolve("processor_golden.jsonl"));
        List<String> failures = new ArrayList<>();
        int passed = 0;
        int errors = 0;
        int templates = 0;
        for (JsonNode row : rows) {
            String id = row.get("id").asText();
            String text = row.get("text").asText();
            int before = failures.size();
            if (row.hasNonNull("messages")) {
                templates++;
                List<Message> messages = new ArrayList<>();
                row.get("messages").forEach(m -> messages.add(new Message(m.get("role").asText(),
                        m.get("content").asText())));
                String rendered = ChatTemplate.render(messages,
                        row.get("chat_template_add_generation_prompt").asBoolean());
                if (!rendered.equals(text)) {
                    failures.add(id + ": chat template \"" + GoldenConformanceTest.escape(rendered) + "\" != \""
                            + GoldenConformanceTest.escape(text) + "\"");
                }
            }
            int[] counts = Jsonl.ints(row.get("num_img_tokens"));
            if (counts.length != row.get("num_images").asInt()) {
                failures.add(id + ": num_img_tokens has " + counts.length + " entries for num_images "
                        + row.get("num_images").asInt());
            }
            if (counts.length > 0) {
                List<String> chunks = ImageTags.chunks(text);
                List<String> expectedChunks = new ArrayList<>();
                row.get("chunks").forEach(c -> expectedChunks.add(c.asText()));
                if (!chunks.equals(expectedChunks)) {
                    failures.add(id + ": chunks " + chunks + " != " + expectedChunks);
                }
                if (row.hasNonNull("chunk_ids")) {
                    for (int i = 0; i < expectedChunks.size(); i++) {
                        int[] want = Jsonl.ints(row.get("chunk_ids").get(i));
                        int[] got = tok.encode(expectedChunks.get(i));
                        if (!Arrays.equals(got, want)) {
                            failures.add(id + ": chunk " + i + " ids " + Arrays.toString(got) + " != "
                                    + Arrays.toString(want));
                        }
                    }
                }
            }
            JsonNode error = row.get("error");
            if (error != null && !error.isNull()) {
                errors++;
                try {
                    int[] got = tok.encodeMultimodal(text, counts);
                    failures.add(id + ": expected error \"" + error.asText() + "\", got " + got.length + " ids");
                } catch (IllegalArgumentException e) {
                    String got = "AssertionError: " + e.getMessage();
                    if (!got.equals(error.asText())) {
                        failures.add(id + ": error \"" + got + "\" != \"" + error.asText() + "\"");
                    }
                }
            } else {
                int[] want = Jsonl.ints(row.get("input_ids"));
                int[] got = tok.encodeMultimodal(text, counts);
                if (!Arrays.equals(got, want)) {
                    failures.add(id + ": input_ids differ (length " + got.length + " vs " + want.length + ")");
                }
                int[] runs = runLengthCheck(row.get("input_ids_run_length"));
                if (runs != null && !Arrays.equals(runs, want)) {
                    failures.add(id + ": input_ids_run_length does not expand to input_ids (data problem)");
                }
            }
            if (failures.size() == before) {
                passed++;
            }
        }
        System.out.printf("processor_golden.jsonl: %d/%d rows pass (%d error rows, %d chat-template rows)%n",
                passed, rows.size(), errors, templates);
        assertTrue(failures.isEmpty(), failures.size() + " mismatches:\n" + String.join("\n", failures));
        assertEquals(29, rows.size(), "processor_golden.jsonl row count");
    }

    private static int[] runLengthCheck(JsonNode runs) {
        if (runs == null || runs.isNull()) {
            return null;
        }
        List<Integer> out = new ArrayList<>();
        for (JsonNode r : runs) {
            for (int i = 0; i < r.get(1).asInt(); i++) {
                out.add(r.get(0).asInt());
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }
}
