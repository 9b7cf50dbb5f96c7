package io.github.phi3v.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BPE and added-token semantics on tiny hand-written tokenizer.json files (no shared data needed), and
 * the load errors.
 */
class ToyTokenizerTest {

    private static final String VOCAB = "{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"a\":3,\"b\":4,\"ab\":5,\"bb\":6,"
            + "\"\u2581\":7,\"\u2581a\":8,\"<0x78>\":9}";
    private static final String CONFIG = "{\"bos_token\":\"<s>\",\"eos_token\":{\"content\":\"</s>\"}}";

    private static String tokenizerJson(String merges, String addedTokens, String extraModel, String normalizer,
                                        String decoder) {
        return "{\"version\":\"1.0\",\"added_tokens\":[" + addedTokens + "],\"normalizer\":" + normalizer
                + ",\"pre_tokenizer\":null,\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
                + "{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
                + "\"pair\":[],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},"
                + "\"decoder\":" + decoder + ",\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\","
                + extraModel + "\"vocab\":" + VOCAB + ",\"merges\":[" + merges + "]}}";
    }

    private static Phi3Tokenizer toy(String merges, String addedTokens, String extraModel) {
        return load(tokenizerJson(merges, addedTokens, extraModel, "null",
                "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]}"), CONFIG);
    }

    private static Phi3Tokenizer load(String tokenizer, String config) {
        return Phi3Tokenizer.fromJson(new ByteArrayInputStream(tokenizer.getBytes(StandardCharsets.UTF_8)),
                new ByteArrayInputStream(config.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void lowestRankMergesFirst() {
        assertArrayEquals(new int[] {5, 4}, toy("\"a b\",\"b b\"", "", "").encode("abb", false));
        assertArrayEquals(new int[] {3, 6}, toy("\"b b\",\"a b\"", "", "").encode("abb", false));
        // Array form of merges is accepted too.
        assertArrayEquals(new int[] {3, 6}, toy("[\"b\",\"b\"],[\"a\",\"b\"]", "", "").encode("abb", false));
    }

    @Test
    void tiesGoToTheLeftmostPair() {
        assertArrayEquals(new int[] {6, 4}, toy("\"b b\"", "", "").encode("bbb", false));
        assertArrayEquals(new int[] {6, 6}, toy("\"b b\"", "", "").encode("bbbb", false));
    }

    @Test
    void unknownCharactersFuseIntoOneUnk() {
        assertArrayEquals(new int[] {1, 3, 0, 4}, toy("", "", "\"fuse_unk\":true,").encode("ayzb"));
        assertArrayEquals(new int[] {3, 0, 0, 4}, toy("", "", "\"fuse_unk\":false,").encode("ayzb", false));
        // With byte fallback, a character whose bytes all exist becomes byte tokens ('x' = <0x78>).
        assertArrayEquals(new int[] {3, 9, 0}, toy("", "", "\"byte_fallback\":true,\"fuse_unk\":true,")
                .encode("axyz", false));
    }

    @Test
    void addedTokenFlags() {
        String lstrip = "{\"id\":10,\"content\":\"<m>\",\"special\":true,\"lstrip\":true,\"rstrip\":false,"
                + "\"normalized\":false,\"single_word\":false}";
        Phi3Tokenizer t = toy("", lstrip, "");
        // lstrip swallows the whitespace before the token (U+3000 included), but not the "a".
        assertArrayEquals(new int[] {3, 10, 4}, t.encode("a \u3000\t<m>b", false));
        String single = "{\"id\":10,\"content\":\"ab\",\"special\":false,\"lstrip\":false,\"rstrip\":false,"
                + "\"normalized\":false,\"single_word\":true}";
        Phi3Tokenizer s = toy("", single, "");
        assertArrayEquals(new int[] {10}, s.encode("ab", false));
        assertArrayEquals(new int[] {3, 4, 4}, s.encode("abb", false)); // inside a word: not the token
        // Longest match wins at the same position.
        String two = "{\"id\":10,\"content\":\"<m>\",\"special\":true},{\"id\":11,\"content\":\"<m>>\",\"special\":true}";
        assertArrayEquals(new int[] {11, 3}, toy("", two, "").encode("<m>>a", false));
        assertEquals("<m>>a", toy("", two, "").decode(new int[] {11, 3}, false));
        assertEquals("a", toy("", two, "").decode(new int[] {11, 3}, true));
    }

    @Test
    void loadErrorsNameFileAndField(@TempDir Path dir) throws IOException {
        TokenizerLoadException e = assertThrows(TokenizerLoadException.class, () -> Phi3Tokenizer.fromDirectory(dir));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("not found"), e.getMessage());

        Files.writeString(dir.resolve("tokenizer.json"), toyJson().replace("\"BPE\"", "\"Unigram\""));
        Files.writeString(dir.resolve("tokenizer_config.json"), CONFIG);
        e = assertThrows(TokenizerLoadException.class, () -> Phi3Tokenizer.fromDirectory(dir));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("model.type")
                && e.getMessage().contains("Unigram"), e.getMessage());

        Files.writeString(dir.resolve("tokenizer.json"), toyJson());
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\":\"</s>\"}");
        e = assertThrows(TokenizerLoadException.class, () -> Phi3Tokenizer.fromDirectory(dir));
        assertTrue(e.getMessage().contains("tokenizer_config.json") && e.getMessage().contains("bos_token"),
                e.getMessage());

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\":\"<s>\",");
        e = assertThrows(TokenizerLoadException.class, () -> Phi3Tokenizer.fromDirectory(dir));
        assertTrue(e.getMessage().contains("tokenizer_config.json") && e.getMessage().contains("invalid JSON"),
                e.getMessage());

        e = assertThrows(TokenizerLoadException.class, () -> load(toyJson().replace("\"pre_tokenizer\":null",
                "\"pre_tokenizer\":{\"type\":\"Metaspace\"}"), CONFIG));
        assertTrue(e.getMessage().contains("pre_tokenizer"), e.getMessage());

        e = assertThrows(TokenizerLoadException.class, () -> toy("\"a c\"", "", ""));
        assertTrue(e.getMessage().contains("model.merges[0]") && e.getMessage().contains("\"c\""), e.getMessage());

        e = assertThrows(TokenizerLoadException.class, () -> load(toyJson().replace("\"vocab\":{", "\"vocab\":{\"q\":\"x\","),
                CONFIG));
        assertTrue(e.getMessage().contains("model.vocab[\"q\"]"), e.getMessage());
    }

    private static String toyJson() {
        return tokenizerJson("\"a b\"", "", "", "null", "{\"type\":\"Fuse\"}");
    }

    @Test
    void normalizerAndStripDecoder() {
        String json = tokenizerJson("\"\u2581 a\"", "{\"id\":1,\"content\":\"<s>\",\"special\":true}", "", "{\"type\":\"Sequence\",\"normalizers\":["
                        + "{\"type\":\"Prepend\",\"prepend\":\"\u2581\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},"
                        + "\"content\":\"\u2581\"}]}",
                "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\u2581\"},"
                        + "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\","
                        + "\"content\":\" \",\"start\":1,\"stop\":0}]}");
        Phi3Tokenizer t = load(json, CONFIG);
        assertArrayEquals(new int[] {1, 8, 8}, t.encode("a a"));
        assertEquals("a a", t.decode(new int[] {8, 8}, false));
        assertEquals("<s> a a", t.decode(new int[] {1, 8, 8}, false));
        assertEquals("a ax", t.decode(new int[] {1, 8, 8, 9}, true));
    }
}
