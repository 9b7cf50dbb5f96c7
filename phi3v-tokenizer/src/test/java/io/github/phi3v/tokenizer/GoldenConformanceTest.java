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
 * Every row of {@code golden.jsonl}, {@code fuzz.jsonl} and {@code decode_golden.jsonl} (produced by the
 * Rust HF tokenizers): ids with and without special tokens, both decodes, and the streaming decoder
 * (equal to the full decode, every piece complete text). All mismatches are collected and reported
 * together; the test requires 100 %.
 */
class GoldenConformanceTest {

    @Test
    void goldenCorpus() {
        checkEncodeRows("golden.jsonl", 314);
    }

    @Test
    void fuzzCorpus() {
        checkEncodeRows("fuzz.jsonl", 1000);
    }

    @Test
    void decodeGolden() {
        Phi3Tokenizer tok = TestTokenizers.phi3v();
        List<JsonNode> rows = Jsonl.read(SharedData.tokenizer().resolve("decode_golden.jsonl"));
        List<String> failures = new ArrayList<>();
        int passed = 0;
        for (JsonNode row : rows) {
            int[] ids = Jsonl.ints(row.get("ids"));
            int before = failures.size();
            String id = row.get("id").asText();
            checkDecode(tok, id, ids, false, row.get("decode_keep_special").asText(), failures);
            checkDecode(tok, id, ids, true, row.get("decode_skip_special").asText(), failures);
            if (failures.size() == before) {
                passed++;
            }
        }
        System.out.printf("decode_golden.jsonl: %d/%d rows pass (keep/skip decode + streaming)%n", passed, rows.size());
        assertTrue(failures.isEmpty(), failures.size() + " mismatches:\n" + String.join("\n", failures));
        assertEquals(24, rows.size(), "decode_golden.jsonl row count");
    }

    private static void checkEncodeRows(String file, int expectedRows) {
        Phi3Tokenizer tok = TestTokenizers.phi3v();
        List<JsonNode> rows = Jsonl.read(SharedData.tokenizer().resolve(file));
        List<String> failures = new ArrayList<>();
        int[] passed = new int[5];
        for (JsonNode row : rows) {
            String id = row.get("id").asText();
            String text = row.get("text").asText();
            int[] ids = Jsonl.ints(row.get("ids"));
            int[] noSpecial = Jsonl.ints(row.get("ids_no_special"));
            int before = failures.size();
            int[] got = tok.encode(text);
            if (Arrays.equals(got, ids)) {
                passed[0]++;
            } else {
                failures.add(id + ": encode " + Arrays.toString(got) + " != " + Arrays.toString(ids));
            }
            int[] gotNo = tok.encode(text, false);
            if (Arrays.equals(gotNo, noSpecial)) {
                passed[1]++;
            } else {
                failures.add(id + ": encode(no special) " + Arrays.toString(gotNo) + " != " + Arrays.toString(noSpecial));
            }
            int mark = failures.size();
            checkDecode(tok, id, ids, false, row.get("decode_keep_special").asText(), failures);
            if (failures.size() == mark) {
                passed[2]++;
            }
            mark = failures.size();
            checkDecode(tok, id, ids, true, row.get("decode_skip_special").asText(), failures);
            if (failures.size() == mark) {
                passed[3]++;
            }
            if (failures.size() == before) {
                passed[4]++;
            }
        }
        System.out.printf("%s: %d rows; ids %d, ids_no_special %d, decode_keep_special %d, decode_skip_special %d"
                        + " (incl. streaming); fully passing rows %d/%d%n",
                file, rows.size(), passed[0], passed[1], passed[2], passed[3], passed[4], rows.size());
        assertTrue(failures.isEmpty(), failures.size() + " mismatches (first 30):\n"
                + String.join("\n", failures.subList(0, Math.min(30, failures.size()))));
        assertEquals(expectedRows, rows.size(), file + " row count");
    }

    /** Full decode and streaming decode against the expected text; records failures. */
    static void checkDecode(Phi3Tokenizer tok, String id, int[] ids, boolean skip, String expected,
                            List<String> failures) {
        String mode = skip ? "skip" : "keep";
        String full = tok.decode(ids, skip);
        if (!full.equals(expected)) {
            failures.add(id + ": decode(" + mode + ") \"" + escape(full) + "\" != \"" + escape(expected) + "\"");
        }
        StreamingDecoder sd = tok.streamingDecoder(skip);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i <= ids.length; i++) {
            String piece = i < ids.length ? sd.next(ids[i]) : sd.finish();
            if (!isCompleteText(piece)) {
                failures.add(id + ": streaming(" + mode + ") emitted a broken UTF-16/UTF-8 piece at id #" + i
                        + ": \"" + escape(piece) + "\"");
            }
            sb.append(piece);
        }
        if (!sb.toString().equals(expected)) {
            failures.add(id + ": streaming(" + mode + ") \"" + escape(sb.toString()) + "\" != \"" + escape(expected) + "\"");
        }
    }

    /** True if the piece has no unpaired surrogate, i.e. it encodes to valid UTF-8 on its own. */
    static boolean isCompleteText(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder();
        s.codePoints().limit(300).forEach(cp -> {
            if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
                sb.append(String.format("\\u%04x", cp));
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return sb.toString();
    }
}
