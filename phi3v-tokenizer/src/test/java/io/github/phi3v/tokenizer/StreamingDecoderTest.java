package io.github.phi3v.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** Streaming decode: pieces are complete text and concatenate to {@code decode}. */
class StreamingDecoderTest {

    @Test
    void holdsBackByteRunsUntilTheyEnd() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        StreamingDecoder d = t.streamingDecoder(true);
        assertEquals("Hello", d.next(15043));
        assertEquals("", d.next(243));
        assertEquals("", d.next(162));
        assertEquals("", d.next(148));
        assertEquals("", d.next(144)); // 👍 complete, but a further byte could still turn it into U+FFFDs
        assertEquals(4, d.pendingBytes());
        assertEquals("👍 world", d.next(3186));
        assertEquals(0, d.pendingBytes());
        assertEquals("", d.finish());
    }

    @Test
    void invalidRunBecomesOneReplacementPerByte() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        StreamingDecoder d = t.streamingDecoder(false);
        StringBuilder sb = new StringBuilder();
        for (int id : new int[] {243, 162, 148, 144, 231}) {
            sb.append(d.next(id));
        }
        sb.append(d.finish());
        assertEquals("\uFFFD".repeat(5), sb.toString());
    }

    @Test
    void leadingSpaceIsStrippedOnceForTheWholeStream() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        StreamingDecoder d = t.streamingDecoder(true);
        assertEquals("", d.next(1)); // <s> skipped: the stream has not started yet
        assertEquals("", d.next(29871)); // "▁" -> " " -> stripped
        assertEquals(" ", d.next(29871)); // a second space is kept
        assertEquals(" Hello", d.next(15043));
        StreamingDecoder keep = t.streamingDecoder(false);
        assertEquals("<s>", keep.next(1));
        assertEquals(" Hello", keep.next(15043)); // the stream starts with "<s>": nothing stripped
    }

    /** Random id sequences (bytes, pieces, specials, unknown ids): stream == decode, pieces complete. */
    @Test
    void randomSequencesMatchFullDecode() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        SplittableRandom rnd = new SplittableRandom(42);
        int[] interesting = {0, 1, 2, 13, 29871, 259, 15043, 3186, 32000, 32007, 32010, 32044, 32050, -1, 35, 6756};
        for (int k = 0; k < 3000; k++) {
            int n = rnd.nextInt(12);
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) {
                int kind = rnd.nextInt(4);
                ids[i] = kind == 0 ? 3 + rnd.nextInt(256) // a byte token
                        : kind == 1 ? interesting[rnd.nextInt(interesting.length)]
                        : kind == 2 ? 0xE0 + 3 + rnd.nextInt(0x15) // lead bytes of 3/4-byte sequences
                        : rnd.nextInt(32064);
            }
            for (boolean skip : new boolean[] {false, true}) {
                List<String> failures = new ArrayList<>();
                GoldenConformanceTest.checkDecode(t, "random-" + k, ids, skip, t.decode(ids, skip), failures);
                assertTrue(failures.isEmpty(), failures.toString());
            }
        }
    }

    @Test
    void encodedTextStreamsBackExactly() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        String text = "Ünïcödé 👍🏽 你好，世界！ mixed\ttabs\nand lines — done.";
        int[] ids = t.encode(text, false);
        StreamingDecoder d = t.streamingDecoder(true);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            String piece = d.next(id);
            assertTrue(GoldenConformanceTest.isCompleteText(piece));
            sb.append(piece);
        }
        sb.append(d.finish());
        assertEquals(text, sb.toString());
    }
}
