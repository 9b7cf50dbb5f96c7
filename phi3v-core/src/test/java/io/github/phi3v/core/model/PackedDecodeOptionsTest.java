package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.runtime.AtenOps;
import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.core.runtime.InferenceScope;

/**
 * What {@link ModelOptions#packedDecodeWeights()} refuses: options other than bf16 on the CPU without
 * quantization, and CPUs on which oneDNN cannot pack bf16 weights, before anything is read; and that the
 * CPU check ({@link CpuFeatures#oneDnnBf16Packing()}) agrees with what oneDNN itself does on this CPU.
 */
class PackedDecodeOptionsTest {

    @Test
    void refusesWhatItDoesNotSupport() {
        ModelOptions bf16 = ModelOptions.defaults().withPrecision(Precision.BFLOAT16);
        for (ModelOptions o : List.of(bf16.withPrecision(Precision.FLOAT32), bf16.withQuantization(Quantization.INT8),
                bf16.withQuantization(Quantization.INT4), bf16.withDevice(ModelOptions.Device.CUDA))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> o.withPackedDecodeWeights(true));
            assertTrue(e.getMessage().contains("packed decode weights need bf16"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> bf16.withPackedDecodeWeights(true).withPrecision(Precision.FLOAT16));
        assertTrue(e.getMessage().contains("float16"), e.getMessage());
    }

    @Test
    void theCpuCheckAgreesWithOneDnn() {
        boolean packed;
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            AtenOps.reorderLinearWeight(torch.randn(new long[] {64, 64}, f32).to(ScalarType.BFloat16));
            packed = true;
        } catch (RuntimeException e) {
            assertTrue(e.getMessage().contains("bf16 path needs the cpu support"), "not oneDNN's CPU refusal: " + e);
            packed = false;
        }
        assertEquals(packed, CpuFeatures.oneDnnBf16Packing(), "oneDNN packed a bf16 weight: " + packed);
    }

    @Test
    void aCpuWithoutBf16PackingIsRefusedBeforeLoading() {
        if (CpuFeatures.oneDnnBf16Packing()) {
            return;   // PackedDecodeWeightsTest loads and runs the packed model on this CPU
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Phi3VModel.load(
                GoldenCases.modelBf16(), ModelOptions.defaults().withPrecision(Precision.BFLOAT16)
                        .withPackedDecodeWeights(true)).close());
        assertTrue(e.getMessage().contains("AVX-512 BW, VL and DQ or with AVX-NE-CONVERT")
                && e.getMessage().contains("without packedDecodeWeights"), e.getMessage());
    }
}
