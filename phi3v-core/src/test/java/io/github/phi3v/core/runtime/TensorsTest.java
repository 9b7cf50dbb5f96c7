package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

class TensorsTest {

    /**
     * The trap behind {@link Tensors#dtype}: comparing {@code scalar_type()} with {@code ==} was silently
     * false, which kept the float32 decode GEMV and CLIP's per-crop attention off (4x slower lm_head).
     */
    @Test
    void dtypeIsComparableWithIdentity() {
        TorchRuntime.ensureInitialized();
        try (InferenceScope scope = InferenceScope.open()) {
            Tensor f = torch.ones(2, 3);
            Tensor b = f.to(ScalarType.BFloat16);
            assertNotSame(ScalarType.Float, f.scalar_type(), "JavaCPP now interns scalar_type(): Tensors.dtype may go");
            assertSame(ScalarType.Float, Tensors.dtype(f));
            assertSame(ScalarType.BFloat16, Tensors.dtype(b));
        }
    }

    @Test
    void roundTripsFloats() {
        TorchRuntime.ensureInitialized();
        try (InferenceScope scope = InferenceScope.open()) {
            float[] data = {1f, -2.5f, 3f, 0f, 7f, 8f};
            assertArrayEquals(data, Tensors.toFloats(Tensors.fromFloats(data, new long[] {2, 3})));
        }
    }
}
