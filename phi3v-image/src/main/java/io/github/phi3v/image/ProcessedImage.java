package io.github.phi3v.image;

import java.awt.image.BufferedImage;
import java.nio.FloatBuffer;

/**
 * The model input for one image, as the official {@code Phi3VImageProcessor.preprocess} returns it:
 * {@code pixel_values[i]} ({@code [numCrops + 1, 3, 336, 336]}, float32, C order), the
 * {@code image_sizes[i]} entry ({@link #hdHeight()}, {@link #hdWidth()}) and {@code num_img_tokens[i]}.
 *
 * <p>Crop 0 is the global 336x336 view, crops {@code 1 .. realCrops() - 1} are the HD sub-crops in
 * row-major order, and the remaining crops up to {@code numCrops} are all zeros (the official
 * padding; {@link #realCrops()} lets later stages skip them).
 *
 * <p>Instances are effectively immutable and safe to share between threads, provided nobody writes
 * into the array returned by {@link #pixelValues()}: it is handed out without copying because it is
 * large (23 MB at {@code numCrops} 16).
 */
public final class ProcessedImage {

    private final float[] pixelValues;
    private final HdGeometry geometry;
    private final byte[] hdRgb;

    ProcessedImage(float[] pixelValues, HdGeometry geometry, byte[] hdRgb) {
        this.pixelValues = pixelValues;
        this.geometry = geometry;
        this.hdRgb = hdRgb;
    }

    /**
     * The pixel values, {@code [numCrops + 1, 3, 336, 336]} in C order. This is the instance's own
     * array (not a copy): do not modify it. Use {@link #pixelBuffer()} for a read-only view.
     *
     * @return the backing array of {@code (numCrops + 1) * 3 * 336 * 336} floats
     */
    public float[] pixelValues() {
        return pixelValues;
    }

    /**
     * A read-only view of {@link #pixelValues()}.
     *
     * @return a read-only buffer positioned at 0
     */
    public FloatBuffer pixelBuffer() {
        return FloatBuffer.wrap(pixelValues).asReadOnlyBuffer();
    }

    /**
     * Shape of {@link #pixelValues()}.
     *
     * @return {@code {numCrops + 1, 3, 336, 336}}
     */
    public long[] shape() {
        return new long[] {numCrops() + 1, 3, HdGeometry.CROP, HdGeometry.CROP};
    }

    /**
     * The {@code num_crops} this image was processed with.
     *
     * @return the crop budget; {@link #pixelValues()} holds {@code numCrops + 1} crops
     */
    public int numCrops() {
        return geometry.numCrops();
    }

    /**
     * Height of the padded HD image ({@code image_sizes[i][0]}), a multiple of 336.
     *
     * @return the HD height in pixels
     */
    public int hdHeight() {
        return geometry.hdHeight();
    }

    /**
     * Width of the padded HD image ({@code image_sizes[i][1]}), a multiple of 336.
     *
     * @return the HD width in pixels
     */
    public int hdWidth() {
        return geometry.hdWidth();
    }

    /**
     * Number of image placeholder tokens ({@code num_img_tokens[i]}).
     *
     * @return {@code (h/336 * w/336 + 1) * 144 + 1 + (h/336 + 1) * 12}
     */
    public int numImageTokens() {
        return geometry.numImageTokens();
    }

    /**
     * Crops with content: the global view plus the sub-crops; the rest is zero padding.
     *
     * @return {@code 1 + (hdHeight / 336) * (hdWidth / 336)}
     */
    public int realCrops() {
        return geometry.realCrops();
    }

    /**
     * The full HD geometry (resize size, padding, crop grid).
     *
     * @return the geometry this image was processed with
     */
    public HdGeometry geometry() {
        return geometry;
    }

    /**
     * The 8-bit HD image (resized, padded, original orientation) before normalisation, interleaved
     * RGB; bit-identical to what the official code feeds to {@code ToTensor}. For tests and debugging.
     *
     * @return a copy, {@code hdWidth * hdHeight * 3} bytes
     */
    public byte[] hdRgb() {
        return hdRgb.clone();
    }

    /**
     * The 8-bit HD image as an {@link RgbImage}.
     *
     * @return a copy of the HD image
     */
    public RgbImage hdImage() {
        return RgbImage.of(hdWidth(), hdHeight(), hdRgb);
    }

    /**
     * The 8-bit HD image as a {@link BufferedImage}, e.g. to save it with {@code ImageIO.write}.
     *
     * @return a fresh {@code TYPE_3BYTE_BGR} image
     */
    public BufferedImage hdBufferedImage() {
        return hdImage().toBufferedImage();
    }

    @Override
    public String toString() {
        return "ProcessedImage[numCrops=" + numCrops() + ", imageSizes=(" + hdHeight() + ", " + hdWidth()
                + "), realCrops=" + realCrops() + ", numImageTokens=" + numImageTokens() + "]";
    }
}
