package io.github.phi3v.tokenizer;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code <|image_N|>} tags of Phi-3-V prompts, read exactly like {@code processing_phi3_v.py}:
 * the pattern is Python's {@code <\|image_\d+\|>}, where {@code \d} is any Unicode decimal digit
 * (general category Nd, e.g. {@code <|image_١|>} with an Arabic-Indic one is image 1), and the number
 * is {@code int(...)} of the digits, so leading zeros are allowed ({@code <|image_01|>} is image 1).
 * The tags are plain text for the tokenizer; only the processor cuts them out.
 */
public final class ImageTags {

    /** Java form of Python's {@code <\|image_\d+\|>} on {@code str} (Unicode digits). */
    static final Pattern TAG = Pattern.compile("<\\|image_(\\p{Nd}+)\\|>");

    private ImageTags() {
    }

    /**
     * The tag that refers to an image, e.g. {@code tag(1)} is {@code "<|image_1|>"}.
     *
     * @param imageId 1-based image number
     * @return the tag text
     * @throws IllegalArgumentException if {@code imageId < 1}
     */
    public static String tag(int imageId) {
        if (imageId < 1) {
            throw new IllegalArgumentException("image ids start at 1, got " + imageId);
        }
        return "<|image_" + imageId + "|>";
    }

    /**
     * The image numbers of the tags in a prompt, in order of appearance, repeats included
     * ({@code "<|image_2|> <|image_1|> <|image_02|>"} gives {@code [2, 1, 2]}).
     *
     * @param prompt the prompt text
     * @return the tag numbers, possibly empty
     * @throws IllegalArgumentException if a tag number does not fit in an {@code int}
     */
    public static List<Integer> imageIdsInOrder(String prompt) {
        List<Integer> out = new ArrayList<>();
        for (BigInteger id : parse(prompt)) {
            if (id.bitLength() > 31) {
                throw new IllegalArgumentException("image tag number " + id + " is too large");
            }
            out.add(id.intValue());
        }
        return out;
    }

    /**
     * The distinct image numbers referenced by a prompt, ascending. A prompt that the processor
     * accepts together with {@code n} images references exactly {@code 1..n}.
     *
     * @param prompt the prompt text
     * @return sorted distinct tag numbers, possibly empty
     * @throws IllegalArgumentException if a tag number does not fit in an {@code int}
     */
    public static List<Integer> referencedImageIds(String prompt) {
        return List.copyOf(new TreeSet<>(imageIdsInOrder(prompt)));
    }

    /** Tag numbers as Python's {@code int()} reads them (arbitrary size). */
    static List<BigInteger> parse(String prompt) {
        List<BigInteger> ids = new ArrayList<>();
        Matcher m = TAG.matcher(prompt);
        while (m.find()) {
            ids.add(digitsValue(m.group(1)));
        }
        return ids;
    }

    /** {@code re.split(pattern, prompt)}: the text around the tags, empty chunks included. */
    static List<String> chunks(String prompt) {
        List<String> out = new ArrayList<>();
        Matcher m = TAG.matcher(prompt);
        int last = 0;
        while (m.find()) {
            out.add(prompt.substring(last, m.start()));
            last = m.end();
        }
        out.add(prompt.substring(last));
        return out;
    }

    static BigInteger digitsValue(String digits) {
        StringBuilder ascii = new StringBuilder(digits.length());
        digits.codePoints().forEach(cp -> ascii.append((char) ('0' + Character.digit(cp, 10))));
        return new BigInteger(ascii.toString());
    }
}
