package io.github.phi3v.image;

/**
 * PyTorch's {@code F.interpolate(x, size, mode="bicubic", align_corners=False)} (no antialias) on a
 * float32 image, as the CPU kernel {@code upsample_bicubic2d} computes it:
 *
 * <ul>
 *   <li>scale = {@code (float) in / out}; source coordinate {@code scale * (i + 0.5) - 0.5} (not
 *       clamped); taps at {@code floor - 1 .. floor + 2}, indices clamped to the image;</li>
 *   <li>Keys cubic convolution with {@code A = -0.75}, weights in float32;</li>
 *   <li>per output value, for each of the 4 source rows the 4 horizontal taps are combined, then the
 *       4 row results; each combination is {@code t0*w0 + t1*w1 + t2*w2 + t3*w3} rounded the way the
 *       reference libtorch build evaluates it, i.e. as a compiler contracting the expression into
 *       fused multiply-adds does: {@code fma(t3, w3, fma(t2, w2, fma(t0, w0, t1 * w1)))}. Found by
 *       testing candidate orders against the golden global crops: this one matches every value bit for
 *       bit, a plain left-to-right float sum differs by 1-2 ulp for even downscale factors (odd factors
 *       are exact subsamples either way).</li>
 * </ul>
 *
 * <p>The HD image is always a multiple of 336 on both sides, so the factors are integers and the
 * weights are exact ({@code (0, 1, 0, 0)} or {@code (-0.09375, 0.59375, 0.59375, -0.09375)}); other
 * sizes are supported but were not checked against PyTorch.
 *
 * <p>Used for the global 336x336 view, computed on the NORMALISED HD image. The processor does it row
 * by row while the HD image is produced ({@link PixelValuesWriter}, with {@link #taps}, {@link #isCopy}
 * and {@link #combine} from here); {@link #resizeNormalised} is the same computation over a whole HD
 * image, kept as the plain reference form.
 */
final class TorchBicubic {

    private static final float A = -0.75f;

    private TorchBicubic() {
    }

    /** Tap indices (clamped) and float32 weights, 4 per output position. */
    record Taps(int[] index, float[] weight) {
    }

    static Taps taps(int inSize, int outSize) {
        float scale = (float) inSize / outSize;
        int[] index = new int[outSize * 4];
        float[] weight = new float[outSize * 4];
        for (int i = 0; i < outSize; i++) {
            // area_pixel_compute_source_index: evaluated in double, stored as float.
            float real = (float) (scale * (i + 0.5) - 0.5);
            int in = (int) Math.floor(real);
            float t = real - in;
            float x2 = (float) (1.0 - t);
            weight[i * 4] = conv2((float) (t + 1.0));
            weight[i * 4 + 1] = conv1(t);
            weight[i * 4 + 2] = conv1(x2);
            weight[i * 4 + 3] = conv2((float) (x2 + 1.0));
            for (int j = 0; j < 4; j++) {
                index[i * 4 + j] = Math.max(Math.min(in - 1 + j, inSize - 1), 0);
            }
        }
        return new Taps(index, weight);
    }

    private static float conv1(float x) {
        return ((A + 2) * x - (A + 3)) * x * x + 1;
    }

    private static float conv2(float x) {
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    }

    /**
     * Bicubic resize of the normalised image {@code lut[c][hd[(y * w + x) * 3 + c]]} to
     * {@code outH x outW}, written planar ({@code [3][outH][outW]}) into {@code out} at {@code offset}.
     */
    static void resizeNormalised(byte[] hd, int w, int h, float[][] lut, int outW, int outH, float[] out,
            int offset) {
        Taps tx = taps(w, outW);
        Taps ty = taps(h, outH);
        int[] xi = tx.index();
        float[] xw = tx.weight();
        int[] yi = ty.index();
        float[] yw = ty.weight();
        float[] rows = new float[h * outW]; // horizontal results per source row
        boolean[] used = new boolean[h];
        boolean copyX = allCopy(xw);
        for (int oy = 0; oy < outH; oy++) {
            if (copyX && isCopy(yw, oy * 4)) {
                continue; // served directly from the source, see below
            }
            for (int j = 0; j < 4; j++) {
                used[yi[oy * 4 + j]] = true;
            }
        }
        for (int c = 0; c < 3; c++) {
            float[] l = lut[c];
            for (int y = 0; y < h; y++) {
                if (!used[y]) {
                    continue;
                }
                int row = y * w * 3 + c;
                int r = y * outW;
                for (int ox = 0; ox < outW; ox++) {
                    int b = ox * 4;
                    rows[r + ox] = combine(l[hd[row + xi[b] * 3] & 0xff], l[hd[row + xi[b + 1] * 3] & 0xff],
                            l[hd[row + xi[b + 2] * 3] & 0xff], l[hd[row + xi[b + 3] * 3] & 0xff],
                            xw[b], xw[b + 1], xw[b + 2], xw[b + 3]);
                }
            }
            int plane = offset + c * outH * outW;
            for (int oy = 0; oy < outH; oy++) {
                if (copyX && isCopy(yw, oy * 4)) {
                    // Odd integer downscale: taps (0, 1, 0, 0) on both axes, the result is exactly the
                    // source sample (fma(t, 0, x) adds a signed zero only), so read it directly.
                    int src = yi[oy * 4 + 1] * w * 3 + c;
                    int o = plane + oy * outW;
                    for (int ox = 0; ox < outW; ox++) {
                        out[o + ox] = l[hd[src + xi[ox * 4 + 1] * 3] & 0xff];
                    }
                    continue;
                }
                int b = oy * 4;
                int r0 = yi[b] * outW;
                int r1 = yi[b + 1] * outW;
                int r2 = yi[b + 2] * outW;
                int r3 = yi[b + 3] * outW;
                float w0 = yw[b];
                float w1 = yw[b + 1];
                float w2 = yw[b + 2];
                float w3 = yw[b + 3];
                int o = plane + oy * outW;
                for (int ox = 0; ox < outW; ox++) {
                    out[o + ox] = combine(rows[r0 + ox], rows[r1 + ox], rows[r2 + ox], rows[r3 + ox],
                            w0, w1, w2, w3);
                }
            }
        }
    }

    static boolean isCopy(float[] w, int b) {
        return w[b] == 0f && w[b + 1] == 1f && w[b + 2] == 0f && w[b + 3] == 0f;
    }

    static boolean allCopy(float[] w) {
        for (int b = 0; b < w.length; b += 4) {
            if (!isCopy(w, b)) {
                return false;
            }
        }
        return true;
    }

    /** {@code t0*w0 + t1*w1 + t2*w2 + t3*w3} as GCC contracts it into fused multiply-adds. */
    static float combine(float t0, float t1, float t2, float t3, float w0, float w1, float w2, float w3) {
        return Math.fma(t3, w3, Math.fma(t2, w2, Math.fma(t0, w0, t1 * w1)));
    }
}
