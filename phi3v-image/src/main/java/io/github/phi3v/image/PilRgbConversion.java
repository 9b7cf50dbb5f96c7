package io.github.phi3v.image;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.awt.image.PixelInterleavedSampleModel;
import java.awt.image.Raster;

/**
 * {@link BufferedImage} to 8-bit RGB the way PIL's {@code convert("RGB")} treats the image PIL itself
 * would have decoded from the same file. Stored sample values are used directly (no colour
 * management, no ICC profile, no gamma), because PIL ignores all of that:
 *
 * <ul>
 *   <li>greyscale: the grey value replicated to R, G and B;</li>
 *   <li>palette: the palette colour, whatever the entry's transparency;</li>
 *   <li>alpha: dropped (the stored colour is kept even where alpha is 0), or composited on white when
 *       {@link ImageLoader.AlphaMode#COMPOSITE_ON_WHITE} is asked for;</li>
 *   <li>16-bit samples: the high byte ({@code v >> 8}), as PIL's {@code RGB;16B} / {@code RGBA;16B} /
 *       {@code LA;16B} unpackers do; but 16-bit greyscale WITHOUT alpha becomes PIL mode {@code I},
 *       whose conversion to RGB clamps to 0..255 ({@code min(v, 255)}), so it is clamped here too;</li>
 *   <li>1/2/4-bit greyscale: scaled to 0..255 (PIL's {@code L;2}/{@code L;4} unpackers).</li>
 * </ul>
 *
 * <p>Other colour spaces (CMYK, YCCK, premultiplied or floating-point rasters) fall back to Java's
 * sRGB conversion ({@link BufferedImage#getRGB}), which is close to but not bit-identical with PIL.
 */
final class PilRgbConversion {

    private PilRgbConversion() {
    }

    /**
     * Converts {@code img}. With {@code adopt} (the image was decoded here and is not shared) a plain
     * B, G, R or R, G, B byte raster is taken over as is instead of being converted (a full pass saved
     * per JPEG; {@link ImageLoader} decodes JPEGs into R, G, B).
     */
    static RgbImage toRgb(BufferedImage img, ImageLoader.AlphaMode alphaMode, boolean adopt) {
        int w = img.getWidth();
        int h = img.getHeight();
        if (adopt) {
            byte[] bgr = plainInterleaved(img, BGR);
            if (bgr != null) {
                return RgbImage.wrapBgr(w, h, bgr);
            }
            byte[] rgb = plainInterleaved(img, RGB);
            if (rgb != null) {
                return RgbImage.wrap(w, h, rgb);
            }
        }
        boolean composite = alphaMode == ImageLoader.AlphaMode.COMPOSITE_ON_WHITE;
        byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 3)];
        ColorModel cm = img.getColorModel();
        Raster raster = img.getRaster();
        if (cm instanceof IndexColorModel icm) {
            fromPalette(raster, icm, composite, out);
        } else if (cm instanceof ComponentColorModel && !cm.isAlphaPremultiplied() && isRgbOrGray(cm)
                && raster.getTransferType() != DataBuffer.TYPE_FLOAT
                && raster.getTransferType() != DataBuffer.TYPE_DOUBLE) {
            if (!fromInterleavedBytes(raster, cm, composite, out)) {
                fromComponents(raster, cm, composite, out);
            }
        } else {
            fromArgb(img, composite, out);
        }
        return RgbImage.wrap(w, h, out);
    }

    private static final int[] BGR = {2, 1, 0};
    private static final int[] RGB = {0, 1, 2};

    /**
     * The data array if {@code img} is exactly tightly packed 8-bit RGB colour with the given band
     * offsets ({@link #BGR}: the TYPE_3BYTE_BGR layout; {@link #RGB}: what {@link ImageLoader} asks the
     * JPEG reader for), else null.
     */
    private static byte[] plainInterleaved(BufferedImage img, int[] bandOffsets) {
        Raster raster = img.getRaster();
        ColorModel cm = img.getColorModel();
        if (!(cm instanceof ComponentColorModel) || cm.hasAlpha() || !isRgbOrGray(cm) || cm.getNumComponents() != 3
                || cm.getComponentSize(0) != 8
                || !(raster.getSampleModel() instanceof PixelInterleavedSampleModel sm)
                || !(raster.getDataBuffer() instanceof DataBufferByte db) || db.getNumBanks() != 1
                || db.getOffset() != 0 || raster.getSampleModelTranslateX() != 0
                || raster.getSampleModelTranslateY() != 0 || sm.getPixelStride() != 3
                || sm.getScanlineStride() != 3 * img.getWidth()
                || !java.util.Arrays.equals(sm.getBandOffsets(), bandOffsets)
                || db.getData().length != 3 * img.getWidth() * img.getHeight()) {
            return null;
        }
        return db.getData();
    }

    private static boolean isRgbOrGray(ColorModel cm) {
        int type = cm.getColorSpace().getType();
        int colours = cm.getNumColorComponents();
        return (type == ColorSpace.TYPE_RGB && colours == 3) || (type == ColorSpace.TYPE_GRAY && colours == 1);
    }

    /** {@code round((c * a + 255 * (255 - a)) / 255)}: colour over white. */
    private static int onWhite(int c, int a) {
        return (c * a + 255 * (255 - a) + 127) / 255;
    }

    /** Fast path: 8-bit pixel-interleaved bytes (JPEG's BGR, PNG's ABGR/RGB/grey ...), read directly. */
    private static boolean fromInterleavedBytes(Raster raster, ColorModel cm, boolean composite, byte[] out) {
        if (!(raster.getSampleModel() instanceof PixelInterleavedSampleModel sm)
                || !(raster.getDataBuffer() instanceof DataBufferByte db) || db.getNumBanks() != 1
                || raster.getSampleModelTranslateX() != 0 || raster.getSampleModelTranslateY() != 0
                || cm.getComponentSize(0) != 8) {
            return false;
        }
        int w = raster.getWidth();
        int h = raster.getHeight();
        byte[] data = db.getData();
        int base = db.getOffset();
        int ps = sm.getPixelStride();
        int ss = sm.getScanlineStride();
        int[] bo = sm.getBandOffsets();
        boolean gray = cm.getNumColorComponents() == 1;
        int oR = bo[0];
        int oG = gray ? bo[0] : bo[1];
        int oB = gray ? bo[0] : bo[2];
        boolean alpha = cm.hasAlpha() && composite;
        int oA = cm.hasAlpha() ? bo[cm.getNumComponents() - 1] : 0;
        int o = 0;
        for (int y = 0; y < h; y++) {
            int p = base + y * ss;
            for (int x = 0; x < w; x++, p += ps, o += 3) {
                int r = data[p + oR] & 0xff;
                int g = data[p + oG] & 0xff;
                int b = data[p + oB] & 0xff;
                if (alpha) {
                    int a = data[p + oA] & 0xff;
                    r = onWhite(r, a);
                    g = onWhite(g, a);
                    b = onWhite(b, a);
                }
                out[o] = (byte) r;
                out[o + 1] = (byte) g;
                out[o + 2] = (byte) b;
            }
        }
        return true;
    }

    /** Any integer component raster (e.g. 16-bit PNG): raw samples per band, reduced to 8 bits like PIL. */
    private static void fromComponents(Raster raster, ColorModel cm, boolean composite, byte[] out) {
        int w = raster.getWidth();
        int h = raster.getHeight();
        int bands = raster.getNumBands();
        boolean gray = cm.getNumColorComponents() == 1;
        boolean hasAlpha = cm.hasAlpha();
        int bits = cm.getComponentSize(0);
        int alphaBits = hasAlpha ? cm.getComponentSize(cm.getNumComponents() - 1) : 8;
        // PIL opens 16-bit grey without alpha as mode "I"; I -> RGB clamps instead of scaling.
        boolean clampInsteadOfShift = gray && !hasAlpha && bits == 16;
        int[] row = new int[w * bands];
        int o = 0;
        for (int y = 0; y < h; y++) {
            raster.getPixels(0, y, w, 1, row);
            for (int x = 0; x < w; x++, o += 3) {
                int p = x * bands;
                int r = to8(row[p], bits, clampInsteadOfShift);
                int g = gray ? r : to8(row[p + 1], bits, false);
                int b = gray ? r : to8(row[p + 2], bits, false);
                if (hasAlpha && composite) {
                    int a = to8(row[p + bands - 1], alphaBits, false);
                    r = onWhite(r, a);
                    g = onWhite(g, a);
                    b = onWhite(b, a);
                }
                out[o] = (byte) r;
                out[o + 1] = (byte) g;
                out[o + 2] = (byte) b;
            }
        }
    }

    private static int to8(int v, int bits, boolean clamp) {
        if (bits == 8) {
            return v;
        }
        if (clamp) {
            return Math.min(v, 255);
        }
        if (bits == 16) {
            return v >>> 8;
        }
        if (bits > 8) {
            return v >>> (bits - 8);
        }
        int max = (1 << bits) - 1;
        return v * 255 / max; // 1/2/4-bit: exact multiples (e.g. 2-bit -> 0, 85, 170, 255)
    }

    /** Palette images (PNG P, GIF, 1/2/4/8-bit BMP): palette colour per index. */
    private static void fromPalette(Raster raster, IndexColorModel icm, boolean composite, byte[] out) {
        int w = raster.getWidth();
        int h = raster.getHeight();
        int n = icm.getMapSize();
        int[] argb = new int[n];
        icm.getRGBs(argb); // non-premultiplied colour map entries
        int[] row = new int[w];
        int o = 0;
        for (int y = 0; y < h; y++) {
            raster.getSamples(0, y, w, 1, 0, row);
            for (int x = 0; x < w; x++, o += 3) {
                int idx = row[x];
                int c = idx < n ? argb[idx] : 0; // PIL pads short palettes with black
                int r = (c >>> 16) & 0xff;
                int g = (c >>> 8) & 0xff;
                int b = c & 0xff;
                if (composite) {
                    int a = c >>> 24;
                    r = onWhite(r, a);
                    g = onWhite(g, a);
                    b = onWhite(b, a);
                }
                out[o] = (byte) r;
                out[o + 1] = (byte) g;
                out[o + 2] = (byte) b;
            }
        }
    }

    /** Everything else (packed int RGB, premultiplied, CMYK ...): Java's own conversion to sRGB ARGB. */
    private static void fromArgb(BufferedImage img, boolean composite, byte[] out) {
        int w = img.getWidth();
        int h = img.getHeight();
        int[] row = new int[w];
        int o = 0;
        for (int y = 0; y < h; y++) {
            img.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++, o += 3) {
                int c = row[x];
                int r = (c >>> 16) & 0xff;
                int g = (c >>> 8) & 0xff;
                int b = c & 0xff;
                if (composite && img.getColorModel().hasAlpha()) {
                    int a = c >>> 24;
                    r = onWhite(r, a);
                    g = onWhite(g, a);
                    b = onWhite(b, a);
                }
                out[o] = (byte) r;
                out[o + 1] = (byte) g;
                out[o + 2] = (byte) b;
            }
        }
    }
}
