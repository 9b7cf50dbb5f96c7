package io.github.phi3v.core.generate;

import java.util.Objects;

/**
 * The check, before anything runs, that prompt text + image tokens + {@code maxNewTokens} fit the
 * maximum context, with an error that says what each image costs and which {@code numCrops} would fit.
 * Pure arithmetic; stateless.
 *
 * <pre>{@code
 * // 40 text tokens, two 4:3 photos at num_crops 16 (1921 tokens each), 500 new tokens, 4096 context:
 * TokenBudget.check(40, new int[] {1921, 1921}, 500, 4096, 16);
 * // ContextLengthExceededException: "the request needs 4382 tokens (40 text + 3842 image + 500 new) but the
 * //  maximum context is 4096 (286 too many). The images cost 1921 and 1921 tokens at numCrops 16.
 * //  Use numCrops(10): it costs at most 1717 tokens per image, which fits. ..."
 * }</pre>
 */
public final class TokenBudget {

    private TokenBudget() {
    }

    /**
     * The most tokens one image can cost at {@code numCrops}: the Phi-3-V count
     * {@code (rows·cols + 1)·144 + 1 + (rows + 1)·12} is largest when all {@code numCrops} crops form
     * one column (a tall image), giving {@code 156·numCrops + 157} (2653 for 16 crops, 781 for 4).
     * Typical photos cost less (a 4:3 photo: 1921 at 16 crops, 757 at 4).
     *
     * @param numCrops the processor's {@code num_crops}, at least 1
     * @return the worst-case image token count
     * @throws IllegalArgumentException if {@code numCrops < 1}
     */
    public static int maxImageTokens(int numCrops) {
        if (numCrops < 1) {
            throw new IllegalArgumentException("numCrops must be >= 1, got " + numCrops);
        }
        return 156 * numCrops + 157;
    }

    /**
     * Checks that the request fits.
     *
     * @param textTokens prompt tokens that are not image tokens
     * @param imageTokens the token count of each image, in prompt order (may be empty)
     * @param maxNewTokens the generation limit
     * @param maxContext the model's maximum context
     * @param numCrops the {@code num_crops} the image counts were computed with (used for the advice)
     * @throws ContextLengthExceededException if it does not fit; the message lists the parts, each
     *     image's cost and the largest smaller {@code numCrops} that is guaranteed to fit, if any
     * @throws IllegalArgumentException if a count is negative or {@code maxContext}/{@code numCrops} &lt; 1
     */
    public static void check(int textTokens, int[] imageTokens, int maxNewTokens, int maxContext, int numCrops) {
        Objects.requireNonNull(imageTokens, "imageTokens");
        if (textTokens < 0 || maxNewTokens < 0) {
            throw new IllegalArgumentException("token counts must be >= 0, got textTokens=" + textTokens
                    + ", maxNewTokens=" + maxNewTokens);
        }
        if (maxContext < 1 || numCrops < 1) {
            throw new IllegalArgumentException("maxContext and numCrops must be >= 1, got maxContext=" + maxContext
                    + ", numCrops=" + numCrops);
        }
        long images = 0;
        for (int i = 0; i < imageTokens.length; i++) {
            if (imageTokens[i] < 0) {
                throw new IllegalArgumentException("image " + (i + 1) + " has a negative token count " + imageTokens[i]);
            }
            images += imageTokens[i];
        }
        long required = (long) textTokens + images + maxNewTokens;
        if (required <= maxContext) {
            return;
        }
        StringBuilder msg = new StringBuilder("the request needs ").append(required).append(" tokens (")
                .append(textTokens).append(" text + ").append(images).append(" image + ")
                .append(maxNewTokens).append(" new) but the maximum context is ").append(maxContext)
                .append(" (").append(required - maxContext).append(" too many).");
        if (imageTokens.length > 0) {
            msg.append(imageTokens.length == 1 ? " The image costs " : " The images cost ");
            for (int i = 0; i < imageTokens.length; i++) {
                msg.append(i == 0 ? "" : i == imageTokens.length - 1 ? " and " : ", ").append(imageTokens[i]);
            }
            msg.append(" tokens at numCrops ").append(numCrops).append('.');
            int fitting = 0;
            for (int c = numCrops - 1; c >= 1; c--) {
                if ((long) textTokens + (long) imageTokens.length * maxImageTokens(c) + maxNewTokens <= maxContext) {
                    fitting = c;
                    break;
                }
            }
            if (fitting > 0) {
                msg.append(" Use numCrops(").append(fitting).append("): it costs at most ")
                        .append(maxImageTokens(fitting)).append(" tokens per image, which fits.");
            } else if (numCrops > 1 || images > 0) {
                msg.append(" Even numCrops(1) costs up to ").append(maxImageTokens(1))
                        .append(" tokens per image, so also use fewer images or a shorter prompt.");
            }
        }
        msg.append(" Other options: fewer maxNewTokens, a shorter prompt, or a larger maxContext.");
        throw new ContextLengthExceededException(msg.toString(), required, maxContext);
    }
}
