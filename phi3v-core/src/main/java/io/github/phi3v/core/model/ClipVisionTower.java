package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.ClipVisionConfig;
import io.github.phi3v.core.config.ImageEmbeddingConfig;
import io.github.phi3v.core.model.Modules.LayerNorm;
import io.github.phi3v.core.model.Modules.Linear;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeEncoderAttention;
import io.github.phi3v.core.runtime.Tensors;

/**
 * The CLIP ViT image encoder, computed only up to {@code hidden_states[layer_idx]} (the output of the
 * second-to-last encoder layer for the default -2): the last layer and {@code post_layernorm} never
 * influence Phi-3-V and are not even loaded.
 */
final class ClipVisionTower {

    private final ClipVisionConfig cfg;
    private final Tensor patchEmbedding;      // [C, channels, p, p], no bias
    private final Tensor classEmbedding;      // [C]
    private final Tensor positionEmbedding;   // [P + 1, C]
    private final LayerNorm preLayrnorm;
    private final List<EncoderLayer> layers = new ArrayList<>();
    private final boolean upcastAttention;
    /**
     * The attention of a bf16 model on the native kernel ({@link NativeEncoderAttention}, float32 arithmetic like
     * the upcast it replaces) where it runs; else libtorch's.
     */
    private final boolean nativeAttention;

    ClipVisionTower(WeightLoader w, ImageEmbeddingConfig img, boolean upcastAttention) {
        this.cfg = img.clip();
        if (!"patch".equals(img.typeFeature())) {
            throw new IllegalArgumentException("config.json: img_processor.type_feature: expected \"patch\" (the "
                    + "HD transform needs the 24x24 patch grid without CLS), found \"" + img.typeFeature() + "\"");
        }
        String act = cfg.hiddenAct().toLowerCase(Locale.ROOT);
        if (!act.equals("quick_gelu") && !act.equals("gelu")) {
            throw new IllegalArgumentException("config.json: clip hidden_act: expected \"quick_gelu\" or \"gelu\", "
                    + "found \"" + cfg.hiddenAct() + "\"");
        }
        this.patchEmbedding = w.load(WeightNames.PATCH_EMBEDDING);
        this.classEmbedding = w.load(WeightNames.CLASS_EMBEDDING);
        this.positionEmbedding = w.load(WeightNames.POSITION_EMBEDDING);
        this.preLayrnorm = new LayerNorm(w, WeightNames.PRE_LAYRNORM, cfg.hiddenSize(), cfg.layerNormEps());
        this.upcastAttention = upcastAttention;
        this.nativeAttention = upcastAttention && w.dtype() == ScalarType.BFloat16 && NativeEncoderAttention.available()
                && cfg.headDim() <= NativeEncoderAttention.MAX_HEAD_DIM;
        int n = WeightNames.computedClipLayers(img);
        for (int i = 0; i < n; i++) {
            layers.add(new EncoderLayer(w, i, cfg, act.equals("quick_gelu")));
        }
    }

    /**
     * Patch features of a batch of crops.
     *
     * @param pixels {@code [n, channels, S, S]} in the compute dtype
     * @return {@code [n, P, C]}: {@code hidden_states[layer_idx]} without the CLS token
     */
    Tensor features(Tensor pixels) {
        long n = pixels.size(0);
        long c = cfg.hiddenSize();
        long p = cfg.patchSize();
        long patches = (long) cfg.patchesPerSide() * cfg.patchesPerSide();
        Tensor x;
        try (TensorOptional noBias = new TensorOptional()) {
            x = torch.conv2d(pixels, patchEmbedding, noBias, new long[] {p, p}, new long[] {0, 0},
                    new long[] {1, 1}, 1);                               // [n, C, g, g]
        }
        x = x.flatten(2, 3).transpose(1, 2);                             // [n, g*g, C]
        Tensor cls = classEmbedding.view(1, 1, c).expand(n, 1, c);       // [n, 1, C]
        x = torch.cat(new TensorVector(cls, x), 1);                      // [n, 1+P, C]
        x = torch.add(x, positionEmbedding);                             // [n, 1+P, C] + [1+P, C]
        x = preLayrnorm.apply(x);                                        // hidden_states[0]
        // One scope per layer keeps peak memory at one layer's intermediates. A layer's output is kept out of
        // its scope and owned here until the next layer has consumed it, also when a later layer fails.
        boolean ownsX = false;
        try {
            for (EncoderLayer layer : layers) {
                Tensor next;
                try (InferenceScope scope = InferenceScope.open()) {
                    next = scope.keep(layer.apply(x));
                }
                if (ownsX) {
                    x.close();
                }
                x = next;
                ownsX = true;
            }
            return x.narrow(1, 1, patches);                              // [n, P, C], CLS dropped
        } finally {
            if (ownsX) {
                x.close();  // the returned view keeps the storage alive
            }
        }
    }

    /** One pre-LayerNorm CLIP encoder layer. */
    private final class EncoderLayer {
        private final LayerNorm layerNorm1;
        private final LayerNorm layerNorm2;
        private final Linear qProj;
        private final Linear kProj;
        private final Linear vProj;
        private final Linear outProj;
        private final Linear fc1;
        private final Linear fc2;
        private final boolean quickGelu;
        private final Scalar quickGeluAlpha;
        private final DoubleOptional scale;

        EncoderLayer(WeightLoader w, int i, ClipVisionConfig cfg, boolean quickGelu) {
            String prefix = WeightNames.clipLayer(i, "");
            layerNorm1 = new LayerNorm(w, prefix + "layer_norm1.", cfg.hiddenSize(), cfg.layerNormEps());
            layerNorm2 = new LayerNorm(w, prefix + "layer_norm2.", cfg.hiddenSize(), cfg.layerNormEps());
            qProj = Linear.load(w, prefix + "self_attn.q_proj.", true);
            kProj = Linear.load(w, prefix + "self_attn.k_proj.", true);
            vProj = Linear.load(w, prefix + "self_attn.v_proj.", true);
            outProj = Linear.load(w, prefix + "self_attn.out_proj.", true);
            fc1 = Linear.load(w, prefix + "mlp.fc1.", true);
            fc2 = Linear.load(w, prefix + "mlp.fc2.", true);
            this.quickGelu = quickGelu;
            this.quickGeluAlpha = w.own(new Scalar(1.702));
            // CLIP multiplies q by head_dim^-0.5 before q·k^T; SDPA applies the same factor.
            this.scale = w.own(new DoubleOptional(Math.pow(cfg.headDim(), -0.5)));
        }

        /** {@code [n, L, C] -> [n, L, C]}. */
        Tensor apply(Tensor x) {
            long n = x.size(0);
            long len = x.size(1);
            long c = cfg.hiddenSize();
            long heads = cfg.numAttentionHeads();
            long d = cfg.headDim();
            Tensor h = layerNorm1.apply(x);
            if (nativeAttention) {
                Tensor attn = Tensors.empty(ScalarType.BFloat16, n, len, c);       // [n, L, C]
                NativeEncoderAttention.attention(qProj.apply(h).contiguous(), kProj.apply(h).contiguous(),
                        vProj.apply(h).contiguous(), heads, (float) scale.get(), attn);
                return mlp(torch.add(x, outProj.apply(attn)));
            }
            Tensor q = qProj.apply(h).view(n, len, heads, d).transpose(1, 2);   // [n, heads, L, d]
            Tensor k = kProj.apply(h).view(n, len, heads, d).transpose(1, 2);   // [n, heads, L, d]
            Tensor v = vProj.apply(h).view(n, len, heads, d).transpose(1, 2);   // [n, heads, L, d]
            ScalarType dtype = Tensors.dtype(x);
            if (upcastAttention) {
                q = q.to(ScalarType.Float);
                k = k.to(ScalarType.Float);
                v = v.to(ScalarType.Float);
            }
            Tensor attn;                                                         // [n, heads, L, d]
            // libtorch's float32 SDPA: 160-207 ms for 17 crops here, against 318-355 ms for per-crop GEMMs
            // with a softmax (same run; float32 GEMMs go through single-threaded OpenBLAS).
            try (TensorOptional noMask = new TensorOptional()) {
                attn = torch.scaled_dot_product_attention(q, k, v, noMask, 0.0, false, scale, false);
            }
            if (upcastAttention) {
                attn = attn.to(dtype);
            }
            attn = attn.transpose(1, 2).reshape(n, len, c);                      // [n, L, C]
            return mlp(torch.add(x, outProj.apply(attn)));
        }

        /** The MLP half of the layer with its residual: {@code [n, L, C] -> [n, L, C]}. */
        private Tensor mlp(Tensor x) {
            Tensor h = fc1.apply(layerNorm2.apply(x));                           // [n, L, I]
            // quick_gelu h * sigmoid(1.702 h) in one new tensor instead of three (the same bits: each step
            // rounds as before, the product commutes): 0.6-0.9x the time in ClipLayerProbe, whose fresh
            // 24 MB temporaries at num_crops 4 cost page faults.
            h = quickGelu ? torch.mul(h, quickGeluAlpha).sigmoid_().mul_(h) : torch.gelu(h);
            return torch.add(x, fc2.apply(h));                                   // [n, L, C]
        }
    }
}
