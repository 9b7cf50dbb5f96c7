package io.github.phi3v.core.generate;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BudgetAndMemoryTest {

    @Test
    void worstCaseImageTokensMatchTheProcessorFormula() {
        // (rows*cols + 1)*144 + 1 + (rows + 1)*12 with all crops in one column
        assertEquals(2653, TokenBudget.maxImageTokens(16));
        assertEquals(781, TokenBudget.maxImageTokens(4));
        assertEquals(313, TokenBudget.maxImageTokens(1));
        for (int n = 1; n <= 16; n++) {
            int worst = 0;
            for (int rows = 1; rows <= n; rows++) {
                for (int cols = 1; rows * cols <= n; cols++) {
                    worst = Math.max(worst, (rows * cols + 1) * 144 + 1 + (rows + 1) * 12);
                }
            }
            assertEquals(worst, TokenBudget.maxImageTokens(n), "numCrops " + n);
        }
    }

    @Test
    void fittingRequestPasses() {
        assertDoesNotThrow(() -> TokenBudget.check(40, new int[] {1921}, 500, 4096, 16));
        assertDoesNotThrow(() -> TokenBudget.check(3596, new int[0], 500, 4096, 16)); // exactly full
    }

    @Test
    void overflowSaysWhatEachImageCostsAndWhichNumCropsFits() {
        ContextLengthExceededException e = assertThrows(ContextLengthExceededException.class,
                () -> TokenBudget.check(40, new int[] {1921, 1921}, 500, 4096, 16));
        assertEquals(4382, e.requiredTokens());
        assertEquals(4096, e.maxContext());
        assertEquals(286, e.excessTokens());
        String m = e.getMessage();
        assertTrue(m.contains("needs 4382 tokens (40 text + 3842 image + 500 new)"), m);
        assertTrue(m.contains("maximum context is 4096 (286 too many)"), m);
        assertTrue(m.contains("The images cost 1921 and 1921 tokens at numCrops 16"), m);
        // 40 + 2 * (156 c + 157) + 500 <= 4096  <=>  c <= 10
        assertTrue(m.contains("Use numCrops(10): it costs at most 1717 tokens per image"), m);
    }

    @Test
    void overflowWithoutAFittingNumCrops() {
        ContextLengthExceededException e = assertThrows(ContextLengthExceededException.class,
                () -> TokenBudget.check(100, new int[] {757}, 300, 512, 4));
        assertTrue(e.getMessage().contains("Even numCrops(1) costs up to 313 tokens per image"), e.getMessage());
        ContextLengthExceededException text = assertThrows(ContextLengthExceededException.class,
                () -> TokenBudget.check(5000, new int[0], 10, 4096, 16));
        assertTrue(text.getMessage().contains("fewer maxNewTokens, a shorter prompt, or a larger maxContext"));
        assertThrows(IllegalArgumentException.class, () -> TokenBudget.check(-1, new int[0], 1, 10, 1));
        assertThrows(IllegalArgumentException.class, () -> TokenBudget.check(1, new int[] {-1}, 1, 10, 1));
    }

    @Test
    void phi3KvCostIs384KiBPerTokenInHalfPrecision() {
        assertEquals(384L * 1024, MemoryEstimate.kvBytesPerToken(32, 32, 96, 2));
        MemoryEstimate m = MemoryEstimate.builder().weights(4_000_000_000L, 2).kvCache(32, 32, 96, 2)
                .maxContext(8192).images(1, 1L << 30).build();
        assertEquals(8_000_000_000L, m.weightBytes());
        assertEquals(3L << 30, m.kvBytes());
        assertEquals(8_000_000_000L + (3L << 30) + (1L << 30), m.totalBytes());
        assertTrue(m.toString().contains("384 KiB/token x 8192"), m.toString());
    }

    @Test
    void visionActivationsArithmetic() {
        // 17 crops x (577 x (4 x 1024 + 4096) + 16 x 577²) x 4 bytes
        long expected = 17L * (577L * 8192 + 16L * 577 * 577) * 4;
        assertEquals(expected, MemoryEstimate.visionActivationBytes(17, 577, 1024, 4096, 16, 4));
        assertThrows(IllegalArgumentException.class, () -> MemoryEstimate.visionActivationBytes(0, 577, 1024, 4096, 16, 4));
    }

    @Test
    void tooLittleMemoryGivesAContextThatFits() {
        MemoryEstimate m = MemoryEstimate.builder().weightBytes(8L << 30).kvCache(32, 32, 96, 2).maxContext(131072).build();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.requireFits(16L << 30));
        // (16 - 8) GiB / 384 KiB = 21845 tokens
        assertEquals(21845, m.maxContextThatFits(16L << 30));
        assertTrue(e.getMessage().contains("needs about 56.00 GiB but only 16.00 GiB is available"), e.getMessage());
        assertTrue(e.getMessage().contains("Use maxContext(21845) or less"), e.getMessage());
        IllegalStateException none = assertThrows(IllegalStateException.class, () -> m.requireFits(4L << 30));
        assertTrue(none.getMessage().contains("Not even the weights"), none.getMessage());
        assertDoesNotThrow(() -> m.requireFits(-1)); // unknown
        assertDoesNotThrow(() -> m.requireFits(64L << 30));
        assertTrue(MemoryEstimate.physicalMemoryBytes() > 0);
    }
}
