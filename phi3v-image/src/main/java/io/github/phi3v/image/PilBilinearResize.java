package io.github.phi3v.image;

/**
 * Pillow's antialiased BILINEAR resize of an 8-bit RGB image ({@code Image.resize(size, BILINEAR)},
 * which {@code torchvision.transforms.functional.resize} calls), reimplemented so the 8-bit result is
 * bit-identical to Pillow's {@code libImaging/Resample.c}:
 *
 * <ul>
 *   <li>triangle filter of support {@code 1 * max(scale, 1)} (antialiasing when shrinking), taps
 *       computed in double precision per output pixel and normalised to sum 1;</li>
 *   <li>taps converted to fixed point with 22 fraction bits ({@code PRECISION_BITS = 32 - 8 - 2}),
 *       rounded half away from zero;</li>
 *   <li>separable: a horizontal pass whose output is rounded to uint8 ({@code + 2^21}, {@code >> 22},
 *       clamp), then a vertical pass on those bytes; a pass is skipped when that side keeps its size.</li>
 * </ul>
 *
 * <p>The pass order matters for the 8-bit result. {@link #resize} takes {@code verticalFirst} so
 * that the official "transpose, resize, transpose back" of portrait images can be done without
 * transposing pixels: Pillow's horizontal pass on the transposed image is the vertical pass here.
 */
final class PilBilinearResize {

    static final int PRECISION_BITS = 32 - 8 - 2;
    private static final int HALF = 1 << (PRECISION_BITS - 1);

    private PilBilinearResize() {
    }

    /**
     * Fixed-point taps for one axis: output i reads {@code count[i]} inputs from {@code start[i]}
     * with weights {@code k[i * ksize + j]}.
     */
    record Taps(int ksize, int[] start, int[] count, int[] k) {
    }

    /** Pillow's {@code precompute_coeffs} + {@code normalize_coeffs_8bpc} for box (0, inSize). */
    static Taps taps(int inSize, int outSize) {
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = 1.0 * filterScale; // BILINEAR support is 1
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] start = new int[outSize];
        int[] count = new int[outSize];
        int[] k = new int[outSize * ksize];
        double[] w = new double[ksize];
        double ss = 1.0 / filterScale;
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            int xmin = (int) (center - support + 0.5); // C cast truncates toward zero, like Java
            if (xmin < 0) {
                xmin = 0;
            }
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) {
                xmax = inSize;
            }
            xmax -= xmin;
            double ww = 0.0;
            for (int x = 0; x < xmax; x++) {
                double v = triangle((x + xmin - center + 0.5) * ss);
                w[x] = v;
                ww += v;
            }
            for (int x = 0; x < xmax; x++) {
                double v = ww != 0.0 ? w[x] / ww : w[x];
                // Round half away from zero into fixed point; (int) truncates like C.
                k[xx * ksize + x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS))
                        : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            start[xx] = xmin;
            count[xx] = xmax;
        }
        return new Taps(ksize, start, count, k);
    }

    private static double triangle(double x) {
        if (x < 0.0) {
            x = -x;
        }
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static byte clip8(int acc) {
        int v = acc >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }

    /**
     * Resizes interleaved RGB {@code src} ({@code w x h}) to {@code outW x outH}.
     *
     * @param verticalFirst false = Pillow's order (horizontal, then vertical); true = the order Pillow
     *                      uses on the transposed image
     * @return {@code outW * outH * 3} bytes; {@code src} itself when the size is unchanged
     */
    static byte[] resize(byte[] src, int w, int h, int outW, int outH, boolean verticalFirst) {
        boolean needH = outW != w;
        boolean needV = outH != h;
        if (!needH && !needV) {
            return src;
        }
        if (!needH) {
            return vertical(src, w, outH, taps(h, outH), 0);
        }
        if (!needV) {
            return horizontal(src, w, 0, h, outW, taps(w, outW));
        }
        Taps th = taps(w, outW);
        Taps tv = taps(h, outH);
        if (verticalFirst) {
            byte[] tmp = vertical(src, w, outH, tv, 0);
            return horizontal(tmp, w, 0, outH, outW, th);
        }
        // Like Pillow, run the first pass only over the rows the second pass reads.
        int first = tv.start()[0];
        int last = tv.start()[outH - 1] + tv.count()[outH - 1];
        byte[] tmp = horizontal(src, w, first, last, outW, th);
        return vertical(tmp, outW, outH, tv, first);
    }

    /** Horizontal pass over rows {@code [y0, y1)} of a {@code w}-wide image; output has y1 - y0 rows. */
    static byte[] horizontal(byte[] src, int w, int y0, int y1, int outW, Taps t) {
        int ksize = t.ksize();
        int[] start = t.start();
        int[] count = t.count();
        int[] k = t.k();
        byte[] out = new byte[(y1 - y0) * outW * 3];
        int o = 0;
        for (int y = y0; y < y1; y++) {
            int row = y * w * 3;
            for (int xx = 0; xx < outW; xx++) {
                int s0 = HALF;
                int s1 = HALF;
                int s2 = HALF;
                int p = row + start[xx] * 3;
                int kb = xx * ksize;
                for (int x = 0, n = count[xx]; x < n; x++, p += 3) {
                    int kx = k[kb + x];
                    s0 += (src[p] & 0xff) * kx;
                    s1 += (src[p + 1] & 0xff) * kx;
                    s2 += (src[p + 2] & 0xff) * kx;
                }
                out[o] = clip8(s0);
                out[o + 1] = clip8(s1);
                out[o + 2] = clip8(s2);
                o += 3;
            }
        }
        return out;
    }

    /**
     * Vertical pass of a {@code w}-wide image to {@code outH} rows; {@code rowOffset} is subtracted from
     * the taps' start rows (the source holds only rows from {@code rowOffset} on).
     */
    static byte[] vertical(byte[] src, int w, int outH, Taps t, int rowOffset) {
        int stride = w * 3;
        int ksize = t.ksize();
        int[] start = t.start();
        int[] count = t.count();
        int[] k = t.k();
        byte[] out = new byte[outH * stride];
        int[] acc = new int[stride];
        for (int yy = 0; yy < outH; yy++) {
            java.util.Arrays.fill(acc, HALF);
            int base = (start[yy] - rowOffset) * stride;
            // Row-wise accumulation (same integer sums as Pillow's per-pixel loop) so the JIT can
            // vectorise the inner loop.
            for (int y = 0, n = count[yy]; y < n; y++) {
                int ky = k[yy * ksize + y];
                int off = base + y * stride;
                for (int i = 0; i < stride; i++) {
                    acc[i] += (src[off + i] & 0xff) * ky;
                }
            }
            int o = yy * stride;
            for (int i = 0; i < stride; i++) {
                out[o + i] = clip8(acc[i]);
            }
        }
        return out;
    }
}
