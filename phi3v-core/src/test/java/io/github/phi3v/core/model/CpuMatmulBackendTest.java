package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.model.CpuMatmulBackend.Mode;
import io.github.phi3v.core.runtime.TorchRuntime;

class CpuMatmulBackendTest {

    private static boolean oneDnn() {
        return torch.globalContext().userEnabledMkldnn();
    }

    @Test
    void switchesLibtorchAndRestoresItsDefault() {
        TorchRuntime.ensureInitialized();
        assertTrue(oneDnn(), "libtorch's default is oneDNN on");
        try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(Mode.ATEN_GEMV)) {
            assertFalse(oneDnn());
        }
        assertTrue(oneDnn(), "leaving the last ATEN_GEMV lease restores oneDNN");
        try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(Mode.ONEDNN)) {
            assertTrue(oneDnn());
        }
    }

    /**
     * A holds ONEDNN; B asks for ATEN_GEMV and must wait; C then asks for ONEDNN and must wait behind B
     * (no starvation of the waiting mode). Order of entries: A, B, C, and the flag matches each holder.
     */
    @Test
    void modesAreExclusiveAndAWaitingModeGoesFirst() throws Exception {
        TorchRuntime.ensureInitialized();
        List<String> order = new CopyOnWriteArrayList<>();
        CountDownLatch bDone = new CountDownLatch(1);
        CountDownLatch cDone = new CountDownLatch(1);
        Thread b;
        Thread c;
        try (CpuMatmulBackend.Lease a = CpuMatmulBackend.enter(Mode.ONEDNN)) {
            order.add("A");
            b = new Thread(() -> {
                try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(Mode.ATEN_GEMV)) {
                    order.add("B:" + oneDnn());
                    sleep(100);
                }
                bDone.countDown();
            });
            b.start();
            waitUntilWaiting(b);
            c = new Thread(() -> {
                try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(Mode.ONEDNN)) {
                    order.add("C:" + oneDnn());
                }
                cDone.countDown();
            });
            c.start();
            waitUntilWaiting(c);
            sleep(100);
            assertEquals(List.of("A"), order, "B and C must wait while A holds ONEDNN");
        }
        assertTrue(bDone.await(10, TimeUnit.SECONDS) && cDone.await(10, TimeUnit.SECONDS), "waiters never ran");
        assertEquals(List.of("A", "B:false", "C:true"), order);
        assertTrue(oneDnn());
    }

    private static void waitUntilWaiting(Thread t) throws InterruptedException {
        for (int i = 0; i < 1000 && t.getState() != Thread.State.WAITING; i++) {
            Thread.sleep(5);
        }
        assertEquals(Thread.State.WAITING, t.getState(), t.getName() + " should be waiting for its mode");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
