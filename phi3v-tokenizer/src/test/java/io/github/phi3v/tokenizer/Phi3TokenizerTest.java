package io.github.phi3v.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.phi3v.testsupport.Jsonl;
import io.github.phi3v.testsupport.SharedData;
import org.junit.jupiter.api.Test;

/** The behaviours listed in {@code shared/tokenizer/README.md}, on the real Phi-3-vision tokenizer. */
class Phi3TokenizerTest {

    private static int[] ids(int... ids) {
        return ids;
    }

    @Test
    void vocabularyFacts() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        assertEquals(32045, t.vocabSize());
        assertEquals(1, t.bosId());
        assertEquals(32000, t.eosTokenId());
        assertArrayEquals(ids(32000, 32007, 2), t.eosIds());
        assertEquals("▁Hello", t.idToToken(15043));
        assertEquals("<0x0A>", t.idToToken(13));
        assertEquals("<|image|>", t.idToToken(32044));
        assertNull(t.idToToken(32050));
        assertNull(t.idToToken(-1));
        assertEquals(32010, t.tokenToId("<|user|>"));
        assertEquals(3186, t.tokenToId("▁world"));
        assertEquals(-1, t.tokenToId("<|image_1|>"));
        assertTrue(ChatTemplate.isPhi3Template(t.chatTemplateSource()));
    }

    @Test
    void readmeEncodeExamples() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        assertArrayEquals(ids(1), t.encode(""));
        assertArrayEquals(ids(), t.encode("", false));
        assertArrayEquals(ids(1, 15043, 3186), t.encode("Hello world"));
        assertArrayEquals(ids(1, 15043, 32007, 3186), t.encode("Hello<|end|>world"));
        assertArrayEquals(ids(1, 1, 15043), t.encode("<s>Hello"));
        assertArrayEquals(ids(1, 0, 259, 0), t.encode("<unk> <unk>"));
        assertArrayEquals(ids(1, 529, 32007, 1405), t.encode("<<|end|>>"));
        assertArrayEquals(ids(1, 32001, 15043), t.encode("<|assistant|>\nHello"));
        assertArrayEquals(ids(1, 32001, 29871, 30166, 10994), t.encode("<|assistant|>\u200bHello"));
        assertArrayEquals(ids(1, 1426, 2, 901), t.encode("text</s>  \n  more"));
        assertArrayEquals(ids(1, 32044, 15043), t.encode("<|image|>Hello"));
        assertArrayEquals(ids(1, 32010, 268), t.encode("<|user|>   "));
        assertArrayEquals(ids(1, 15043, 29871, 32007), t.encode("Hello <|end|>"));
        assertArrayEquals(ids(1, 268, 32007), t.encode("   <|end|>"));
        assertArrayEquals(ids(1, 529, 29989, 3027, 29918, 29896, 29989, 29958), t.encode("<|image_1|>"));
        assertArrayEquals(ids(1, 904), t.encode("é"));
        assertArrayEquals(ids(1, 321, 30103), t.encode("e\u0301"));
        assertArrayEquals(ids(1, 29871, 243, 162, 148, 144), t.encode("👍"));
        assertArrayEquals(ids(1, 29871, 3), t.encode("\u0000"));
        assertArrayEquals(ids(1, 6756), t.encode("\r"));
        assertArrayEquals(ids(1, 263, 30004, 29890), t.encode("a\rb"));
        assertArrayEquals(ids(1, 263, 29871, 289), t.encode("a  b"));
        assertArrayEquals(ids(1, 1678, 1716, 11192, 1678), t.encode("   both sides   "));
        assertArrayEquals(ids(1, 462, 29871), t.encode(" ".repeat(16)));
        assertArrayEquals(ids(1, 263, 289), t.encode("a▁b"));
        assertArrayEquals(ids(1, 259), t.encode("▁"));
    }

    /** rstrip swallows exactly Rust's char::is_whitespace, which is not Java's Character.isWhitespace. */
    @Test
    void rstripUsesRustWhitespace() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        int[] swallowed = t.encode("<|assistant|>Hello");
        for (String ws : new String[] {"\t", "\n", "\u000b", "\f", "\r", " ", "\u0085", "\u00a0", "\u1680", "\u2000",
                "\u2007", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", " \u00a0\n\u3000"}) {
            assertArrayEquals(swallowed, t.encode("<|assistant|>" + ws + "Hello"), "U+" + (int) ws.charAt(0));
        }
        for (String kept : new String[] {"\u001c", "\u001f", "\u200b", "\ufeff", "\u180e"}) {
            int[] got = t.encode("<|assistant|>" + kept + "Hello");
            assertTrue(got.length > swallowed.length, "must not swallow U+" + Integer.toHexString(kept.charAt(0)));
        }
        assertTrue(AddedVocabulary.isWhitespace(0x3000));
        assertTrue(!AddedVocabulary.isWhitespace(0x1C) && Character.isWhitespace(0x1C));
        assertTrue(AddedVocabulary.isWhitespace(0xA0) && !Character.isWhitespace(0xA0));
    }

    @Test
    void readmeDecodeExamples() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        assertEquals("<s> Hello", t.decode(ids(1, 15043), false));
        assertEquals("Hello", t.decode(ids(1, 15043), true));
        assertEquals("", t.decode(ids(29871), false));
        assertEquals("<s> ", t.decode(ids(1, 29871), false));
        assertEquals("Hello� Hello", t.decode(ids(15043, 232, 15043), false));
        assertEquals("Hello</s>", t.decode(ids(1, 15043, 2), true));
        assertEquals("�����", t.decode(ids(243, 162, 148, 144, 231), true));
        assertEquals("👍 Hello�", t.decode(ids(243, 162, 148, 144, 15043, 231), true));
        // A leading space from a <0x20> byte token is stripped too.
        assertEquals("a", t.decode(ids(35, 29874), false));
    }

    @Test
    void unknownAndPlaceholderIdsAreDropped() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        assertEquals("Hello world", t.decode(ids(15043, 32045, 32063, 3186, -1, -757, Integer.MAX_VALUE), true));
        // Dropped ids do not end a byte run (they are filtered out before the decoder, as in HF).
        assertEquals("👍", t.decode(ids(243, 162, 32050, 148, 144), true));
        assertEquals("👍", t.decode(ids(243, 162, 32044, 148, 144), true));
        assertEquals("��<|image|>��", t.decode(ids(243, 162, 32044, 148, 144), false));
    }

    @Test
    void loneSurrogateIsEncodedAsReplacementCharacter() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        assertArrayEquals(t.encode("a\uFFFDb"), t.encode("a\uD800b"));
    }

    /**
     * Cutting words at word starts and at pairs no merge can join (and caching parts) gives the same ids
     * as BPE over the whole word, for short and long (cut) words, with and without spaces.
     */
    @Test
    void cuttingWordsIsExact() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        SplittableRandom rnd = new SplittableRandom(7);
        String[] alphabets = {"aeioustrnl ▁▁  ,.x\n\t1é你👍\u00a0", "thequickbrownfoxjumpsoverlazydg", "ab",
                "0123456789-+.,", "人工智能的发展很快你好世界中文字符😀👍🏽\r\n", "\u00e9e\u0301\u00fc\u00df\u0438\u043a\u05d0\u0627"};
        for (int k = 0; k < 600; k++) {
            String alphabet = alphabets[k % alphabets.length];
            int size = alphabet.codePointCount(0, alphabet.length());
            StringBuilder sb = new StringBuilder();
            int n = 1 + rnd.nextInt(k % 3 == 0 ? 400 : 80);
            for (int i = 0; i < n; i++) {
                sb.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0, rnd.nextInt(size))));
            }
            String word = t.normalize(sb.toString());
            IntArrayBuilder whole = new IntArrayBuilder(8);
            t.model().encodePart(word, whole);
            IntArrayBuilder cut = new IntArrayBuilder(8);
            t.model().encodeWord(word, cut);
            assertArrayEquals(whole.toArray(), cut.toArray(), word);
            String noSpaces = word.replace("\u2581", "");
            if (!noSpaces.isEmpty()) {
                whole = new IntArrayBuilder(8);
                t.model().encodePart(noSpaces, whole);
                cut = new IntArrayBuilder(8);
                t.model().encodeWord(noSpaces, cut);
                assertArrayEquals(whole.toArray(), cut.toArray(), noSpaces);
            }
        }
    }

    /** One megabyte without special tokens is one BPE word: it must stay near-linear. */
    @Test
    void oneMegabyteWithoutSpacesIsFast() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        StringBuilder sb = new StringBuilder();
        SplittableRandom rnd = new SplittableRandom(1);
        while (sb.length() < (1 << 20)) {
            sb.append("thequickbrownfoxjumpsoverthelazydog".substring(rnd.nextInt(30))).append(rnd.nextInt(100));
        }
        String text = sb.toString();
        t.encode(text.substring(0, 100_000)); // warm-up
        long start = System.nanoTime();
        int[] ids = t.encode(text);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("1 MB without spaces: %d tokens in %.3f s%n", ids.length, seconds);
        assertTrue(seconds < 10, "quadratic behaviour? 1 MB took " + seconds + " s");
        assertEquals(text, t.decode(ids, true));
        // The same megabyte as ONE BPE word (no cutting, no cache): heap + linked list, near-linear.
        start = System.nanoTime();
        IntArrayBuilder whole = new IntArrayBuilder(ids.length);
        t.model().encodePart(t.normalize(text), whole);
        seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("1 MB as one uncut BPE word: %d tokens in %.3f s%n", whole.size(), seconds);
        assertTrue(seconds < 10, "quadratic behaviour? 1 MB took " + seconds + " s");
        assertArrayEquals(java.util.Arrays.copyOfRange(ids, 1, ids.length), whole.toArray());
    }

    @Test
    void concurrentUseGivesSameIds() throws Exception {
        Phi3Tokenizer t = Phi3Tokenizer.fromDirectory(TestTokenizers.phi3vDir()); // fresh, empty cache
        List<String> texts = new ArrayList<>();
        for (JsonNode row : Jsonl.read(SharedData.tokenizer().resolve("golden.jsonl"))) {
            texts.add(row.get("text").asText());
        }
        List<int[]> expected = new ArrayList<>();
        Phi3Tokenizer reference = TestTokenizers.phi3v();
        for (String s : texts) {
            expected.add(reference.encode(s));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                int offset = w;
                results.add(pool.submit(() -> {
                    for (int rep = 0; rep < 3; rep++) {
                        for (int i = 0; i < texts.size(); i++) {
                            int k = (i + offset * 37) % texts.size();
                            if (!java.util.Arrays.equals(t.encode(texts.get(k)), expected.get(k))) {
                                return false;
                            }
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : results) {
                assertTrue(f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
