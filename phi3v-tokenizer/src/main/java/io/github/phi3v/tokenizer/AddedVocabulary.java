package io.github.phi3v.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code added_tokens} of {@code tokenizer.json} and how HF {@code tokenizers} cuts raw text on
 * them before normalization: exact, case-sensitive, leftmost-longest, non-overlapping matches; then
 * per match {@code single_word} (skip the match if it touches a word character), {@code lstrip}
 * (swallow whitespace before it, but not whitespace an earlier match already took) and {@code rstrip}
 * (swallow all whitespace after it). "Whitespace" is Rust's {@code char::is_whitespace}, i.e. the
 * Unicode {@code White_Space} property (see {@link #isWhitespace(int)}).
 *
 * <p>Immutable and thread-safe.
 */
final class AddedVocabulary {

    /** One added token as declared in {@code tokenizer.json}. */
    record AddedToken(int id, String content, boolean special, boolean singleWord, boolean lstrip,
                      boolean rstrip, boolean normalized) {
    }

    /** Receives the pieces of a split: text ranges and matched added tokens, in order. */
    interface SplitSink {
        /** A plain-text range {@code [start, end)} (never empty). */
        void text(int start, int end);

        /** A matched added token. */
        void token(int id);
    }

    private final Map<Integer, AddedToken> byId;
    private final Map<String, AddedToken> byContent;
    /** Candidate tokens by their first UTF-16 unit, longest first (leftmost-longest matching). */
    private final Map<Character, AddedToken[]> byFirstChar;

    AddedVocabulary(List<AddedToken> tokens) {
        Map<Integer, AddedToken> ids = new HashMap<>();
        Map<String, AddedToken> contents = new HashMap<>();
        Map<Character, List<AddedToken>> first = new HashMap<>();
        for (AddedToken t : tokens) {
            ids.put(t.id(), t);
            contents.put(t.content(), t);
            if (!t.content().isEmpty()) {
                first.computeIfAbsent(t.content().charAt(0), k -> new ArrayList<>()).add(t);
            }
        }
        Map<Character, AddedToken[]> sorted = new HashMap<>();
        for (Map.Entry<Character, List<AddedToken>> e : first.entrySet()) {
            List<AddedToken> list = new ArrayList<>(e.getValue());
            list.sort(Comparator.comparingInt((AddedToken t) -> t.content().length()).reversed());
            sorted.put(e.getKey(), list.toArray(new AddedToken[0]));
        }
        this.byId = Map.copyOf(ids);
        this.byContent = Map.copyOf(contents);
        this.byFirstChar = Map.copyOf(sorted);
    }

    AddedToken byId(int id) {
        return byId.get(id);
    }

    AddedToken byContent(String content) {
        return byContent.get(content);
    }

    int maxId() {
        int max = -1;
        for (int id : byId.keySet()) {
            max = Math.max(max, id);
        }
        return max;
    }

    /** Splits {@code text} on added tokens, reporting plain ranges and token ids to {@code sink}. */
    void split(String text, SplitSink sink) {
        split(text, new int[] {0, text.length()}, sink);
    }

    /**
     * Like {@link #split(String, SplitSink)}, but an added token is matched only if it lies entirely
     * inside one of the {@code matchable} ranges; everything else is plain text. Stripping and
     * {@code single_word} still look at the whole {@code text}, so with one range covering everything
     * this is exactly the plain split (literal-text mode, see {@link PromptEncoder}).
     *
     * @param matchable {@code [start0, end0, start1, end1, ...]}, ascending, non-overlapping
     */
    void split(String text, int[] matchable, SplitSink sink) {
        int n = text.length();
        int startOffset = 0; // end of what has been reported so far
        int i = 0;
        int range = 0; // index of the first range whose end is after i
        while (i < n) {
            while (range < matchable.length && matchable[range + 1] <= i) {
                range += 2;
            }
            if (range == matchable.length) {
                break; // no matchable text left: the rest is one text run
            }
            if (i < matchable[range]) {
                i = matchable[range];
                continue;
            }
            int rangeEnd = matchable[range + 1];
            AddedToken[] candidates = byFirstChar.get(text.charAt(i));
            AddedToken match = null;
            if (candidates != null) {
                for (AddedToken t : candidates) {
                    // Longest first: the longest token that ends inside the range wins, as if the
                    // range were the whole text.
                    if (i + t.content().length() <= rangeEnd && text.startsWith(t.content(), i)) {
                        match = t;
                        break;
                    }
                }
            }
            if (match == null) {
                i++;
                continue;
            }
            int start = i;
            int stop = i + match.content().length();
            // The matcher resumes after the raw match, whatever stripping does with it below.
            i = stop;
            if (match.singleWord()) {
                boolean startSpace = start == 0 || !isWordChar(text.codePointBefore(start));
                boolean stopSpace = stop == n || !isWordChar(text.codePointAt(stop));
                if (!startSpace || !stopSpace) {
                    continue;
                }
            }
            if (match.lstrip()) {
                int newStart = start;
                while (newStart > 0) {
                    int cp = text.codePointBefore(newStart);
                    if (!isWhitespace(cp)) {
                        break;
                    }
                    newStart -= Character.charCount(cp);
                }
                start = Math.max(newStart, startOffset);
            }
            if (match.rstrip()) {
                while (stop < n) {
                    int cp = text.codePointAt(stop);
                    if (!isWhitespace(cp)) {
                        break;
                    }
                    stop += Character.charCount(cp);
                }
            }
            if (start < startOffset) {
                // Only possible for tokens that contain whitespace after an rstrip token; HF would emit
                // overlapping text, we keep the earlier token's claim.
                continue;
            }
            if (startOffset < start) {
                sink.text(startOffset, start);
            }
            sink.token(match.id());
            startOffset = stop;
            i = Math.max(i, stop);
        }
        if (startOffset < n) {
            sink.text(startOffset, n);
        }
    }

    /**
     * Rust's {@code char::is_whitespace} (Unicode {@code White_Space}): TAB, LF, VT, FF, CR, space,
     * U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. Unlike Java's
     * {@link Character#isWhitespace(int)} it includes the no-break spaces and excludes U+001C..U+001F;
     * U+200B and U+FEFF are not whitespace.
     */
    static boolean isWhitespace(int cp) {
        if (cp <= 0x20) {
            return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
        }
        if (cp < 0x85) {
            return false;
        }
        return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028
                || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    }

    /** Rust's {@code c.is_alphanumeric() || c == '_'} (used by {@code single_word}). */
    private static boolean isWordChar(int cp) {
        if (cp == '_' || Character.isAlphabetic(cp)) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER;
    }
}
