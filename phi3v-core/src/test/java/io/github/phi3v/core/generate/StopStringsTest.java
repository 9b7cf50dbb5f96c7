package io.github.phi3v.core.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StopStringsTest {

    @Test
    void stopStringSpanningPiecesIsHeldBackAndCut() {
        StopStrings.Matcher m = StopStrings.of("<END>").matcher();
        assertEquals("Hello ", m.accept("Hello <E"));
        assertEquals("<E", m.pending());
        assertEquals("", m.accept("N"));
        assertFalse(m.isStopped());
        assertEquals("", m.accept("D> tail"));
        assertTrue(m.isStopped());
        assertEquals("<END>", m.matched());
        assertEquals("", m.accept("more"));
        assertEquals("", m.flush());
    }

    @Test
    void falseStartIsReleasedWhenDisproved() {
        StopStrings.Matcher m = StopStrings.of("<END>").matcher();
        assertEquals("a", m.accept("a<E"));
        assertEquals("<EX", m.accept("X"));
        assertEquals("", m.pending());
        assertEquals("b", m.accept("b<"));   // "<" could start "<END>": held
        assertEquals("<", m.pending());
    }

    @Test
    void heldTextIsReleasedByFlush() {
        StopStrings.Matcher m = StopStrings.of("\n\nUser:").matcher();
        assertEquals("answer", m.accept("answer\n"));
        assertEquals("", m.accept("\nUs"));
        assertEquals("\n\nUs", m.flush());
        assertFalse(m.isStopped());
    }

    @Test
    void overlappingPrefixesAreFound() {
        // "aab" inside "aaab": a naive matcher that drops the held "aa" on the mismatch misses it
        StopStrings.Matcher m = StopStrings.of("aab").matcher();
        assertEquals("", m.accept("a"));
        assertEquals("", m.accept("a"));
        assertEquals("a", m.accept("a"));
        assertEquals("", m.accept("b"));
        assertTrue(m.isStopped());
    }

    @Test
    void earliestCompletedStopStringWins() {
        // same end: the longer one (starting earlier) wins
        StopStrings.Matcher m = StopStrings.of("yz", "xyz", "q").matcher();
        assertEquals("ab", m.accept("abxyz!"));
        assertEquals("xyz", m.matched());

        // "bc" completes before "abcd", whether the text comes in pieces or at once
        StopStrings.Matcher pieces = StopStrings.of("abcd", "bc").matcher();
        assertEquals("", pieces.accept("ab"));
        assertEquals("a", pieces.accept("c"));
        assertEquals("bc", pieces.matched());
        StopStrings.Matcher whole = StopStrings.of("abcd", "bc").matcher();
        assertEquals("a", whole.accept("abcd"));
        assertEquals("bc", whole.matched());
    }

    @Test
    void noStopStringsPassesEverythingThrough() {
        StopStrings.Matcher m = StopStrings.of(List.of()).matcher();
        assertEquals("abc", m.accept("abc"));
        assertEquals("", m.flush());
        assertNull(m.matched());
        assertTrue(StopStrings.of().isEmpty());
    }

    @Test
    void surrogatePairsAreNeverSplit() {
        String smile = "\uD83D\uDE00";
        StopStrings.Matcher m = StopStrings.of(smile + "!").matcher();
        assertEquals("x", m.accept("x" + smile));
        assertEquals(smile, m.pending());
        assertEquals(smile + "?", m.accept("?"));
        assertThrows(IllegalArgumentException.class, () -> StopStrings.of("\uDE00"));
        assertThrows(IllegalArgumentException.class, () -> StopStrings.of(""));
    }

    /** Any split of a text into pieces gives the same output as the whole text at once. */
    @Test
    void outputIsIndependentOfHowTheTextIsSplit() {
        StopStrings stops = StopStrings.of("STOP", "TOPS", "\n\n");
        SplittableRandom random = new SplittableRandom(11);
        String alphabet = "STOP\nab";
        for (int trial = 0; trial < 2000; trial++) {
            StringBuilder text = new StringBuilder();
            int len = random.nextInt(1, 30);
            for (int i = 0; i < len; i++) {
                text.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            String expected = reference(text.toString(), stops.strings());
            StopStrings.Matcher m = stops.matcher();
            StringBuilder out = new StringBuilder();
            int pos = 0;
            while (pos < text.length() && !m.isStopped()) {
                int end = Math.min(text.length(), pos + random.nextInt(0, 5));
                out.append(m.accept(text.substring(pos, end)));
                pos = end;
            }
            out.append(m.flush());
            assertEquals(expected, out.toString(), "text " + StopStrings.quote(List.of(text.toString())));
        }
    }

    /** Reference: scan prefixes one char at a time; stop at the first prefix that contains a stop string. */
    private static String reference(String text, List<String> stops) {
        for (int end = 1; end <= text.length(); end++) {
            String prefix = text.substring(0, end);
            int best = -1;
            for (String s : stops) {
                int at = prefix.indexOf(s);
                if (at >= 0 && (best < 0 || at < best)) {
                    best = at;
                }
            }
            if (best >= 0) {
                return text.substring(0, best);
            }
        }
        return text;
    }
}
