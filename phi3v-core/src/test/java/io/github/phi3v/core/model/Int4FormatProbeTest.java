package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;

/**
 * {@link Int4FormatProbe}'s formats are what they claim: each rounds every group of 32 weights to at most 16
 * levels, its error is that of a 4-bit grid (between 5 % and 10 % on Gaussian weights, not 0 and not noise), and
 * the probe's own rendering of Int4Linear's rounding gives Int4Linear's error.
 */
class Int4FormatProbeTest {

    @Test
    void everyFormatRoundsEachGroupToSixteenLevelsAtAFourBitError() {
        int groups = 1024;
        float[] w = new float[groups * 32];
        Random random = new Random(7);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        double[] errors = new double[Int4FormatProbe.FORMATS.size()];
        for (int f = 0; f < errors.length; f++) {
            Int4FormatProbe.Format format = Int4FormatProbe.FORMATS.get(f);
            float[] d = format.dequantize().apply(w, groups, 32);
            assertEquals(w.length, d.length, format.label());
            for (int k = 0; k < groups; k++) {
                Set<Float> levels = new HashSet<>();
                for (int j = 0; j < 32; j++) {
                    levels.add(d[k * 32 + j]);
                }
                assertTrue(levels.size() <= 16, format.label() + ": group " + k + " has " + levels.size() + " levels");
            }
            errors[f] = QuantizationCriteria.relativeError(d, w);
            assertTrue(errors[f] > 0.05 && errors[f] < 0.10, format.label() + ": relative error " + errors[f]);
        }
        assertEquals(errors[0], errors[1], 5e-4, "the probe's rendering of Int4Linear's rounding");
    }
}
