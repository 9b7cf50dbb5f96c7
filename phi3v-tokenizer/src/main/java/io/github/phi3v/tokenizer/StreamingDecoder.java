package io.github.phi3v.tokenizer;

import java.util.Arrays;

/**
 * Incremental detokenizer for generation: feed ids one at a time with {@link #next(int)} and print
 * what it returns; after the last id, {@link #finish()} returns the rest. The concatenation of all
 * returned pieces equals {@link Phi3Tokenizer#decode(int[], boolean) decode(allIds, skipSpecialTokens)}.
 *
 * <p>Every piece is complete text (never half of a UTF-8 sequence or of a surrogate pair): a run of
 * byte-fallback tokens ({@code <0xXX>}) is held back until a non-byte token (or {@code finish()})
 * ends it, because HF decodes a run as a whole and turns <em>every</em> byte of an invalid run into
 * U+FFFD, so a later byte can still change text that looked complete. The "strip one leading space"
 * rule of the decoder applies to the start of the whole stream, not to each piece. Unknown ids and,
 * with {@code skipSpecialTokens}, special tokens are ignored entirely (they do not end a byte run),
 * exactly as in {@code decode}.
 *
 * <p>Create one per generated sequence with {@link Phi3Tokenizer#streamingDecoder(boolean)}. Not
 * thread-safe (it is a mutable per-stream state); the tokenizer it came from is.
 */
public final class StreamingDecoder {

    private final DecodeTable table;
    private final boolean skipSpecialTokens;
    private byte[] run = new byte[16];
    private int runLength;
    private int stripRemaining;

    StreamingDecoder(DecodeTable table, boolean skipSpecialTokens) {
        this.table = table;
        this.skipSpecialTokens = skipSpecialTokens;
        this.stripRemaining = table.stripStart;
    }

    /**
     * Consumes one id.
     *
     * @param id a token id (unknown ids are ignored, like in {@code decode})
     * @return the text that became final with this id; often empty, never {@code null}
     */
    public String next(int id) {
        if (!table.kept(id, skipSpecialTokens)) {
            return "";
        }
        int b = table.byteValue(id);
        if (b >= 0) {
            if (runLength == run.length) {
                run = Arrays.copyOf(run, runLength * 2);
            }
            run[runLength++] = (byte) b;
            return "";
        }
        String pending = takeRun();
        String text = table.text(id);
        return strip(pending.isEmpty() ? text : pending + text);
    }

    /**
     * Ends the stream: returns the held-back byte run decoded (U+FFFD per byte if it is not valid
     * UTF-8). The decoder may be fed again afterwards; later bytes then start a new run.
     *
     * @return the remaining text, possibly empty
     */
    public String finish() {
        return strip(takeRun());
    }

    /**
     * Number of byte-fallback tokens currently held back.
     *
     * @return the length of the pending byte run
     */
    public int pendingBytes() {
        return runLength;
    }

    private String takeRun() {
        if (runLength == 0) {
            return "";
        }
        String s = Utf8.decodeStrict(run, runLength);
        if (s == null) {
            s = "\uFFFD".repeat(runLength);
        }
        runLength = 0;
        return s;
    }

    /** Removes leading strip characters while the whole stream's start is still being written. */
    private String strip(String s) {
        int from = 0;
        while (stripRemaining > 0 && from < s.length()) {
            int cp = s.codePointAt(from);
            if (cp != table.stripChar) {
                stripRemaining = 0;
                break;
            }
            from += Character.charCount(cp);
            stripRemaining--;
        }
        return from == 0 ? s : s.substring(from);
    }
}
