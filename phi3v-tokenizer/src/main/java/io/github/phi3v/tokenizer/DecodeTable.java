package io.github.phi3v.tokenizer;

/**
 * Per-id decoding data, precomputed once: the token's text after the decoder's Replace steps, its
 * byte value if ByteFallback treats it as a byte, and whether {@code skip_special_tokens} drops it.
 * Immutable.
 */
final class DecodeTable {

    /** Text per id, {@code null} for ids the tokenizer does not know (HF drops them). */
    private final String[] text;
    private final int[] byteValue;
    private final boolean[] special;
    final int stripChar;
    final int stripStart;

    DecodeTable(String[] text, int[] byteValue, boolean[] special, int stripChar, int stripStart) {
        this.text = text;
        this.byteValue = byteValue;
        this.special = special;
        this.stripChar = stripChar;
        this.stripStart = stripStart;
    }

    /** Whether the id takes part in decoding at all (known, and not a skipped special token). */
    boolean kept(int id, boolean skipSpecialTokens) {
        return id >= 0 && id < text.length && text[id] != null && !(skipSpecialTokens && special[id]);
    }

    int byteValue(int id) {
        return byteValue[id];
    }

    String text(int id) {
        return text[id];
    }
}
