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
 *   <li>separable: a horizontal pass whose output is rounded to uint8 ({@code + 2^21}, {@code >> 22};
 *       Pillow's clamp to 0..255 never triggers for these non-negative taps), then a vertical pass on
 *       those bytes; a pass is skipped when that side keeps its size.</li>
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
     * with weights {@code k[i * ksize + j]} (Pillow's layout). The same taps are also kept padded to a
     * fixed width {@code n}: output i reads {@code n} inputs from {@code pstart[i]} with weights
     * {@code pk[i * n + j]}, the extra weights being 0, so the inner loops have a constant trip count;
     * adding {@code 0 * v} leaves the integer sums unchanged.
     */
    record Taps(int ksize, int[] start, int[] count, int[] k, int n, int[] pstart, int[] pk) {
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
        int n = 1;
        for (int c : count) {
            n = Math.max(n, c);
        }
        n = Math.min(n, inSize);
        int[] pstart = new int[outSize];
        int[] pk = new int[outSize * n];
        for (int xx = 0; xx < outSize; xx++) {
            int ps = Math.max(0, Math.min(start[xx], inSize - n)); // window of n inside the image
            pstart[xx] = ps;
            for (int j = 0; j < count[xx]; j++) {
                pk[xx * n + start[xx] - ps + j] = k[xx * ksize + j];
            }
        }
        return new Taps(ksize, start, count, k, n, pstart, pk);
    }

    private static double triangle(double x) {
        if (x < 0.0) {
            x = -x;
        }
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    /**
     * Pillow's {@code clip8} without the clamp: bilinear taps are never negative and sum to at most
     * {@code 2^22 + n/2}, so {@code (2^21 + sum(v * k)) >> 22} is always within 0..255 already.
     */
    private static byte fast8(int acc) {
        return (byte) (acc >> PRECISION_BITS);
    }


    /**
     * Resizes interleaved RGB {@code src} ({@code w x h}) to {@code outW x outH}, writing output row
     * {@code y} to {@code dst} at {@code dstOffset + y * dstStride} (so the result can land directly
     * inside a padded canvas).
     *
     * @param verticalFirst false = Pillow's order (horizontal, then vertical); true = the order Pillow
     *                      uses on the transposed image
     */
    static void resize(byte[] src, int w, int h, int outW, int outH, boolean verticalFirst, byte[] dst,
            int dstOffset, int dstStride, boolean bgr) {
        boolean needH = outW != w;
        boolean needV = outH != h;
        if (!needH && !needV) {
            for (int y = 0; y < h; y++) {
                System.arraycopy(src, y * w * 3, dst, dstOffset + y * dstStride, w * 3);
            }
            swapInPlace(bgr, dst, dstOffset, dstStride, outW, outH);
        } else if (!needH) {
            vertical(src, w, outH, taps(h, outH), 0, dst, dstOffset, dstStride);
            swapInPlace(bgr, dst, dstOffset, dstStride, outW, outH);
        } else if (!needV) {
            horizontal(src, w, 0, h, outW, taps(w, outW), dst, dstOffset, dstStride, bgr);
        } else if (verticalFirst) {
            byte[] tmp = new byte[outH * w * 3];
            vertical(src, w, outH, taps(h, outH), 0, tmp, 0, w * 3);
            horizontal(tmp, w, 0, outH, outW, taps(w, outW), dst, dstOffset, dstStride, bgr);
        } else {
            Taps tv = taps(h, outH);
            // Like Pillow, run the first pass only over the rows the second pass reads (the padded
            // windows start at or before Pillow's).
            int first = tv.pstart()[0];
            int last = tv.pstart()[outH - 1] + tv.n();
            byte[] tmp = new byte[(last - first) * outW * 3];
            horizontal(src, w, first, last, outW, taps(w, outW), tmp, 0, outW * 3, bgr);
            vertical(tmp, outW, outH, tv, first, dst, dstOffset, dstStride);
        }
    }

    private static void swapInPlace(boolean bgr, byte[] dst, int off, int stride, int w, int h) {
        if (!bgr) {
            return;
        }
        for (int y = 0; y < h; y++) {
            for (int i = off + y * stride, end = i + w * 3; i < end; i += 3) {
                byte t = dst[i];
                dst[i] = dst[i + 2];
                dst[i + 2] = t;
            }
        }
    }

    /** {@link #resize(byte[], int, int, int, int, boolean, byte[], int, int, boolean)} of RGB into a new array. */
    static byte[] resize(byte[] src, int w, int h, int outW, int outH, boolean verticalFirst) {
        byte[] out = new byte[outW * outH * 3];
        resize(src, w, h, outW, outH, verticalFirst, out, 0, outW * 3, false);
        return out;
    }

    /**
     * Horizontal pass over rows {@code [y0, y1)} of a {@code w}-wide image; source row y goes to
     * {@code out} at {@code off + (y - y0) * stride}; with {@code swap} channels 0 and 2 trade places.
     */
    static void horizontal(byte[] src, int w, int y0, int y1, int outW, Taps t, byte[] out, int off, int stride,
            boolean swap) {
        // swap: the source is BGR (e.g. a decoded JPEG raster used without conversion); write RGB.
        int d0 = swap ? 2 : 0;
        int d2 = swap ? 0 : 2;
        int n = t.n();
        int[] ps = t.pstart();
        int[] pk = t.pk();
        int y = y0;
        if (n == 3) {
            // The common downscale case, two rows per sweep so the taps are loaded once for both.
            int ws = w * 3;
            for (; y + 1 < y1; y += 2) {
                int row = y * ws;
                int o = off + (y - y0) * stride;
                for (int xx = 0; xx < outW; xx++, o += 3) {
                    int p = row + ps[xx] * 3;
                    int q = p + ws;
                    int k0 = pk[3 * xx];
                    int k1 = pk[3 * xx + 1];
                    int k2 = pk[3 * xx + 2];
                    out[o + d0] = fast8(HALF + (src[p] & 0xff) * k0 + (src[p + 3] & 0xff) * k1 + (src[p + 6] & 0xff) * k2);
                    out[o + 1] = fast8(HALF + (src[p + 1] & 0xff) * k0 + (src[p + 4] & 0xff) * k1
                            + (src[p + 7] & 0xff) * k2);
                    out[o + d2] = fast8(HALF + (src[p + 2] & 0xff) * k0 + (src[p + 5] & 0xff) * k1
                            + (src[p + 8] & 0xff) * k2);
                    int o2 = o + stride;
                    out[o2 + d0] = fast8(HALF + (src[q] & 0xff) * k0 + (src[q + 3] & 0xff) * k1 + (src[q + 6] & 0xff) * k2);
                    out[o2 + 1] = fast8(HALF + (src[q + 1] & 0xff) * k0 + (src[q + 4] & 0xff) * k1
                            + (src[q + 7] & 0xff) * k2);
                    out[o2 + d2] = fast8(HALF + (src[q + 2] & 0xff) * k0 + (src[q + 5] & 0xff) * k1
                            + (src[q + 8] & 0xff) * k2);
                }
            }
        }
        for (; y < y1; y++) {
            int row = y * w * 3;
            int o = off + (y - y0) * stride;
            if (n == 2) {
                for (int xx = 0; xx < outW; xx++, o += 3) {
                    int p = row + ps[xx] * 3;
                    int k0 = pk[2 * xx];
                    int k1 = pk[2 * xx + 1];
                    out[o + d0] = fast8(HALF + (src[p] & 0xff) * k0 + (src[p + 3] & 0xff) * k1);
                    out[o + 1] = fast8(HALF + (src[p + 1] & 0xff) * k0 + (src[p + 4] & 0xff) * k1);
                    out[o + d2] = fast8(HALF + (src[p + 2] & 0xff) * k0 + (src[p + 5] & 0xff) * k1);
                }
            } else if (n == 3) {
                for (int xx = 0; xx < outW; xx++, o += 3) {
                    int p = row + ps[xx] * 3;
                    int k0 = pk[3 * xx];
                    int k1 = pk[3 * xx + 1];
                    int k2 = pk[3 * xx + 2];
                    out[o + d0] = fast8(HALF + (src[p] & 0xff) * k0 + (src[p + 3] & 0xff) * k1 + (src[p + 6] & 0xff) * k2);
                    out[o + 1] = fast8(HALF + (src[p + 1] & 0xff) * k0 + (src[p + 4] & 0xff) * k1
                            + (src[p + 7] & 0xff) * k2);
                    out[o + d2] = fast8(HALF + (src[p + 2] & 0xff) * k0 + (src[p + 5] & 0xff) * k1
                            + (src[p + 8] & 0xff) * k2);
                }
            } else {
                for (int xx = 0; xx < outW; xx++, o += 3) {
                    int s0 = HALF;
                    int s1 = HALF;
                    int s2 = HALF;
                    int p = row + ps[xx] * 3;
                    int kb = xx * n;
                    for (int j = 0; j < n; j++, p += 3) {
                        int kx = pk[kb + j];
                        s0 += (src[p] & 0xff) * kx;
                        s1 += (src[p + 1] & 0xff) * kx;
                        s2 += (src[p + 2] & 0xff) * kx;
                    }
                    out[o + d0] = fast8(s0);
                    out[o + 1] = fast8(s1);
                    out[o + d2] = fast8(s2);
                }
            }
        }
    }

    /**
     * Vertical pass of a {@code w}-wide image to {@code outH} rows; {@code rowOffset} is subtracted from
     * the taps' start rows (the source holds only rows from {@code rowOffset} on); output row yy goes to
     * {@code out} at {@code off + yy * outStride}.
     */
    static void vertical(byte[] src, int w, int outH, Taps t, int rowOffset, byte[] out, int off, int outStride) {
        int stride = w * 3;
        int n = t.n();
        int[] ps = t.pstart();
        int[] pk = t.pk();
        int[] acc = n > 3 ? new int[stride] : null;
        for (int yy = 0; yy < outH; yy++) {
            int o = off + yy * outStride;
            int a = (ps[yy] - rowOffset) * stride;
            // Whole rows at a time (the same integer sums as Pillow's per-pixel loop), so the loops run
            // over contiguous memory.
            if (n == 2) {
                int k0 = pk[2 * yy];
                int k1 = pk[2 * yy + 1];
                int b = a + stride;
                for (int i = 0; i < stride; i++) {
                    out[o + i] = fast8(HALF + (src[a + i] & 0xff) * k0 + (src[b + i] & 0xff) * k1);
                }
            } else if (n == 3) {
                int k0 = pk[3 * yy];
                int k1 = pk[3 * yy + 1];
                int k2 = pk[3 * yy + 2];
                int b = a + stride;
                int c = b + stride;
                for (int i = 0; i < stride; i++) {
                    out[o + i] = fast8(HALF + (src[a + i] & 0xff) * k0 + (src[b + i] & 0xff) * k1
                            + (src[c + i] & 0xff) * k2);
                }
            } else if (n == 1) {
                int k0 = pk[yy];
                for (int i = 0; i < stride; i++) {
                    out[o + i] = fast8(HALF + (src[a + i] & 0xff) * k0);
                }
            } else {
                java.util.Arrays.fill(acc, HALF);
                for (int j = 0; j < n; j++) {
                    int ky = pk[yy * n + j];
                    int r = a + j * stride;
                    for (int i = 0; i < stride; i++) {
                        acc[i] += (src[r + i] & 0xff) * ky;
                    }
                }
                for (int i = 0; i < stride; i++) {
                    out[o + i] = fast8(acc[i]);
                }
            }
        }
    }
}
