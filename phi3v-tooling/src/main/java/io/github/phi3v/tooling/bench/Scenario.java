package io.github.phi3v.tooling.bench;

import java.util.Locale;

/**
 * One timed workload: an image question at a given {@code num_crops}, or a text-only prompt of a given
 * length.
 *
 * @param name the label in reports ({@code nc16}, {@code nc4}, {@code prefill2000})
 * @param numCrops num_crops of the image processor, or 0 for a text-only prompt
 * @param textTokens prompt length of a text-only scenario (0 for an image scenario)
 */
public record Scenario(String name, int numCrops, int textTokens) {

    /**
     * Validates.
     *
     * @param name the label in reports; not blank
     * @param numCrops num_crops of the image processor (≥ 0), or 0 for a text-only prompt
     * @param textTokens prompt length of a text-only scenario (≥ 0), or 0 for an image scenario
     * @throws IllegalArgumentException unless the name is set and exactly one of numCrops and textTokens
     *     is positive
     */
    public Scenario {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("scenario name must not be blank");
        }
        if (numCrops < 0 || textTokens < 0 || (numCrops == 0) == (textTokens == 0)) {
            throw new IllegalArgumentException("scenario '" + name + "': expected exactly one of numCrops > 0 "
                    + "(image) or textTokens > 0 (text-only), found numCrops " + numCrops + ", textTokens "
                    + textTokens);
        }
    }

    /**
     * An image question with the 1344×1008 test image.
     *
     * @param numCrops the processor's num_crops (16 for Phi-3-vision, 4 for Phi-3.5-vision)
     * @return the scenario {@code nc<numCrops>}
     */
    public static Scenario image(int numCrops) {
        return new Scenario("nc" + numCrops, numCrops, 0);
    }

    /**
     * A text-only prompt of random token ids (measures prefill throughput without the vision tower).
     *
     * @param tokens prompt length
     * @return the scenario {@code prefill<tokens>}
     */
    public static Scenario textPrefill(int tokens) {
        return new Scenario("prefill" + tokens, 0, tokens);
    }

    /**
     * True for an image scenario.
     *
     * @return {@code numCrops > 0}
     */
    public boolean hasImage() {
        return numCrops > 0;
    }

    /**
     * Parses {@code nc<N>} (image at num_crops N), {@code prefill} (text-only with
     * {@code defaultPrefillTokens}) or {@code prefill<N>}.
     *
     * @param text the name
     * @param defaultPrefillTokens length used by a bare {@code prefill}
     * @return the scenario
     * @throws IllegalArgumentException for anything else
     */
    public static Scenario parse(String text, int defaultPrefillTokens) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        try {
            if (s.startsWith("nc") && s.length() > 2) {
                return image(Integer.parseInt(s.substring(2)));
            }
            if (s.equals("prefill")) {
                return textPrefill(defaultPrefillTokens);
            }
            if (s.startsWith("prefill")) {
                return textPrefill(Integer.parseInt(s.substring("prefill".length())));
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("unknown scenario '" + text + "': expected nc<N> (image question at "
                + "num_crops N, e.g. nc16, nc4), prefill (text-only prompt of --prefill-tokens) or prefill<N>");
    }
}
