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


    /** Receives the index of each finished output row, in increasing order. */
    @FunctionalInterface
    interface RowSink {
        /**
         * Called once output row {@code y} is completely written.
         *
         * @param y the output row, {@code 0 <= y < outH}
         */
        void rowDone(int y);
    }

    /**
     * Resizes interleaved RGB {@code src} ({@code w x h}) to {@code outW x outH}, writing output row
     * {@code y} to {@code dst} at {@code dstOffset + y * dstStride} (so the result can land directly
     * inside a padded canvas) and telling {@code sink} (may be null) as soon as each row is done.
     *
     * <p>Both passes run row by row: the first pass's rows live in a small ring buffer (as many rows as
     * the second pass reads at once) instead of a whole intermediate image, so they are still in the
     * cache when the second pass reads them, and the caller can consume each output row while it is
     * hot. The integer sums are exactly those of the two whole-image passes.
     *
     * @param verticalFirst false = Pillow's order (horizontal, then vertical); true = the order Pillow
     *                      uses on the transposed image
     */
    static void resize(byte[] src, int w, int h, int outW, int outH, boolean verticalFirst, byte[] dst,
            int dstOffset, int dstStride, boolean bgr, RowSink sink) {
        boolean needH = outW != w;
        boolean needV = outH != h;
        int inRow = w * 3;
        int outRow = outW * 3;
        if (!needH && !needV) {
            for (int y = 0; y < h; y++) {
                int o = dstOffset + y * dstStride;
                System.arraycopy(src, y * inRow, dst, o, inRow);
                swapRow(bgr, dst, o, outW);
                notify(sink, y);
            }
        } else if (!needH) {
            Taps tv = taps(h, outH);
            VerticalRows v = new VerticalRows(tv, inRow);
            for (int yy = 0; yy < outH; yy++) {
                int o = dstOffset + yy * dstStride;
                int a = tv.pstart()[yy] * inRow;
                for (int j = 0; j < v.off.length; j++) {
                    v.off[j] = a + j * inRow;
                }
                v.row(src, yy, dst, o);
                swapRow(bgr, dst, o, outW);
                notify(sink, yy);
            }
        } else if (!needV) {
            Taps th = taps(w, outW);
            int y = 0;
            for (; y + 1 < h; y += 2) {
                int o = dstOffset + y * dstStride;
                horizontalPair(src, y * inRow, (y + 1) * inRow, outW, th, dst, o, o + dstStride, bgr);
                notify(sink, y);
                notify(sink, y + 1);
            }
            if (y < h) {
                horizontal(src, w, y, y + 1, outW, th, dst, dstOffset + y * dstStride, dstStride, bgr);
                notify(sink, y);
            }
        } else if (verticalFirst) {
            // One intermediate row: vertical pass of the full-width source, then the horizontal pass.
            Taps tv = taps(h, outH);
            Taps th = taps(w, outW);
            VerticalRows v = new VerticalRows(tv, inRow);
            byte[] tmp = new byte[2 * inRow];
            for (int yy = 0; yy < outH; yy += 2) {
                int rows = Math.min(2, outH - yy);
                for (int i = 0; i < rows; i++) {
                    int a = tv.pstart()[yy + i] * inRow;
                    for (int j = 0; j < v.off.length; j++) {
                        v.off[j] = a + j * inRow;
                    }
                    v.row(src, yy + i, tmp, i * inRow);
                }
                int o = dstOffset + yy * dstStride;
                if (rows == 2) {
                    horizontalPair(tmp, 0, inRow, outW, th, dst, o, o + dstStride, bgr);
                    notify(sink, yy);
                    notify(sink, yy + 1);
                } else {
                    horizontal(tmp, w, 0, 1, outW, th, dst, o, dstStride, bgr);
                    notify(sink, yy);
                }
            }
        } else {
            Taps tv = taps(h, outH);
            Taps th = taps(w, outW);
            VerticalRows v = new VerticalRows(tv, outRow);
            int n = tv.n();
            // Horizontal-pass row r lives in ring slot r % m. The vertical taps of one output row cover n
            // consecutive rows; the extra slot lets rows always be computed in pairs (one row of
            // look-ahead) without overwriting a row the current window still needs.
            int m = n + 1;
            int lastRow = tv.pstart()[outH - 1] + n - 1; // last row any output row reads
            byte[] ring = new byte[m * outRow];
            int done = -1; // highest horizontal-pass row computed so far
            for (int yy = 0; yy < outH; yy++) {
                int lo = tv.pstart()[yy];
                int hi = lo + n - 1;
                while (done < hi) {
                    int r = Math.max(lo, done + 1);
                    if (r < lastRow) {
                        horizontalPair(src, r * inRow, (r + 1) * inRow, outW, th, ring, (r % m) * outRow,
                                ((r + 1) % m) * outRow, bgr);
                        done = r + 1;
                    } else {
                        horizontal(src, w, r, r + 1, outW, th, ring, (r % m) * outRow, outRow, bgr);
                        done = r;
                    }
                }
                for (int j = 0; j < n; j++) {
                    v.off[j] = ((lo + j) % m) * outRow;
                }
                v.row(ring, yy, dst, dstOffset + yy * dstStride);
                notify(sink, yy);
            }
        }
    }

    private static void notify(RowSink sink, int y) {
        if (sink != null) {
            sink.rowDone(y);
        }
    }

    private static void swapRow(boolean bgr, byte[] dst, int off, int w) {
        if (!bgr) {
            return;
        }
        for (int i = off, end = off + w * 3; i < end; i += 3) {
            byte t = dst[i];
            dst[i] = dst[i + 2];
            dst[i + 2] = t;
        }
    }

    /** {@link #resize(byte[], int, int, int, int, boolean, byte[], int, int, boolean, RowSink)} of RGB into a new array. */
    static byte[] resize(byte[] src, int w, int h, int outW, int outH, boolean verticalFirst) {
        byte[] out = new byte[outW * outH * 3];
        resize(src, w, h, outW, outH, verticalFirst, out, 0, outW * 3, false, null);
        return out;
    }

    /** {@link #HALF} in both 32-bit lanes of a {@code long}. */
    private static final long HALF2 = ((long) HALF << 32) | HALF;

    /** Two bytes (as 0..255) in the low and high 32-bit lanes of a {@code long}. */
    private static long pack(byte lo, byte hi) {
        return (lo & 0xff) | ((long) (hi & 0xff) << 32);
    }

    /**
     * Horizontal pass of two rows at once: source rows at byte offsets {@code a} and {@code b}, output
     * rows at {@code oa} and {@code ob}, the taps loaded once for both. Three taps (the usual
     * downscale) use 32-bit sums with constant store offsets; other widths put both rows in one
     * {@code long} per channel (row a in the low 32-bit lane, row b in the high one), so one 64-bit
     * multiply does the work of two. Exact: every lane holds {@code 2^21 + sum(v * k)} with
     * {@code v <= 255}, {@code k >= 0} and {@code sum(k) <= 2^22 + n / 2}, which is below {@code 2^31},
     * so no lane ever carries into the other and each lane equals the 32-bit sum of the one-row pass;
     * {@code >>> 22} / {@code >>> 54} then give the two bytes.
     */
    static void horizontalPair(byte[] src, int a, int b, int outW, Taps t, byte[] out, int oa, int ob,
            boolean swap) {
        int d0 = swap ? 2 : 0;
        int d2 = swap ? 0 : 2;
        int n = t.n();
        int[] ps = t.pstart();
        int[] pk = t.pk();
        if (n == 3) {
            // The common case; 32-bit sums with the taps shared by both rows measured faster here
            // than the packed lanes, and constant store offsets (one loop per channel order) let the
            // JIT merge the bounds checks.
            if (swap) {
                pair3Swapped(src, a, b, outW, ps, pk, out, oa, ob);
            } else {
                pair3(src, a, b, outW, ps, pk, out, oa, ob);
            }
        } else if (n == 2) {
            for (int xx = 0; xx < outW; xx++, oa += 3, ob += 3) {
                int s = ps[xx] * 3;
                int p = a + s;
                int q = b + s;
                long k0 = pk[2 * xx];
                long k1 = pk[2 * xx + 1];
                long c0 = HALF2 + pack(src[p], src[q]) * k0 + pack(src[p + 3], src[q + 3]) * k1;
                long c1 = HALF2 + pack(src[p + 1], src[q + 1]) * k0 + pack(src[p + 4], src[q + 4]) * k1;
                long c2 = HALF2 + pack(src[p + 2], src[q + 2]) * k0 + pack(src[p + 5], src[q + 5]) * k1;
                out[oa + d0] = (byte) (c0 >>> PRECISION_BITS);
                out[oa + 1] = (byte) (c1 >>> PRECISION_BITS);
                out[oa + d2] = (byte) (c2 >>> PRECISION_BITS);
                out[ob + d0] = (byte) (c0 >>> (32 + PRECISION_BITS));
                out[ob + 1] = (byte) (c1 >>> (32 + PRECISION_BITS));
                out[ob + d2] = (byte) (c2 >>> (32 + PRECISION_BITS));
            }
        } else {
            for (int xx = 0; xx < outW; xx++, oa += 3, ob += 3) {
                int s = ps[xx] * 3;
                int p = a + s;
                int q = b + s;
                long c0 = HALF2;
                long c1 = HALF2;
                long c2 = HALF2;
                for (int j = 0, kb = xx * n; j < n; j++, p += 3, q += 3) {
                    long k = pk[kb + j];
                    c0 += pack(src[p], src[q]) * k;
                    c1 += pack(src[p + 1], src[q + 1]) * k;
                    c2 += pack(src[p + 2], src[q + 2]) * k;
                }
                out[oa + d0] = (byte) (c0 >>> PRECISION_BITS);
                out[oa + 1] = (byte) (c1 >>> PRECISION_BITS);
                out[oa + d2] = (byte) (c2 >>> PRECISION_BITS);
                out[ob + d0] = (byte) (c0 >>> (32 + PRECISION_BITS));
                out[ob + 1] = (byte) (c1 >>> (32 + PRECISION_BITS));
                out[ob + d2] = (byte) (c2 >>> (32 + PRECISION_BITS));
            }
        }
    }

    /** Three-tap horizontal pass of two rows, RGB in, RGB out. */
    private static void pair3(byte[] src, int a, int b, int outW, int[] ps, int[] pk, byte[] out, int oa, int ob) {
        for (int xx = 0; xx < outW; xx++, oa += 3, ob += 3) {
            int s = ps[xx] * 3;
            int p = a + s;
            int q = b + s;
            int k0 = pk[3 * xx];
            int k1 = pk[3 * xx + 1];
            int k2 = pk[3 * xx + 2];
            out[oa] = fast8(HALF + (src[p] & 0xff) * k0 + (src[p + 3] & 0xff) * k1 + (src[p + 6] & 0xff) * k2);
            out[oa + 1] = fast8(HALF + (src[p + 1] & 0xff) * k0 + (src[p + 4] & 0xff) * k1 + (src[p + 7] & 0xff) * k2);
            out[oa + 2] = fast8(HALF + (src[p + 2] & 0xff) * k0 + (src[p + 5] & 0xff) * k1 + (src[p + 8] & 0xff) * k2);
            out[ob] = fast8(HALF + (src[q] & 0xff) * k0 + (src[q + 3] & 0xff) * k1 + (src[q + 6] & 0xff) * k2);
            out[ob + 1] = fast8(HALF + (src[q + 1] & 0xff) * k0 + (src[q + 4] & 0xff) * k1 + (src[q + 7] & 0xff) * k2);
            out[ob + 2] = fast8(HALF + (src[q + 2] & 0xff) * k0 + (src[q + 5] & 0xff) * k1 + (src[q + 8] & 0xff) * k2);
        }
    }

    /** Three-tap horizontal pass of two rows, BGR in (an adopted TYPE_3BYTE_BGR raster), RGB out. */
    private static void pair3Swapped(byte[] src, int a, int b, int outW, int[] ps, int[] pk, byte[] out, int oa,
            int ob) {
        for (int xx = 0; xx < outW; xx++, oa += 3, ob += 3) {
            int s = ps[xx] * 3;
            int p = a + s;
            int q = b + s;
            int k0 = pk[3 * xx];
            int k1 = pk[3 * xx + 1];
            int k2 = pk[3 * xx + 2];
            out[oa + 2] = fast8(HALF + (src[p] & 0xff) * k0 + (src[p + 3] & 0xff) * k1 + (src[p + 6] & 0xff) * k2);
            out[oa + 1] = fast8(HALF + (src[p + 1] & 0xff) * k0 + (src[p + 4] & 0xff) * k1 + (src[p + 7] & 0xff) * k2);
            out[oa] = fast8(HALF + (src[p + 2] & 0xff) * k0 + (src[p + 5] & 0xff) * k1 + (src[p + 8] & 0xff) * k2);
            out[ob + 2] = fast8(HALF + (src[q] & 0xff) * k0 + (src[q + 3] & 0xff) * k1 + (src[q + 6] & 0xff) * k2);
            out[ob + 1] = fast8(HALF + (src[q + 1] & 0xff) * k0 + (src[q + 4] & 0xff) * k1 + (src[q + 7] & 0xff) * k2);
            out[ob] = fast8(HALF + (src[q + 2] & 0xff) * k0 + (src[q + 5] & 0xff) * k1 + (src[q + 8] & 0xff) * k2);
        }
    }

    /**
     * Horizontal pass over rows {@code [y0, y1)} of a {@code w}-wide image; source row y goes to
     * {@code out} at {@code off + (y - y0) * stride}; with {@code swap} channels 0 and 2 trade places.
     */
    static void horizontal(byte[] src, int w, int y0, int y1, int outW, Taps t, byte[] out, int off, int stride,
            boolean swap) {
        // swap: the source is BGR (e.g. an adopted TYPE_3BYTE_BGR raster); write RGB.
        int d0 = swap ? 2 : 0;
        int d2 = swap ? 0 : 2;
        int n = t.n();
        int[] ps = t.pstart();
        int[] pk = t.pk();
        int y = y0;
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
     * The vertical pass one output row at a time: output row yy of {@code len} bytes is the tap-weighted
     * sum of the input rows starting at {@code off[0..n)} (whole rows at a time, the same integer sums as
     * Pillow's per-pixel loop, so the loops run over contiguous memory). Not thread-safe (scratch).
     */
    static final class VerticalRows {
        final int[] off;
        private final int n;
        private final int[] pk;
        private final int len;
        private final int[] acc;

        VerticalRows(Taps t, int len) {
            this.n = t.n();
            this.pk = t.pk();
            this.len = len;
            this.off = new int[n];
            this.acc = n > 3 ? new int[len] : null;
        }

        void row(byte[] src, int yy, byte[] out, int o) {
            if (n == 2) {
                int k0 = pk[2 * yy];
                int k1 = pk[2 * yy + 1];
                int a = off[0];
                int b = off[1];
                for (int i = 0; i < len; i++) {
                    out[o + i] = fast8(HALF + (src[a + i] & 0xff) * k0 + (src[b + i] & 0xff) * k1);
                }
            } else if (n == 3) {
                int k0 = pk[3 * yy];
                int k1 = pk[3 * yy + 1];
                int k2 = pk[3 * yy + 2];
                int a = off[0];
                int b = off[1];
                int c = off[2];
                for (int i = 0; i < len; i++) {
                    out[o + i] = fast8(HALF + (src[a + i] & 0xff) * k0 + (src[b + i] & 0xff) * k1
                            + (src[c + i] & 0xff) * k2);
                }
            } else if (n == 1) {
                int k0 = pk[yy];
                int a = off[0];
                for (int i = 0; i < len; i++) {
                    out[o + i] = fast8(HALF + (src[a + i] & 0xff) * k0);
                }
            } else {
                java.util.Arrays.fill(acc, HALF);
                for (int j = 0; j < n; j++) {
                    int ky = pk[yy * n + j];
                    int r = off[j];
                    for (int i = 0; i < len; i++) {
                        acc[i] += (src[r + i] & 0xff) * ky;
                    }
                }
                for (int i = 0; i < len; i++) {
                    out[o + i] = fast8(acc[i]);
                }
            }
        }
    }
}
