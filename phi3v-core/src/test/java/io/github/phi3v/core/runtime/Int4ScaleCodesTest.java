package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.weights.SafetensorsWriter;

/** {@link Int4ScaleCodes}: the rule of int4 scales and zeros, and its codes. Pure Java. */
class Int4ScaleCodesTest {

    @Test
    void exponentIsTheSmallestThatHoldsTheLargestValue() {
        assertEquals(0, Int4ScaleCodes.exponent(0, 255));
        assertEquals(0, Int4ScaleCodes.exponent(255, 255));
        assertEquals(1, Int4ScaleCodes.exponent(255.5, 255));
        assertEquals(-1, Int4ScaleCodes.exponent(127.5, 255));
        assertEquals(-7, Int4ScaleCodes.exponent(1.0078125, 255));         // 255 / 128 = 1.99 >= 1.0078 > 255 / 256
        assertEquals(-6, Int4ScaleCodes.exponent(1.0, 127));               // 127 / 64 >= 1 > 127 / 128
        assertEquals(Int4ScaleCodes.MIN_EXPONENT, Int4ScaleCodes.exponent(1e-40, 255));
    }

    @Test
    void roundedValuesAreExactInBf16AndEncodeToTheirCodes() {
        Random random = new Random(7);
        int rows = 5;
        int groups = 11;                                                  // a last block of 3 groups per row
        float[] scales = new float[rows * groups];
        float[] zeros = new float[rows * groups];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = (float) (0.01 * Math.exp(random.nextGaussian()));   // a spread of magnitudes
            zeros[i] = (float) (0.02 * random.nextGaussian());
        }
        zeros[3] = 0;
        float[] s = scales.clone();
        float[] z = zeros.clone();
        Int4ScaleCodes.round(s, rows, groups, true);
        Int4ScaleCodes.round(z, rows, groups, false);
        for (int i = 0; i < s.length; i++) {
            assertEquals(s[i], bf16(s[i]), "scale " + i + " exact in bf16");
            assertEquals(z[i], bf16(z[i]), "zero " + i + " exact in bf16");
            assertTrue(s[i] > 0, "scale " + i + " stays positive");
            // Within half a code of the value (a scale below half a code takes the smallest code, 1).
            double sc = Math.scalb(1.0, Int4ScaleCodes.exponent(blockLargest(scales, i, groups), 255));
            double zc = Math.scalb(1.0, Int4ScaleCodes.exponent(blockLargest(zeros, i, groups), 127));
            assertTrue(Math.abs(s[i] - scales[i]) <= sc / 2 || (s[i] == sc && scales[i] < sc / 2),
                    "scale " + i + ": " + scales[i] + " -> " + s[i]);
            assertTrue(Math.abs(z[i] - zeros[i]) <= zc / 2, "zero " + i + ": " + zeros[i] + " -> " + z[i]);
        }
        Int4ScaleCodes.Encoded es = Int4ScaleCodes.encode(s, rows, groups, true, "scales");
        Int4ScaleCodes.Encoded ez = Int4ScaleCodes.encode(z, rows, groups, false, "zeros");
        assertEquals(rows * groups, es.codes().length);
        assertEquals(rows * 2, es.exponents().length);                    // ceil(11 / 8) blocks per row
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < groups; g++) {
                int i = r * groups + g;
                int block = r * 2 + g / Int4ScaleCodes.GROUPS_PER_BLOCK;
                assertEquals(s[i], (float) Math.scalb((double) (es.codes()[i] & 0xff), es.exponents()[block]),
                        "scale " + i);
                assertEquals(z[i], (float) Math.scalb((double) ez.codes()[i], ez.exponents()[block]), "zero " + i);
            }
        }
        assertEquals(0, ez.codes()[3]);
    }

    @Test
    void valuesOffTheRuleAreRefusedNamingRowAndGroup() {
        // One row, two groups: 2.0 sets the block's exponent to -6 (255 * 2^-7 < 2), and 1.0078125 is not a multiple
        // of 2^-6, though bf16 holds it.
        float[] s = {2.0f, 1.0078125f};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Int4ScaleCodes.encode(s, 1, 2, true, "int4 scales"));
        assertTrue(e.getMessage().startsWith("int4 scales: row 0, group 1 holds 1.0078125, not 0..255 times 2^-6"),
                e.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> Int4ScaleCodes.encode(new float[] {1.0f, -1.0f}, 1, 2, true, "int4 scales"));
        assertTrue(negative.getMessage().contains("group 1 holds -1.0"), negative.getMessage());
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
                () -> Int4ScaleCodes.encode(new float[] {1.0f, Float.NaN}, 1, 2, false, "int4 zeros"));
        assertTrue(nan.getMessage().contains("not finite"), nan.getMessage());
        // Negative zeros are fine: -2 sets the exponent to -5 (127 * 2^-6 < 2), 1.0 is code 32 of it.
        Int4ScaleCodes.Encoded ok = Int4ScaleCodes.encode(new float[] {-2.0f, 1.0f}, 1, 2, false, "zeros");
        assertArrayEquals(new byte[] {-64, 32}, ok.codes());
        assertArrayEquals(new byte[] {-5}, ok.exponents());
    }

    private static double blockLargest(float[] v, int i, int groups) {
        int row = i / groups;
        int b = (i % groups) / Int4ScaleCodes.GROUPS_PER_BLOCK * Int4ScaleCodes.GROUPS_PER_BLOCK;
        double max = 0;
        for (int g = b; g < Math.min(groups, b + Int4ScaleCodes.GROUPS_PER_BLOCK); g++) {
            max = Math.max(max, Math.abs(v[row * groups + g]));
        }
        return max;
    }

    private static float bf16(float x) {
        return Float.intBitsToFloat(SafetensorsWriter.toBf16(x) << 16);
    }
}
