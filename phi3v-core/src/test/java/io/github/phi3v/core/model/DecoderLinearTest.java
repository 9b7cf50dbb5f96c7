package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** {@link DecoderLinear}: what it counts as streamed, that it runs each decode kernel, and its validation. */
class DecoderLinearTest {

    @Test
    void countsTheBytesEachKernelStreams() {
        try (DecoderLinear bf16 = DecoderLinear.random(8, 4, Precision.BFLOAT16, Quantization.NONE);
             DecoderLinear f32 = DecoderLinear.random(8, 4, Precision.FLOAT32, Quantization.NONE);
             DecoderLinear int8 = DecoderLinear.random(8, 16, Precision.BFLOAT16, Quantization.INT8)) {
            assertEquals(8 * 4 * 2, bf16.streamedBytes());
            assertEquals(8 * 4 * 4, f32.streamedBytes());
            // int8 matrix + a scale per row: float32 for fbgemm and the native kernel, bf16 here for ATen's
            int scaleBytes = Int8Kernel.Choice.preferred() == Int8Kernel.Choice.ATEN ? 2 : 4;
            assertEquals(8 * 16 + 8 * scaleBytes, int8.streamedBytes());
            for (int i = 0; i < 3; i++) {
                bf16.applyOneRow();
                f32.applyOneRow();
                int8.applyOneRow();
            }
        }
        // the bf16 product ran on ATen's GEMV; libtorch is back in its default (oneDNN) mode afterwards
        assertTrue(torch.globalContext().userEnabledMkldnn());
    }

    @Test
    void rejectsEmptyShapesAndUseAfterClose() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DecoderLinear.random(0, 4, Precision.BFLOAT16, Quantization.NONE));
        assertEquals("outFeatures and inFeatures must be >= 1, got 0 and 4", e.getMessage());
        DecoderLinear l = DecoderLinear.random(2, 2, Precision.FLOAT32, Quantization.NONE);
        l.close();
        l.close();
        assertThrows(IllegalStateException.class, l::applyOneRow);
    }
}
