package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The image placeholder blocks of a prompt: where each run of {@code -k} ids (image {@code k}, 1-based)
 * starts and how long it is, and how many ids are text. The one place that reads placeholders: the
 * request pipeline plans and budgets a prompt with it, and {@link Phi3VModel} places image embeddings
 * with it.
 *
 * <pre>{@code
 * PlaceholderRuns runs = PlaceholderRuns.of(new int[] {1, -1, -1, -1, 29871}, 1);
 * runs.textTokens();        // 2
 * runs.tokensPerImage();    // [3]
 * }</pre>
 */
public final class PlaceholderRuns {

    /**
     * One contiguous block of one image's placeholders.
     *
     * @param start index of the first placeholder in the ids
     * @param length number of placeholders
     * @param image the image, 0-based ({@code -(image + 1)} is the placeholder id)
     */
    public record Run(int start, int length, int image) {
    }

    private final List<Run> runs;
    private final int textTokens;
    private final int[] tokensPerImage;

    private PlaceholderRuns(List<Run> runs, int textTokens, int[] tokensPerImage) {
        this.runs = runs;
        this.textTokens = textTokens;
        this.tokensPerImage = tokensPerImage;
    }

    /**
     * Finds the placeholder runs of {@code ids}.
     *
     * @param ids the prompt ids; negative ids are placeholders, not modified
     * @param images how many images the placeholders may refer to
     * @return the runs in order
     * @throws IllegalArgumentException if a placeholder refers to an image beyond {@code images}
     */
    public static PlaceholderRuns of(int[] ids, int images) {
        Objects.requireNonNull(ids, "ids");
        List<Run> runs = new ArrayList<>();
        int[] perImage = new int[images];
        int text = 0;
        int runStart = -1;
        int runImage = -1;
        for (int i = 0; i <= ids.length; i++) {
            int id = i < ids.length ? ids[i] : 0;
            int image = id < 0 ? -(id + 1) : -1;   // -(id+1): no overflow for Integer.MIN_VALUE
            if (runStart >= 0 && image != runImage) {
                runs.add(new Run(runStart, i - runStart, runImage));
                runStart = -1;
            }
            if (i == ids.length) {
                break;
            }
            if (id >= 0) {
                text++;
                continue;
            }
            if (image >= images) {
                throw new IllegalArgumentException("placeholder id " + id + " at position " + i + " refers to image "
                        + ((long) image + 1) + ", but " + images + " image(s) were given");
            }
            perImage[image]++;
            if (runStart < 0) {
                runStart = i;
                runImage = image;
            }
        }
        return new PlaceholderRuns(Collections.unmodifiableList(runs), text, perImage);
    }

    /**
     * The runs in prompt order.
     *
     * @return unmodifiable list
     */
    public List<Run> runs() {
        return runs;
    }

    /**
     * Ids that are not placeholders.
     *
     * @return the text token count
     */
    public int textTokens() {
        return textTokens;
    }

    /**
     * Placeholders per image, over all its runs (an image tagged twice has two runs).
     *
     * @return a new array, one count per image
     */
    public int[] tokensPerImage() {
        return tokensPerImage.clone();
    }

    /**
     * All placeholders.
     *
     * @return the image token count
     */
    public long imageTokens() {
        long sum = 0;
        for (int t : tokensPerImage) {
            sum += t;
        }
        return sum;
    }
}
