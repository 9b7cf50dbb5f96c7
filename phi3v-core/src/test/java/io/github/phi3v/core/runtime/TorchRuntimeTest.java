package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

class TorchRuntimeTest {

    @Test
    void initialisesAndComputes() {
        TorchRuntime.ensureInitialized();
        assertEquals(0L, Pointer.maxPhysicalBytes(), "JavaCPP physical-bytes accounting must be off");
        assertEquals(Math.max(1, Runtime.getRuntime().availableProcessors()), TorchRuntime.threads());
        try (Tensor a = torch.ones(2, 3); Tensor s = a.sum()) {
            assertEquals(6f, s.item_float(), 0f);
        }
    }

    @Test
    void rejectsBadThreadCount() {
        assertThrows(IllegalArgumentException.class, () -> TorchRuntime.setThreads(0));
    }
}
