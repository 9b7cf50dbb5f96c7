package io.github.phi3v.core.generate;

import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * What a model will need in memory, computed from configuration numbers before anything is allocated:
 * weights, the KV cache for the whole maximum context, and the activations of encoding images. Pure
 * arithmetic; immutable.
 *
 * <pre>{@code
 * // Phi-3-Vision: ~4.15 B parameters in bf16, 32 layers x 32 KV heads x 96 dims, 8192-token context,
 * // one image at num_crops 16 through CLIP ViT-L/14 (577 tokens, 1024 wide, MLP 4096, 16 heads) in fp32
 * MemoryEstimate m = MemoryEstimate.builder()
 *         .weights(4_146_621_440L, 2)
 *         .kvCache(32, 32, 96, 2)
 *         .maxContext(8192)
 *         .images(1, MemoryEstimate.visionActivationBytes(17, 577, 1024, 4096, 16, 4))
 *         .build();
 * m.requireFits(MemoryEstimate.physicalMemoryBytes());   // clear error if it cannot fit
 * System.out.println(m);                                // weights 7.72 GiB + KV 3.00 GiB (384 KiB/token) ...
 * }</pre>
 *
 * <p>The constructor throws {@link IllegalArgumentException} if a number is negative.
 *
 * @param weightBytes bytes of all weights ({@code parameters x bytes per parameter})
 * @param kvBytesPerToken bytes of keys and values for one position ({@code layers x 2 x kvHeads x headDim x
 *     bytesPerElement})
 * @param maxContext the context the KV cache is sized for
 * @param imageActivationBytes peak activation bytes for the planned images
 */
public record MemoryEstimate(long weightBytes, long kvBytesPerToken, int maxContext, long imageActivationBytes) {

    /**
     * Creates the value, validating it as described in the class comment.
     *
     * @param weightBytes see {@link #weightBytes()}
     * @param kvBytesPerToken see {@link #kvBytesPerToken()}
     * @param maxContext see {@link #maxContext()}
     * @param imageActivationBytes see {@link #imageActivationBytes()}
     */
    public MemoryEstimate {
        if (weightBytes < 0 || kvBytesPerToken < 0 || maxContext < 0 || imageActivationBytes < 0) {
            throw new IllegalArgumentException("memory numbers must be >= 0, got weightBytes=" + weightBytes
                    + ", kvBytesPerToken=" + kvBytesPerToken + ", maxContext=" + maxContext
                    + ", imageActivationBytes=" + imageActivationBytes);
        }
    }

    /**
     * A builder; every part defaults to zero.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Bytes of the KV cache at full context.
     *
     * @return {@code kvBytesPerToken x maxContext}
     */
    public long kvBytes() {
        return Math.multiplyExact(kvBytesPerToken, (long) maxContext);
    }

    /**
     * Everything together.
     *
     * @return weights + KV cache + image activations
     */
    public long totalBytes() {
        return Math.addExact(Math.addExact(weightBytes, kvBytes()), imageActivationBytes);
    }

    /**
     * The largest context that would fit in {@code availableBytes} next to the weights and images.
     *
     * @param availableBytes memory available
     * @return the context in tokens, 0 if not even the weights and images fit
     */
    public long maxContextThatFits(long availableBytes) {
        long left = availableBytes - weightBytes - imageActivationBytes;
        if (left <= 0 || kvBytesPerToken == 0) {
            return left <= 0 ? 0 : Long.MAX_VALUE;
        }
        return left / kvBytesPerToken;
    }

    /**
     * Throws if the estimate exceeds {@code availableBytes}.
     *
     * @param availableBytes memory available (for example {@link #physicalMemoryBytes()}); negative means
     *     unknown and skips the check
     * @throws IllegalStateException naming each part, the shortfall and the largest context that fits
     */
    public void requireFits(long availableBytes) {
        if (availableBytes < 0 || totalBytes() <= availableBytes) {
            return;
        }
        long contextThatFits = maxContextThatFits(availableBytes);
        String advice = contextThatFits > 0
                ? " Use maxContext(" + Math.min(contextThatFits, Integer.MAX_VALUE) + ") or less"
                        + ", a smaller weight dtype, or fewer crops per image."
                : " Not even the weights and image activations fit: use a smaller weight dtype (bf16/int8),"
                        + " fewer crops per image, or a machine with more memory.";
        throw new IllegalStateException("the model needs about " + gib(totalBytes()) + " but only "
                + gib(availableBytes) + " is available: " + this + "." + advice);
    }

    /**
     * Total physical memory of this machine as the JVM sees it.
     *
     * @return bytes, or -1 if the platform does not say
     */
    public static long physicalMemoryBytes() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return -1;
    }

    /**
     * KV cache bytes per position: {@code layers x 2 (K and V) x kvHeads x headDim x bytesPerElement}.
     * Phi-3-Vision in bf16: 32 x 2 x 32 x 96 x 2 = 384 KiB.
     *
     * @param layers decoder layers
     * @param kvHeads key/value heads per layer (no GQA: equal to the attention heads)
     * @param headDim dimensions per head
     * @param bytesPerElement bytes per cached element (2 for fp16/bf16, 4 for fp32)
     * @return bytes per token
     */
    public static long kvBytesPerToken(int layers, int kvHeads, int headDim, int bytesPerElement) {
        requirePositive("layers", layers);
        requirePositive("kvHeads", kvHeads);
        requirePositive("headDim", headDim);
        requirePositive("bytesPerElement", bytesPerElement);
        return (long) layers * 2 * kvHeads * headDim * bytesPerElement;
    }

    /**
     * Peak activations of one vision encoder layer over all crops of one image: the residual stream,
     * q, k, v and the MLP hidden state ({@code tokens x (4 x hidden + intermediate)}) plus the attention
     * scores ({@code heads x tokens²}), per crop. An estimate of the working set, not an exact count.
     *
     * @param crops crops encoded per image ({@code num_crops + 1} with the global view)
     * @param tokensPerCrop tokens per crop (577 for CLIP ViT-L/14 at 336 px: 24² patches + CLS)
     * @param hidden encoder width (1024)
     * @param intermediate encoder MLP width (4096)
     * @param heads attention heads (16)
     * @param bytesPerElement bytes per activation element
     * @return bytes per image
     */
    public static long visionActivationBytes(int crops, int tokensPerCrop, int hidden, int intermediate, int heads,
            int bytesPerElement) {
        requirePositive("crops", crops);
        requirePositive("tokensPerCrop", tokensPerCrop);
        requirePositive("hidden", hidden);
        requirePositive("intermediate", intermediate);
        requirePositive("heads", heads);
        requirePositive("bytesPerElement", bytesPerElement);
        long perCrop = (long) tokensPerCrop * (4L * hidden + intermediate) + (long) heads * tokensPerCrop * tokensPerCrop;
        return Math.multiplyExact(perCrop * crops, (long) bytesPerElement);
    }

    private static void requirePositive(String name, long value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + value);
        }
    }

    static String gib(long bytes) {
        if (bytes >= 1L << 30) {
            return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
        }
        if (bytes >= 1L << 20) {
            return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
        }
        if (bytes >= 1L << 10) {
            return String.format(Locale.ROOT, "%.0f KiB", bytes / (double) (1L << 10));
        }
        return bytes + " B";
    }

    @Override
    public String toString() {
        return "weights " + gib(weightBytes) + " + KV " + gib(kvBytes()) + " (" + gib(kvBytesPerToken) + "/token x "
                + maxContext + ") + images " + gib(imageActivationBytes) + " = " + gib(totalBytes());
    }

    /**
     * Builder of {@link MemoryEstimate}; not thread-safe.
     *
     * <pre>{@code
     * MemoryEstimate m = MemoryEstimate.builder().weights(params, 2).kvCache(32, 32, 96, 2).maxContext(4096).build();
     * }</pre>
     */
    public static final class Builder {
        private long weightBytes;
        private long kvBytesPerToken;
        private int maxContext;
        private long imageBytes;

        private Builder() {
        }

        /**
         * Sets the weights from a parameter count and dtype size.
         *
         * @param parameters number of parameters
         * @param bytesPerParameter 4 (fp32), 2 (fp16/bf16), 1 (int8)
         * @return this builder
         */
        public Builder weights(long parameters, int bytesPerParameter) {
            if (parameters < 0) {
                throw new IllegalArgumentException("parameters must be >= 0, got " + parameters);
            }
            requirePositive("bytesPerParameter", bytesPerParameter);
            this.weightBytes = Math.multiplyExact(parameters, (long) bytesPerParameter);
            return this;
        }

        /**
         * Sets the weights in bytes directly (e.g. the size of the safetensors files).
         *
         * @param bytes weight bytes
         * @return this builder
         */
        public Builder weightBytes(long bytes) {
            this.weightBytes = bytes;
            return this;
        }

        /**
         * Sets the KV cache geometry, see {@link MemoryEstimate#kvBytesPerToken(int, int, int, int)}.
         *
         * @param layers decoder layers
         * @param kvHeads key/value heads
         * @param headDim dimensions per head
         * @param bytesPerElement bytes per cached element
         * @return this builder
         */
        public Builder kvCache(int layers, int kvHeads, int headDim, int bytesPerElement) {
            this.kvBytesPerToken = MemoryEstimate.kvBytesPerToken(layers, kvHeads, headDim, bytesPerElement);
            return this;
        }

        /**
         * Sets the context the KV cache is allocated for.
         *
         * @param tokens max context
         * @return this builder
         */
        public Builder maxContext(int tokens) {
            this.maxContext = tokens;
            return this;
        }

        /**
         * Sets the image activations: {@code count x bytesPerImage}.
         *
         * @param count images planned for (images are encoded one after another, so 1 usually suffices)
         * @param bytesPerImage e.g. from {@link MemoryEstimate#visionActivationBytes}
         * @return this builder
         */
        public Builder images(int count, long bytesPerImage) {
            if (count < 0 || bytesPerImage < 0) {
                throw new IllegalArgumentException("image count and bytes must be >= 0, got count=" + count
                        + ", bytesPerImage=" + bytesPerImage);
            }
            this.imageBytes = Math.multiplyExact((long) count, bytesPerImage);
            return this;
        }

        /**
         * Builds the estimate.
         *
         * @return the estimate
         */
        public MemoryEstimate build() {
            return new MemoryEstimate(weightBytes, kvBytesPerToken, maxContext, imageBytes);
        }
    }
}
