package io.github.phi3v.image;

import java.util.Arrays;

/**
 * Turns the rows of the 8-bit HD image into {@code pixel_values} as they are produced, while each row
 * is still in the cache: ToTensor + normalisation through the per-channel lookup table into the
 * 336x336 sub-crops (crops 1.., row-major grid), and the horizontal step of the bicubic global view
 * (crop 0) for the rows it reads. {@link #finish()} then does the vertical step of the global view.
 *
 * <p>The float values and every float operation (and their order) are those of
 * {@link TorchBicubic#resizeNormalised}, so the output is bit-identical to normalising the whole HD
 * image first and resizing it afterwards. One instance per call (mutable scratch, not thread-safe).
 */
final class PixelValuesWriter implements PilBilinearResize.RowSink {

    private static final int CROP = HdGeometry.CROP;
    private static final int PLANE = CROP * CROP;

    private final byte[] hd;
    private final int w;
    private final int h;
    private final int cols;
    private final float[] l0;
    private final float[] l1;
    private final float[] l2;
    private final float[] pv;
    /** Normalised white (padding) value per channel. */
    private final float white0;
    private final float white1;
    private final float white2;

    private final int[] xi;
    private final float[] xw;
    private final int[] yi;
    private final float[] yw;
    private final boolean copyX;
    /**
     * Per tap of the horizontal bicubic step: where HD column {@code xi[b]} of channel 0 lives in
     * {@code pv} relative to the row's start in crop column 0 (the crops hold the normalised row).
     */
    private final int[] xoff;
    /** Per HD row: its slot in {@link #rows} if a non-copy output row of the global view reads it, else -1. */
    private final int[] rowSlot;
    /** Horizontal bicubic results of the slotted rows: [channel][slot * CROP + ox]. */
    private final float[][] rows;
    /** Per HD row: the global-view output row that is an exact copy of it, else -1. */
    private final int[] copyOf;
    /** Copy output rows whose source row is also the source of another copy row (only when upscaling). */
    private final boolean[] lateCopy;

    PixelValuesWriter(byte[] hd, HdGeometry g, float[][] lut, float[] pv) {
        this.hd = hd;
        this.w = g.hdWidth();
        this.h = g.hdHeight();
        this.cols = g.cropCols();
        this.l0 = lut[0];
        this.l1 = lut[1];
        this.l2 = lut[2];
        this.pv = pv;
        this.white0 = l0[255];
        this.white1 = l1[255];
        this.white2 = l2[255];
        TorchBicubic.Taps tx = TorchBicubic.taps(w, CROP);
        TorchBicubic.Taps ty = TorchBicubic.taps(h, CROP);
        this.xi = tx.index();
        this.xw = tx.weight();
        this.yi = ty.index();
        this.yw = ty.weight();
        this.copyX = TorchBicubic.allCopy(xw);
        this.xoff = new int[xi.length];
        for (int b = 0; b < xi.length; b++) {
            xoff[b] = (xi[b] / CROP) * 3 * PLANE + xi[b] % CROP;
        }
        this.rowSlot = new int[h];
        this.copyOf = new int[h];
        this.lateCopy = new boolean[CROP];
        Arrays.fill(rowSlot, -1);
        Arrays.fill(copyOf, -1);
        boolean[] used = new boolean[h];
        for (int oy = 0; oy < CROP; oy++) {
            if (isCopyRow(oy)) {
                int src = yi[oy * 4 + 1];
                if (copyOf[src] < 0) {
                    copyOf[src] = oy;
                } else {
                    lateCopy[oy] = true;
                }
                continue;
            }
            for (int j = 0; j < 4; j++) {
                used[yi[oy * 4 + j]] = true;
            }
        }
        int slots = 0;
        for (int y = 0; y < h; y++) {
            if (used[y]) {
                rowSlot[y] = slots++;
            }
        }
        this.rows = new float[3][slots * CROP];
    }

    /**
     * Odd integer downscale: taps (0, 1, 0, 0) on both axes; the result is exactly the source sample
     * (fma(t, 0, x) would only add a signed zero), so it is copied.
     */
    private boolean isCopyRow(int oy) {
        return copyX && TorchBicubic.isCopy(yw, oy * 4);
    }

    /** HD row {@code y} is final in {@code hd}: normalise it straight into its crops. */
    @Override
    public void rowDone(int y) {
        int base = rowBase(y);
        int p = y * w * 3;
        for (int c = 0, o = base; c < cols; c++, o += 3 * PLANE) {
            for (int x = 0; x < CROP; x++, p += 3) {
                pv[o + x] = l0[hd[p] & 0xff];
                pv[o + PLANE + x] = l1[hd[p + 1] & 0xff];
                pv[o + 2 * PLANE + x] = l2[hd[p + 2] & 0xff];
            }
        }
        global(y, base);
    }

    /** HD row {@code y} is all white (padding); its bytes must already be 255 in {@code hd}. */
    void whiteRowDone(int y) {
        int base = rowBase(y);
        for (int c = 0, o = base; c < cols; c++, o += 3 * PLANE) {
            Arrays.fill(pv, o, o + CROP, white0);
            Arrays.fill(pv, o + PLANE, o + PLANE + CROP, white1);
            Arrays.fill(pv, o + 2 * PLANE, o + 2 * PLANE + CROP, white2);
        }
        global(y, base);
    }

    /** Index of HD row {@code y}, channel 0, column 0 in {@code pv}: [crop][channel][y % 336][0]. */
    private int rowBase(int y) {
        return (1 + (y / CROP) * cols) * 3 * PLANE + (y % CROP) * CROP;
    }

    /** The global view's share of row {@code y}, read back from the crops just written (still cached). */
    private void global(int y, int base) {
        int oy = copyOf[y];
        if (oy >= 0) {
            for (int c = 0; c < 3; c++) {
                int src = base + c * PLANE;
                int o = c * PLANE + oy * CROP;
                for (int ox = 0; ox < CROP; ox++) {
                    pv[o + ox] = pv[src + xoff[ox * 4 + 1]];
                }
            }
        }
        int slot = rowSlot[y];
        if (slot >= 0) {
            for (int c = 0; c < 3; c++) {
                float[] out = rows[c];
                int src = base + c * PLANE;
                int o = slot * CROP;
                for (int ox = 0; ox < CROP; ox++) {
                    int b = ox * 4;
                    out[o + ox] = TorchBicubic.combine(pv[src + xoff[b]], pv[src + xoff[b + 1]],
                            pv[src + xoff[b + 2]], pv[src + xoff[b + 3]], xw[b], xw[b + 1], xw[b + 2], xw[b + 3]);
                }
            }
        }
    }

    /** Vertical step of the global view, once every HD row has been consumed. */
    void finish() {
        float[][] lut = {l0, l1, l2};
        for (int c = 0; c < 3; c++) {
            float[] r = rows[c];
            int plane = c * PLANE;
            for (int oy = 0; oy < CROP; oy++) {
                int o = plane + oy * CROP;
                if (isCopyRow(oy)) {
                    if (lateCopy[oy]) {
                        int src = yi[oy * 4 + 1] * w * 3 + c;
                        for (int ox = 0; ox < CROP; ox++) {
                            pv[o + ox] = lut[c][hd[src + xi[ox * 4 + 1] * 3] & 0xff];
                        }
                    }
                    continue;
                }
                int b = oy * 4;
                int r0 = rowSlot[yi[b]] * CROP;
                int r1 = rowSlot[yi[b + 1]] * CROP;
                int r2 = rowSlot[yi[b + 2]] * CROP;
                int r3 = rowSlot[yi[b + 3]] * CROP;
                float w0 = yw[b];
                float w1 = yw[b + 1];
                float w2 = yw[b + 2];
                float w3 = yw[b + 3];
                for (int ox = 0; ox < CROP; ox++) {
                    pv[o + ox] = TorchBicubic.combine(r[r0 + ox], r[r1 + ox], r[r2 + ox], r[r3 + ox],
                            w0, w1, w2, w3);
                }
            }
        }
    }
}
