package io.github.phi3v.tokenizer;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.stream.Collectors;

/**
 * Prompts as text plus the ranges in which added tokens and image tags may be recognised: the whole
 * text for {@link Phi3Tokenizer#encode(String, boolean)} (Hugging Face's default), only the template
 * pieces for the {@link PromptPiece} forms (literal mode). Holds the {@code Phi3VProcessor} split too,
 * so that the String and the piece forms share one implementation.
 *
 * <p>Why ranges over the concatenation rather than one encode per piece: a text run between two
 * recognised tokens is normalised (one {@code ▁} prepended) and BPE-merged as a whole, and an
 * {@code rstrip} token swallows whitespace whatever piece it is in; encoding piece by piece would add
 * a {@code ▁} and cut merges at every boundary, and differ from the concatenation.
 *
 * <p>Stateless; the methods are thread-safe.
 */
final class PromptEncoder {

    /** A prompt: its text and where matching is allowed ({@code [start0, end0, start1, end1, ...]}). */
    record Prompt(String text, int[] matchable) {

        /** The whole text matchable: the default behaviour. */
        static Prompt of(String text) {
            return new Prompt(text, new int[] {0, text.length()});
        }

        /** The concatenation of the pieces, matchable inside each non-empty template piece only. */
        static Prompt of(List<PromptPiece> pieces) {
            Objects.requireNonNull(pieces, "pieces");
            StringBuilder sb = new StringBuilder();
            IntArrayBuilder ranges = new IntArrayBuilder(2 * pieces.size());
            for (int i = 0; i < pieces.size(); i++) {
                PromptPiece p = pieces.get(i);
                if (p == null) {
                    throw new NullPointerException("pieces[" + i + "]");
                }
                int start = sb.length();
                sb.append(p.text());
                // Adjacent template pieces stay separate ranges: a token is never matched across a
                // piece boundary, so what a piece means does not depend on its neighbours.
                if (!p.literal() && !p.text().isEmpty()) {
                    ranges.add(start);
                    ranges.add(sb.length());
                }
            }
            return new Prompt(sb.toString(), ranges.toArray());
        }

        /** The part {@code [from, to)} with its ranges clipped and shifted. */
        Prompt slice(int from, int to) {
            IntArrayBuilder ranges = new IntArrayBuilder(matchable.length);
            for (int r = 0; r < matchable.length; r += 2) {
                int s = Math.max(matchable[r], from);
                int e = Math.min(matchable[r + 1], to);
                if (s < e) {
                    ranges.add(s - from);
                    ranges.add(e - from);
                }
            }
            return new Prompt(text.substring(from, to), ranges.toArray());
        }
    }

    private PromptEncoder() {
    }

    /**
     * Splits on added tokens inside the matchable ranges, normalises and BPE-encodes the text runs in
     * between, and wraps the result in the post-processor's ids ({@code null}: none).
     */
    static int[] encode(Prompt prompt, AddedVocabulary added, Normalizer normalizer, BpeModel model, int[] prefixIds,
                        int[] suffixIds) {
        String text = prompt.text();
        IntArrayBuilder out = new IntArrayBuilder(text.length() / 3 + 4);
        if (prefixIds != null) {
            out.addAll(prefixIds);
        }
        added.split(text, prompt.matchable(), new AddedVocabulary.SplitSink() {
            @Override
            public void text(int start, int end) {
                String normalized = normalizer.apply(text.substring(start, end));
                if (!normalized.isEmpty()) {
                    model.encodeWord(normalized, out);
                }
            }

            @Override
            public void token(int id) {
                out.add(id);
            }
        });
        if (suffixIds != null) {
            out.addAll(suffixIds);
        }
        return out.toArray();
    }

    /**
     * The {@code Phi3VProcessor} encoding (see {@link Phi3Tokenizer#encodeMultimodal(String, int[])}),
     * with image tags recognised only inside the matchable ranges.
     */
    static int[] encodeMultimodal(Phi3Tokenizer tokenizer, Prompt prompt, int[] imageTokenCounts) {
        Objects.requireNonNull(imageTokenCounts, "imageTokenCounts");
        for (int i = 0; i < imageTokenCounts.length; i++) {
            if (imageTokenCounts[i] < 0) {
                throw new IllegalArgumentException("imageTokenCounts[" + i + "] must be >= 0, got "
                        + imageTokenCounts[i]);
            }
        }
        if (imageTokenCounts.length == 0) {
            return tokenizer.encode(prompt, true);
        }
        // Tag positions [start, end) and numbers, in order; a tag lies inside one matchable range.
        List<int[]> spans = new ArrayList<>();
        List<BigInteger> tagIds = new ArrayList<>();
        int[] ranges = prompt.matchable();
        for (int r = 0; r < ranges.length; r += 2) {
            Matcher m = ImageTags.TAG.matcher(prompt.text()).region(ranges[r], ranges[r + 1]);
            while (m.find()) {
                spans.add(new int[] {m.start(), m.end()});
                tagIds.add(ImageTags.digitsValue(m.group(1)));
            }
        }
        TreeSet<BigInteger> unique = new TreeSet<>(tagIds);
        BigInteger expected = BigInteger.ONE;
        for (BigInteger id : unique) {
            if (!id.equals(expected)) {
                throw new IllegalArgumentException("image_ids must start from 1, and must be continuous int,"
                        + " e.g. [1, 2, 3], cannot be " + unique.stream().map(BigInteger::toString)
                        .collect(Collectors.joining(", ", "[", "]")));
            }
            expected = expected.add(BigInteger.ONE);
        }
        if (unique.size() != imageTokenCounts.length) {
            throw new IllegalArgumentException("total images must be the same as the number of image tags, got "
                    + unique.size() + " image tags and " + imageTokenCounts.length + " images");
        }
        IntArrayBuilder out = new IntArrayBuilder(prompt.text().length() / 3 + 16);
        int chunkStart = 0;
        for (int i = 0; i <= spans.size(); i++) {
            // Every chunk, empty ones included, is encoded with <s>, as the processor does.
            int chunkEnd = i < spans.size() ? spans.get(i)[0] : prompt.text().length();
            out.addAll(tokenizer.encode(prompt.slice(chunkStart, chunkEnd), true));
            if (i < spans.size()) {
                int imageId = tagIds.get(i).intValue(); // 1..k, checked above
                int count = imageTokenCounts[imageId - 1];
                // Repeated tags multiply the counts: refuse a total no int[] can hold instead of overflowing.
                if ((long) out.size() + count > Integer.MAX_VALUE - 8) {
                    throw new IllegalArgumentException("the prompt expands to more than " + (Integer.MAX_VALUE - 8)
                            + " ids at image tag " + (i + 1) + " of " + tagIds.size() + " (image " + imageId + ", "
                            + count + " tokens per tag): expected fewer image tags or smaller imageTokenCounts");
                }
                out.addRepeated(-imageId, count);
                chunkStart = spans.get(i)[1];
            }
        }
        return out.toArray();
    }
}
