package io.github.phi3v.tooling.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.NativeInt4Kernel;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.testsupport.SharedData;
import io.github.phi3v.tooling.random.RandomModel;

/** {@link ModelCosts} against hand counts: the tiny configuration's weight bytes and FLOPs, the real CLIP's. */
class ModelCostsTest {

    @Test
    void weightBytesAndPrefillFlopsFollowTheArchitecture() {
        Phi3VConfig c = RandomModel.tinyConfig();
        long bf16 = ModelCosts.weightBytesPerToken(c, Precision.BFLOAT16, Quantization.NONE);
        long int8 = ModelCosts.weightBytesPerToken(c, Precision.BFLOAT16, Quantization.INT8);
        // tiny: 2 layers of (192*64 + 64*64 + 256*64 + 64*128) params; lm_head 32064*64, read in bf16 by the
        // native kernel, else a float32 copy
        long params = 2L * (192 * 64 + 64 * 64 + 256 * 64 + 64 * 128);
        long lmHead = (NativeKernels.available() ? 2L : 4L) * 32064 * 64;
        long rest = 2L * 2 * 64 * 2 + 2 * 64 * 2 + lmHead;
        assertEquals(params * 2 + rest, bf16);
        assertEquals(params + 4L * 2 * (192 + 64 + 256 + 64) + rest, int8);
        // int4: the native kernel's layout where it takes a bf16 model (here every shape is 16 rows x 32 columns
        // whole), else nibbles with a bf16 scale and zero per 32 weights
        long int4 = ModelCosts.weightBytesPerToken(c, Precision.BFLOAT16, Quantization.INT4);
        long int4Linears = NativeInt4Kernel.takes(org.bytedeco.pytorch.global.torch.ScalarType.BFloat16)
                ? 2L * (NativeInt4Kernel.packedBytes(192, 64) + NativeInt4Kernel.packedBytes(64, 64)
                        + NativeInt4Kernel.packedBytes(256, 64) + NativeInt4Kernel.packedBytes(64, 128))
                : params / 2 + 4 * (params / 32);
        assertEquals(int4Linears + rest, int4);
        assertTrue(int4Linears < params / 2 + 4 * (params / 32) || !NativeInt4Kernel.takes(
                org.bytedeco.pytorch.global.torch.ScalarType.BFloat16), "codes take fewer bytes than bf16 scale and zero");
        // float16 and float32 models keep a float32 lm_head on CPU
        assertEquals(params * 2 + 2L * 2 * 64 * 2 + 2 * 64 * 2 + 4L * 32064 * 64,
                ModelCosts.weightBytesPerToken(c, Precision.FLOAT16, Quantization.NONE));
        assertEquals(params * 4 + 2L * 2 * 64 * 4 + 2 * 64 * 4 + 4L * 32064 * 64,
                ModelCosts.weightBytesPerToken(c, Precision.FLOAT32, Quantization.NONE));
        double flops = ModelCosts.prefillFlopCount(c, 10);
        assertEquals(2.0 * params * 10 + 2.0 * 4 * 16 * 10 * 11 * 2 + 2.0 * 32064 * 64, flops, 1e-6);
    }

    @Test
    void visionFlopsOfTheRealModelAtNumCropsFour() throws IOException {
        Phi3VConfig real = Phi3VConfig.fromFile(SharedData.golden().resolve("phi3v-128k-config/config.json"));
        // CLIP ViT-L/14 at 336 px, layer_idx -2: 23 of 24 layers on 5 crops of 576 patches + the class token,
        // then img_projection (4096 -> 3072 -> 3072) on the 757 image tokens of a 1344x1008 picture.
        double conv = 2.0 * 576 * 3 * 14 * 14 * 1024;
        double linears = 2.0 * 577 * (4.0 * 1024 * 1024 + 2.0 * 1024 * 4096);
        double attention = 4.0 * 577 * 577 * 1024;
        double projection = 2.0 * 757 * (4096.0 * 3072 + 3072.0 * 3072);
        double expected = 5 * (conv + 23 * (linears + attention)) + projection;
        assertEquals(1.8635e12, expected, 0.0001e12);              // the hand count above, as a number
        assertEquals(expected, ModelCosts.visionFlopCount(real, 5, 757), 1.0);
    }
}
