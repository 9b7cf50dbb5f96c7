package io.github.phi3v.image;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;

/**
 * An immutable 8-bit RGB image, pixels interleaved {@code R, G, B} row by row (the layout of a PIL
 * {@code "RGB"} image and of numpy's {@code np.asarray(img)}).
 *
 * <p>This is what {@link ImageLoader} produces and what {@link Phi3ImageProcessor} consumes; it is
 * the equivalent of the PIL image after {@code convert("RGB")}.
 */
public final class RgbImage {

    private final int width;
    private final int height;
    private final byte[] rgb;
    /**
     * Internal storage order: true when {@link #rgb} holds B, G, R (a decoded TYPE_3BYTE_BGR raster adopted
     * without a conversion pass); every accessor still presents R, G, B.
     */
    private final boolean bgr;

    private RgbImage(int width, int height, byte[] rgb, boolean bgr) {
        this.width = width;
        this.height = height;
        this.rgb = rgb;
        this.bgr = bgr;
    }

    /**
     * Wraps a copy of interleaved RGB bytes.
     *
     * @param width  width in pixels, at least 1
     * @param height height in pixels, at least 1
     * @param rgb    {@code width * height * 3} bytes, row-major, {@code R, G, B} per pixel (copied)
     * @return the image
     * @throws ImageProcessingException ({@link ImageProcessingException.Reason#ZERO_SIZE}) if a side is 0
     * @throws IllegalArgumentException if the array length does not match the size
     */
    public static RgbImage of(int width, int height, byte[] rgb) {
        checkSize(width, height, rgb.length);
        return new RgbImage(width, height, rgb.clone(), false);
    }

    /** Takes ownership of {@code rgb} without copying; for this package's decoders only. */
    static RgbImage wrap(int width, int height, byte[] rgb) {
        checkSize(width, height, rgb.length);
        return new RgbImage(width, height, rgb, false);
    }

    /** Takes ownership of interleaved B, G, R bytes without copying; for this package's decoders only. */
    static RgbImage wrapBgr(int width, int height, byte[] bgr) {
        checkSize(width, height, bgr.length);
        return new RgbImage(width, height, bgr, true);
    }

    private static void checkSize(int width, int height, int length) {
        if (width <= 0 || height <= 0) {
            throw new ImageProcessingException(ImageProcessingException.Reason.ZERO_SIZE,
                    "image size must be at least 1x1, found " + width + "x" + height);
        }
        long expected = (long) width * height * 3;
        if (length != expected) {
            throw new IllegalArgumentException("RGB data for " + width + "x" + height + " must have "
                    + expected + " bytes, found " + length);
        }
    }

    /**
     * Width in pixels.
     *
     * @return the width, at least 1
     */
    public int width() {
        return width;
    }

    /**
     * Height in pixels.
     *
     * @return the height, at least 1
     */
    public int height() {
        return height;
    }

    /**
     * A copy of the interleaved RGB bytes.
     *
     * @return {@code width * height * 3} bytes
     */
    public byte[] rgb() {
        byte[] out = rgb.clone();
        if (bgr) {
            for (int i = 0; i < out.length; i += 3) {
                out[i] = rgb[i + 2];
                out[i + 2] = rgb[i];
            }
        }
        return out;
    }

    /** The backing array, not copied, in the order {@link #isBgr()} says; must not be modified. */
    byte[] rgbArray() {
        return rgb;
    }

    /** True if {@link #rgbArray()} holds B, G, R instead of R, G, B. */
    boolean isBgr() {
        return bgr;
    }

    /**
     * The red, green or blue value of one pixel.
     *
     * @param x       column, {@code 0 <= x < width}
     * @param y       row, {@code 0 <= y < height}
     * @param channel 0 = red, 1 = green, 2 = blue
     * @return the value, 0..255
     */
    public int sample(int x, int y, int channel) {
        if (x < 0 || x >= width || y < 0 || y >= height || channel < 0 || channel > 2) {
            throw new IndexOutOfBoundsException("pixel (" + x + ", " + y + ") channel " + channel
                    + " outside " + width + "x" + height + "x3");
        }
        return rgb[(y * width + x) * 3 + (bgr ? 2 - channel : channel)] & 0xff;
    }

    /**
     * A new {@link BufferedImage#TYPE_3BYTE_BGR} copy, e.g. to save it with {@code ImageIO.write}.
     *
     * @return a fresh image with the same pixels
     */
    public BufferedImage toBufferedImage() {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
        byte[] out = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        if (bgr) {
            System.arraycopy(rgb, 0, out, 0, rgb.length);
        } else {
            for (int i = 0; i < rgb.length; i += 3) {
                out[i] = rgb[i + 2];
                out[i + 1] = rgb[i + 1];
                out[i + 2] = rgb[i];
            }
        }
        return img;
    }

    @Override
    public String toString() {
        return "RgbImage[" + width + "x" + height + "]";
    }
}
