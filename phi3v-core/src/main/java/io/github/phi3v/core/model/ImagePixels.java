package io.github.phi3v.core.model;

import io.github.phi3v.image.ProcessedImage;

/**
 * One preprocessed image as the Phi-3-V image processor produces it.
 *
 * @param pixelValues {@code [numCrops + 1, 3, 336, 336]} row-major float32: global crop, then the
 *     sub-crops row-major, then zero padding crops (which are never computed)
 * @param numCrops the processor's {@code num_crops}
 * @param hdHeight height of the padded HD image ({@code image_sizes[0]}), a multiple of 336
 * @param hdWidth width of the padded HD image ({@code image_sizes[1]}), a multiple of 336
 */
public record ImagePixels(float[] pixelValues, int numCrops, int hdHeight, int hdWidth) {

    /**
     * The image processor's output as the model's input (no copy of the pixels).
     *
     * @param processed an image from {@link io.github.phi3v.image.Phi3ImageProcessor}
     * @return the same pixels
     */
    public static ImagePixels of(ProcessedImage processed) {
        return new ImagePixels(processed.pixelValues(), processed.numCrops(), processed.hdHeight(),
                processed.hdWidth());
    }
}
