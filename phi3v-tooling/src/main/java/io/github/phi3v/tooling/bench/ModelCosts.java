package io.github.phi3v.tooling.bench;

import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.ClipVisionConfig;
import io.github.phi3v.core.config.ImageEmbeddingConfig;
import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.model.WeightNames;
import io.github.phi3v.core.runtime.NativeInt4Kernel;
import io.github.phi3v.core.runtime.NativeKernels;

/**
 * What the model's work costs by its architecture alone: the bytes of weights a decode step reads and the
 * useful floating-point operations of the vision tower and of a prefill. {@code phi3v bench} divides them by
 * measured times to get its efficiencies. Pure arithmetic on the configuration; thread-safe.
 */
public final class ModelCosts {

    private ModelCosts() {
    }

    /**
     * Bytes of weights one decode step reads, as {@code Phi3VModel} holds them: the decoder layers' linear
     * weights (1 byte + a float32 scale per output channel under int8; under int4 the native kernel's layout,
     * {@link NativeInt4Kernel#packedBytes}, where it runs, else half a byte + a bf16 scale and zero per 32 weights
     * for ATen's kernel), their norms, the final norm, one
     * embedding row, and {@code lm_head}: on CPU a 16-bit model computes float32 logits, from its bf16
     * {@code lm_head} where the native kernels run ({@code Bf16LmHead}), else from a float32 copy.
     *
     * @param c the architecture
     * @param p the model precision
     * @param q the quantization
     * @return bytes per token
     */
    public static long weightBytesPerToken(Phi3VConfig c, Precision p, Quantization q) {
        long h = c.hiddenSize();
        long d = c.headDim();
        long qkvOut = (c.numAttentionHeads() + 2L * c.numKeyValueHeads()) * d;
        long oIn = (long) c.numAttentionHeads() * d;
        long inter = c.intermediateSize();
        long params = qkvOut * h + h * oIn + 2 * inter * h + h * inter;
        long outputs = qkvOut + h + 2 * inter + h;
        long elem = p == Precision.FLOAT32 ? 4 : 2;
        long perLayer = switch (q) {
            case INT8 -> params + 4 * outputs;                                // int8 + a float32 scale per row
            case INT4 -> NativeInt4Kernel.takes(switch (p) {
                case BFLOAT16 -> ScalarType.BFloat16;
                case FLOAT16 -> ScalarType.Half;
                case FLOAT32 -> ScalarType.Float;
            })
                    ? NativeInt4Kernel.packedBytes(qkvOut, h) + NativeInt4Kernel.packedBytes(h, oIn)
                            + NativeInt4Kernel.packedBytes(2 * inter, h) + NativeInt4Kernel.packedBytes(h, inter)
                    : params / 2 + 4 * (params / Quantization.INT4_GROUP_SIZE);   // nibbles + bf16 scale and zero
            case NONE -> params * elem;
        };
        perLayer += 2 * h * elem;                                            // two RMSNorm weights
        // Phi3Decoder's choice (Bf16LmHead.supports): bf16 read as it is by the native kernel, else float32.
        boolean bf16LmHead = p == Precision.BFLOAT16 && NativeKernels.multipliesBf16Rows(h) && NativeKernels.available();
        long lmElem = bf16LmHead ? 2 : 4;
        long lmHead = lmElem * c.vocabSize() * h;
        return c.numHiddenLayers() * perLayer + h * elem + h * elem + lmHead;
    }

    /**
     * Useful floating-point operations of {@code Phi3VModel.encodeImage} for {@code crops} crops (the global
     * one and the real sub-crops) yielding {@code imageTokens} embeddings: the patch convolution, every
     * computed CLIP encoder layer (q, k, v, out, fc1, fc2 and the two attention products over all
     * {@code patches + 1} positions of a crop) and {@code img_projection}'s two linears. Norms, activations
     * and the HD re-layout are left out (a few percent).
     *
     * @param c the model configuration (with vision)
     * @param crops crops through CLIP
     * @param imageTokens rows through the projection
     * @return FLOPs
     */
    public static double visionFlopCount(Phi3VConfig c, long crops, long imageTokens) {
        ImageEmbeddingConfig img = c.imageEmbedding();
        ClipVisionConfig clip = img.clip();
        long width = clip.hiddenSize();
        long patches = (long) clip.patchesPerSide() * clip.patchesPerSide();
        long positions = patches + 1;                                          // the class token too
        double conv = 2.0 * patches * clip.numChannels() * clip.patchSize() * clip.patchSize() * width;
        double linears = 2.0 * positions * (4L * width * width + 2L * width * clip.intermediateSize());
        double attention = 2.0 * 2.0 * positions * positions * width;           // q·kᵀ and p·v
        double clipFlops = crops * (conv + WeightNames.computedClipLayers(img) * (linears + attention));
        double projection = 2.0 * imageTokens * ((long) img.mergedDim() * c.hiddenSize()
                + (long) c.hiddenSize() * c.hiddenSize());
        return clipFlops + projection;
    }

    /**
     * Useful floating-point operations of a prefill of {@code n} tokens from position 0: {@code 2·params·n}
     * for the decoder linears, causal attention ({@code 2·heads·headDim·n(n+1)} per layer: q·kᵀ and p·v
     * over the visible keys), and lm_head for the last position.
     *
     * @param c the architecture
     * @param n prompt tokens
     * @return operations
     */
    public static double prefillFlopCount(Phi3VConfig c, long n) {
        long h = c.hiddenSize();
        long d = c.headDim();
        long qkvOut = (c.numAttentionHeads() + 2L * c.numKeyValueHeads()) * d;
        long params = qkvOut * h + h * c.numAttentionHeads() * d + 3L * c.intermediateSize() * h;
        double linear = 2.0 * params * n * c.numHiddenLayers();
        double attention = 2.0 * c.numAttentionHeads() * d * n * (n + 1.0) * c.numHiddenLayers();
        return linear + attention + 2.0 * c.vocabSize() * h;
    }
}
