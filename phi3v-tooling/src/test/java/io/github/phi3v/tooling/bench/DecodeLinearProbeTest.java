package io.github.phi3v.tooling.bench;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.testsupport.SharedData;

/** {@link DecodeLinearProbe} on the tiny golden model's shapes: it runs both kernels and validates its input. */
class DecodeLinearProbeTest {

    private static Phi3VConfig tinyConfig() {
        return Phi3VConfig.fromDirectory(SharedData.tinyA().resolve("model-f32"));
    }

    @Test
    void measuresBothDecodeKernels() {
        Phi3VConfig c = tinyConfig();
        double bf16 = DecodeLinearProbe.bytesPerSecond(c, Precision.BFLOAT16, Quantization.NONE, 2, 2);
        double int8 = DecodeLinearProbe.bytesPerSecond(c, Precision.BFLOAT16, Quantization.INT8, 2, 2);
        double f32 = DecodeLinearProbe.bytesPerSecond(c, Precision.FLOAT32, Quantization.NONE, 1, 1);
        assertTrue(bf16 > 0 && int8 > 0 && f32 > 0, bf16 + " " + int8 + " " + f32);
    }

    @Test
    void rejectsNonPositiveCounts() {
        Phi3VConfig c = tinyConfig();
        assertThrows(IllegalArgumentException.class,
                () -> DecodeLinearProbe.bytesPerSecond(c, Precision.BFLOAT16, Quantization.NONE, 0, 1));
        assertThrows(IllegalArgumentException.class,
                () -> DecodeLinearProbe.bytesPerSecond(c, Precision.BFLOAT16, Quantization.NONE, 1, 0));
    }
}
