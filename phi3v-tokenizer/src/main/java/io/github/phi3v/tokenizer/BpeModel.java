package io.github.phi3v.tokenizer;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of {@code tokenizer.json} ({@code model.type == "BPE"}), reproducing the Hugging Face
 * {@code tokenizers} algorithm: every character of a word is a symbol (its vocab id, else its UTF-8
 * bytes as {@code <0xXX>} tokens when byte fallback is on, else {@code unk}); then the adjacent pair
 * with the lowest merge rank is merged, ties going to the leftmost pair, until no pair can merge.
 *
 * <p>Symbols live in a doubly linked list over arrays and candidate merges in a binary min-heap of
 * {@code (rank << 32 | position)}, so a word of n characters costs O(n log n). This matters because
 * the Phi-3 tokenizer has no pre-tokenizer: a whole text segment between added tokens is one word.
 *
 * <p>Immutable and thread-safe; each call allocates its own work arrays.
 */
final class BpeModel {

    private final String[] tokens;
    private final Map<String, Integer> vocab;
    /** Vocab id of each single BMP character, or -1. */
    private final int[] bmpCharId;
    /** Vocab id of single supplementary characters. */
    private final Map<Integer, Integer> supplementaryCharId;
    /** Vocab id of {@code <0xXX>} for each byte, or -1. */
    private final int[] byteId;
    private final boolean byteFallback;
    private final int unkId;
    private final boolean fuseUnk;
    private final boolean ignoreMerges;
    private final MergeTable merges;
    /**
     * True when no merge can produce a token in which a {@code ▁} follows another character: then a
     * word can be cut before every {@code ▁} that follows a non-{@code ▁} character, and the parts
     * encoded independently give exactly the same ids (no symbol can ever span such a cut, so merges
     * on one side never change pairs on the other). Checked on the merges at load time; true for all
     * SentencePiece-derived Llama/Phi-3 vocabularies.
     */
    private final boolean splitAtWordStarts;
    /**
     * Every pair of consecutive code points that occurs inside a merge result, as {@code cp1 << 32 | cp2}
     * in an open-addressing set; {@code null} when a merge involves a byte token. Two adjacent vocab
     * characters whose pair is not in the set can never end up in one symbol, so long parts are cut there
     * (exact for the same reason as the word-start cut). A character without a vocab piece becomes byte
     * tokens, which then never merge, so it can be cut off on both sides.
     */
    private final long[] joinedPairs;
    /** Byte fallback always succeeds (all 256 byte tokens exist), so no {@code unk} can be fused across a cut. */
    private final boolean bytesComplete;
    /** Sub-word results (immutable arrays), bounded; filled only while below the capacity. */
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();
    private static final int CACHE_CAPACITY = 20_000;
    private static final int CACHE_MAX_CHARS = 64;
    private static final char WORD_START = '\u2581';

    BpeModel(Map<String, Integer> vocab, int idLimit, int[][] mergePairs, boolean byteFallback, int unkId,
             boolean fuseUnk, boolean ignoreMerges, String file) {
        this.vocab = Map.copyOf(vocab);
        this.tokens = new String[idLimit];
        this.bmpCharId = new int[Character.MAX_VALUE + 1];
        Arrays.fill(bmpCharId, -1);
        Map<Integer, Integer> supplementary = new HashMap<>();
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            String t = e.getKey();
            int id = e.getValue();
            tokens[id] = t;
            if (t.length() == 1) {
                bmpCharId[t.charAt(0)] = id;
            } else if (t.length() == 2 && t.codePointCount(0, 2) == 1) {
                supplementary.put(t.codePointAt(0), id);
            }
        }
        this.supplementaryCharId = Map.copyOf(supplementary);
        this.byteId = new int[256];
        for (int b = 0; b < 256; b++) {
            // Rust's format!("<{:#04X}>", b): lower-case "0x" prefix, upper-case hex digits.
            Integer id = vocab.get(String.format("<0x%02X>", b));
            byteId[b] = id == null ? -1 : id;
        }
        this.byteFallback = byteFallback;
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.ignoreMerges = ignoreMerges;
        this.merges = new MergeTable(mergePairs);
        this.splitAtWordStarts = !anyMergeJoinsBeforeWordStart(mergePairs, tokens);
        boolean complete = byteFallback;
        for (int b = 0; b < 256; b++) {
            complete &= byteId[b] >= 0;
        }
        this.bytesComplete = complete;
        this.joinedPairs = joinedPairs(mergePairs, tokens, byteId);
    }

    private static long[] joinedPairs(int[][] mergePairs, String[] tokens, int[] byteId) {
        boolean[] isByte = new boolean[tokens.length];
        for (int id : byteId) {
            if (id >= 0) {
                isByte[id] = true;
            }
        }
        long[] set = new long[Integer.highestOneBit(Math.max(64, mergePairs.length)) * 4];
        Arrays.fill(set, -1L);
        for (int[] p : mergePairs) {
            if (isByte[p[0]] || isByte[p[1]]) {
                return null;
            }
            String merged = tokens[p[2]];
            int prev = -1;
            for (int i = 0; i < merged.length(); ) {
                int cp = merged.codePointAt(i);
                i += Character.charCount(cp);
                if (prev >= 0) {
                    long key = ((long) prev << 32) | cp;
                    int slot = pairSlot(key, set.length - 1);
                    while (set[slot] != -1L && set[slot] != key) {
                        slot = (slot + 1) & (set.length - 1);
                    }
                    set[slot] = key;
                }
                prev = cp;
            }
        }
        return set;
    }

    private static int pairSlot(long key, int mask) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask;
    }

    /** Whether no symbol can ever span the boundary between code points {@code a} and {@code b}. */
    private boolean canCut(int a, int b) {
        if (joinedPairs == null || (a < 0x10000 && Character.isSurrogate((char) a))
                || (b < 0x10000 && Character.isSurrogate((char) b))) {
            return false;
        }
        if (charId(a) < 0 || charId(b) < 0) {
            return bytesComplete;
        }
        long key = ((long) a << 32) | b;
        int mask = joinedPairs.length - 1;
        for (int slot = pairSlot(key, mask); ; slot = (slot + 1) & mask) {
            long k = joinedPairs[slot];
            if (k == key) {
                return false;
            }
            if (k == -1L) {
                return true;
            }
        }
    }

    private int charId(int cp) {
        if (cp < 0x10000) {
            return bmpCharId[cp];
        }
        Integer id = supplementaryCharId.get(cp);
        return id == null ? -1 : id;
    }

    private static boolean anyMergeJoinsBeforeWordStart(int[][] mergePairs, String[] tokens) {
        for (int[] p : mergePairs) {
            String merged = tokens[p[2]];
            for (int i = 1; i < merged.length(); i++) {
                if (merged.charAt(i) == WORD_START && merged.charAt(i - 1) != WORD_START) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The vocab token of an id, or {@code null} when the id is not in the model's vocab. */
    String token(int id) {
        return id >= 0 && id < tokens.length ? tokens[id] : null;
    }

    /** The id of a vocab token, or {@code null}. */
    Integer id(String token) {
        return vocab.get(token);
    }

    /** Appends the ids of one (already normalized, non-empty) word. */
    void encodeWord(String word, IntArrayBuilder out) {
        if (ignoreMerges) {
            encodePart(word, out);
            return;
        }
        if (!splitAtWordStarts) {
            encodeCached(word, out);
            return;
        }
        int n = word.length();
        int start = 0;
        for (int i = 1; i < n; i++) {
            if (word.charAt(i) == WORD_START && word.charAt(i - 1) != WORD_START) {
                encodeCached(word.substring(start, i), out);
                start = i;
            }
        }
        encodeCached(start == 0 ? word : word.substring(start), out);
    }

    private void encodeCached(String part, IntArrayBuilder out) {
        if (part.length() > CACHE_MAX_CHARS) {
            encodeLong(part, out);
            return;
        }
        int[] ids = cache.get(part);
        if (ids == null) {
            IntArrayBuilder b = new IntArrayBuilder(part.length());
            encodePart(part, b);
            ids = b.toArray();
            if (cache.size() < CACHE_CAPACITY) {
                cache.putIfAbsent(part, ids);
            }
        }
        out.addAll(ids);
    }

    /** A long part (e.g. text without spaces): cut where no symbol can span, then encode the pieces. */
    private void encodeLong(String part, IntArrayBuilder out) {
        if (joinedPairs == null) {
            encodePart(part, out);
            return;
        }
        int n = part.length();
        int start = 0;
        int prev = part.codePointAt(0);
        for (int i = Character.charCount(prev); i < n; ) {
            int cp = part.codePointAt(i);
            if (canCut(prev, cp)) {
                encodePiece(part.substring(start, i), out);
                start = i;
            }
            prev = cp;
            i += Character.charCount(cp);
        }
        encodePiece(start == 0 ? part : part.substring(start), out);
    }

    private void encodePiece(String piece, IntArrayBuilder out) {
        if (piece.length() <= CACHE_MAX_CHARS) {
            encodeCached(piece, out);
        } else {
            encodePart(piece, out);
        }
    }

    /** Runs BPE over one word (or one independent part of it); no cutting, no cache. */
    void encodePart(String word, IntArrayBuilder out) {
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) {
                out.add(whole);
                return;
            }
        }
        int n = word.length();
        int[] ids = new int[n + 8];
        int count = 0;
        // HF keeps a pending <unk> (fused over consecutive unknown characters) that is flushed before
        // the next vocab character, but NOT before byte-fallback symbols: we keep that order.
        boolean unkPending = false;
        for (int i = 0; i < n; ) {
            char c = word.charAt(i);
            int cp;
            int id;
            int width = 1;
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(word.charAt(i + 1))) {
                cp = Character.toCodePoint(c, word.charAt(i + 1));
                width = 2;
                Integer boxed = supplementaryCharId.get(cp);
                id = boxed == null ? -1 : boxed;
            } else if (Character.isSurrogate(c)) {
                // A lone surrogate cannot exist in a Rust string: it is treated as U+FFFD.
                cp = 0xFFFD;
                id = bmpCharId[cp];
            } else {
                cp = c;
                id = bmpCharId[c];
            }
            i += width;
            if (count + 5 > ids.length) {
                ids = Arrays.copyOf(ids, ids.length * 2 + 8);
            }
            if (id >= 0) {
                if (unkPending) {
                    ids[count++] = unkId;
                    unkPending = false;
                }
                ids[count++] = id;
                continue;
            }
            if (byteFallback && appendBytes(cp, ids, count)) {
                count += Utf8.length(cp);
                continue;
            }
            if (unkId < 0) {
                throw new IllegalStateException("character U+" + Integer.toHexString(cp).toUpperCase()
                        + " is not in the vocab, byte fallback cannot encode it and the model has no unk_token");
            }
            if (unkPending && !fuseUnk) {
                ids[count++] = unkId;
            }
            unkPending = true;
        }
        if (unkPending) {
            if (count == ids.length) {
                ids = Arrays.copyOf(ids, count + 1);
            }
            ids[count++] = unkId;
        }
        merge(ids, count, out);
    }

    /** Writes the byte-token ids of a code point, or returns false if one is missing. */
    private boolean appendBytes(int cp, int[] ids, int at) {
        int len = Utf8.encode(cp, ids, at);
        for (int k = at; k < at + len; k++) {
            int id = byteId[ids[k]];
            if (id < 0) {
                return false;
            }
            ids[k] = id;
        }
        return true;
    }

    private void merge(int[] ids, int count, IntArrayBuilder out) {
        if (count == 1) {
            out.add(ids[0]);
            return;
        }
        int[] next = new int[count];
        int[] prev = new int[count];
        boolean[] removed = new boolean[count];
        long[] heap = new long[Math.max(16, count)];
        int heapSize = 0;
        for (int i = 0; i < count; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
            if (i + 1 < count) {
                int rank = merges.rank(ids[i], ids[i + 1]);
                if (rank >= 0) {
                    heap[heapSize++] = ((long) rank << 32) | i;
                }
            }
        }
        LongHeap.heapify(heap, heapSize);
        while (heapSize > 0) {
            long top = heap[0];
            LongHeap.popTo(heap, heapSize--);
            int rank = (int) (top >>> 32);
            int pos = (int) top;
            if (removed[pos]) {
                continue;
            }
            int right = next[pos];
            if (right < 0) {
                continue;
            }
            // The entry is stale if the pair at pos changed since it was pushed: HF checks that the
            // current pair still merges into the same new token.
            int newId = merges.newId(rank);
            int currentRank = merges.rank(ids[pos], ids[right]);
            if (currentRank < 0 || merges.newId(currentRank) != newId) {
                continue;
            }
            ids[pos] = newId;
            removed[right] = true;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) {
                prev[after] = pos;
            }
            int before = prev[pos];
            if (before >= 0) {
                int r = merges.rank(ids[before], newId);
                if (r >= 0) {
                    heap = LongHeap.push(heap, heapSize++, ((long) r << 32) | before);
                }
            }
            if (after >= 0) {
                int r = merges.rank(newId, ids[after]);
                if (r >= 0) {
                    heap = LongHeap.push(heap, heapSize++, ((long) r << 32) | pos);
                }
            }
        }
        for (int i = 0; i >= 0; i = next[i]) {
            out.add(ids[i]);
        }
    }
}
