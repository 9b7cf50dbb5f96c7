package io.github.phi3v.core.generate;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;

/**
 * A set of stop strings and the incremental matcher that finds them in a text stream that arrives in
 * arbitrary pieces. Immutable and thread-safe; every generation takes its own {@link #matcher()}.
 *
 * <p>The matcher guarantees two things: the text it releases never contains a stop string (a stop
 * string may span several pieces), and it releases everything else as early as possible. Text that
 * could still turn out to be the beginning of a stop string is held back until the next piece decides
 * it, or until {@link Matcher#flush()} at the end of generation.
 *
 * <pre>{@code
 * StopStrings.Matcher m = StopStrings.of("<END>").matcher();
 * m.accept("Hello <E");     // returns "Hello ", holds "<E"
 * m.accept("ND> tail");     // returns "", m.isStopped() is true
 * }</pre>
 *
 * <p>Generation stops as soon as any stop string is complete in the text seen so far. If one piece
 * completes several, the one that would have completed first had the text arrived one character at a
 * time wins (of those ending at the same place, the longest); the released text is everything before
 * it. So the result does not depend on how the text is split into pieces.
 */
final class StopStrings {

    private static final StopStrings NONE = new StopStrings(List.of());

    private final List<String> strings;
    private final int maxLength;

    private StopStrings(List<String> strings) {
        this.strings = strings;
        int max = 0;
        for (String s : strings) {
            max = Math.max(max, s.length());
        }
        this.maxLength = max;
    }

    /**
     * Creates a set of stop strings.
     *
     * @param strings non-empty, well-formed strings (no unpaired surrogates); may be none
     * @return the set
     * @throws IllegalArgumentException if a string is empty or malformed
     */
    public static StopStrings of(String... strings) {
        return of(List.of(strings));
    }

    /**
     * Creates a set of stop strings.
     *
     * @param strings non-empty, well-formed strings (no unpaired surrogates); may be empty
     * @return the set
     * @throws IllegalArgumentException if a string is empty or malformed
     */
    public static StopStrings of(Collection<String> strings) {
        List<String> valid = validate(strings);
        return valid.isEmpty() ? NONE : new StopStrings(List.copyOf(valid));
    }

    /**
     * The stop strings.
     *
     * @return an unmodifiable list
     */
    public List<String> strings() {
        return strings;
    }

    /**
     * Tells whether there are no stop strings.
     *
     * @return true if none
     */
    public boolean isEmpty() {
        return strings.isEmpty();
    }

    /**
     * Starts matching a new text stream.
     *
     * @return a fresh matcher (not thread-safe; one per generation)
     */
    public Matcher matcher() {
        return new Matcher();
    }

    static List<String> validate(Collection<String> strings) {
        Objects.requireNonNull(strings, "stop strings");
        List<String> out = new ArrayList<>(strings.size());
        for (String s : strings) {
            Objects.requireNonNull(s, "stop strings contain null");
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty (an empty stop string would"
                        + " stop before the first token), got " + quote(strings));
            }
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                boolean paired = Character.isHighSurrogate(c)
                        ? i + 1 < s.length() && Character.isLowSurrogate(s.charAt(++i))
                        : !Character.isLowSurrogate(c);
                if (!paired) {
                    throw new IllegalArgumentException("stop string " + quote(List.of(s))
                            + " has an unpaired surrogate at index " + i + "; it can never match decoded text");
                }
            }
            if (!out.contains(s)) {
                out.add(s);
            }
        }
        return out;
    }

    static String quote(Collection<String> strings) {
        StringBuilder sb = new StringBuilder("[");
        for (String s : strings) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    default -> sb.append(c);
                }
            }
            sb.append('"');
        }
        return sb.append(']').toString();
    }

    @Override
    public String toString() {
        return "StopStrings" + quote(strings);
    }

    /**
     * Incremental matcher over one text stream. Feed pieces with {@link #accept(String)}; each call
     * returns the text that is now known not to belong to a stop string. Not thread-safe.
     */
    public final class Matcher {

        /** Text released by nobody yet: always a suffix that is a proper prefix of some stop string. */
        private final StringBuilder held = new StringBuilder();
        private String matched;

        private Matcher() {
        }

        /**
         * Adds the next piece of text.
         *
         * @param piece the next piece (may be empty)
         * @return text safe to emit now (possibly empty); after a stop this is the text before the stop
         *     string, and later calls return ""
         */
        public String accept(String piece) {
            Objects.requireNonNull(piece, "piece");
            if (matched != null) {
                return "";
            }
            if (strings.isEmpty()) {
                return piece;
            }
            held.append(piece);
            // Any stop string that occurs must start inside `held`: the held part is the longest suffix
            // of earlier text that could begin a stop string, and full occurrences there were caught earlier.
            // The stop string that completes first wins (as if the text had come one char at a time); of
            // those ending at the same place, the longest, i.e. the one starting earliest.
            int bestStart = -1;
            int bestEnd = Integer.MAX_VALUE;
            String best = null;
            for (String s : strings) {
                int at = held.indexOf(s);
                int end = at + s.length();
                if (at >= 0 && (end < bestEnd || (end == bestEnd && at < bestStart))) {
                    bestStart = at;
                    bestEnd = end;
                    best = s;
                }
            }
            if (best != null) {
                matched = best;
                String out = held.substring(0, bestStart);
                held.setLength(0);
                return out;
            }
            int keep = longestSuffixThatStartsAStopString();
            String out = held.substring(0, held.length() - keep);
            held.delete(0, held.length() - keep);
            return out;
        }

        private int longestSuffixThatStartsAStopString() {
            int n = held.length();
            for (int len = Math.min(n, maxLength - 1); len > 0; len--) {
                int from = n - len;
                for (String s : strings) {
                    if (s.length() > len && regionMatches(from, s, len)) {
                        return len;
                    }
                }
            }
            return 0;
        }

        private boolean regionMatches(int from, String s, int len) {
            for (int i = 0; i < len; i++) {
                if (held.charAt(from + i) != s.charAt(i)) {
                    return false;
                }
            }
            return true;
        }

        /**
         * Ends the stream: releases the held-back text, which can no longer become a stop string.
         *
         * @return the held text, or "" after a stop
         */
        public String flush() {
            if (matched != null) {
                return "";
            }
            String out = held.toString();
            held.setLength(0);
            return out;
        }

        /**
         * Tells whether a stop string was found.
         *
         * @return true after a match
         */
        public boolean isStopped() {
            return matched != null;
        }

        /**
         * The stop string that matched.
         *
         * @return the stop string, or null if none matched (yet)
         */
        public String matched() {
            return matched;
        }

        /**
         * The text currently held back because it may begin a stop string.
         *
         * @return the held text
         */
        public String pending() {
            return held.toString();
        }
    }
}
