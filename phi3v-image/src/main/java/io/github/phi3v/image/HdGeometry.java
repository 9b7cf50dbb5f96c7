package io.github.phi3v.image;

/**
 * Geometry of the Phi-3-V HD transform for one image: a pure function of the image size and
 * {@code num_crops} that never touches pixels (the official {@code HD_transform} / {@code padding_336}
 * arithmetic, reproduced including its float64 truncation).
 *
 * <p>All sizes are in the ORIGINAL orientation of the image. The official code transposes portrait
 * images, resizes and pads in that transposed frame, then transposes back; here that shows as
 * {@link #transposed()} and as left/right padding for portrait images.
 *
 * @param width         original width
 * @param height        original height
 * @param numCrops      the {@code num_crops} (HD budget) used
 * @param transposed    true when {@code width < height} (the official code works on the transpose)
 * @param ratio         long side / short side in float64, exactly as the official code computes it
 * @param scale         number of 336-pixel crops along the long side
 * @param resizedWidth  width after the bilinear resize, before padding
 * @param resizedHeight height after the bilinear resize, before padding
 * @param padTop        white rows added above
 * @param padBottom     white rows added below
 * @param padLeft       white columns added on the left
 * @param padRight      white columns added on the right
 * @param hdWidth       padded HD width (multiple of 336) = {@code image_sizes[1]}
 * @param hdHeight      padded HD height (multiple of 336) = {@code image_sizes[0]}
 */
public record HdGeometry(int width, int height, int numCrops, boolean transposed, double ratio, int scale,
        int resizedWidth, int resizedHeight, int padTop, int padBottom, int padLeft, int padRight,
        int hdWidth, int hdHeight) {

    /** Side of one crop and of the global view, in pixels. */
    public static final int CROP = 336;

    /**
     * Computes the HD geometry like the official {@code HD_transform(img, hd_num=numCrops)}.
     *
     * @param width    image width, at least 1
     * @param height   image height, at least 1
     * @param numCrops HD budget ({@code num_crops}), at least 1
     * @return the geometry
     * @throws ImageProcessingException ({@code ZERO_SIZE}) for an empty image, ({@code INVALID_GEOMETRY})
     *         when the aspect ratio is so extreme that the short side resizes to 0 pixels
     * @throws IllegalArgumentException if {@code numCrops < 1}
     */
    public static HdGeometry of(int width, int height, int numCrops) {
        if (width <= 0 || height <= 0) {
            throw new ImageProcessingException(ImageProcessingException.Reason.ZERO_SIZE,
                    "image size must be at least 1x1, found " + width + "x" + height);
        }
        if (numCrops < 1) {
            throw new IllegalArgumentException("numCrops must be >= 1, found " + numCrops);
        }
        boolean transposed = width < height;
        int w = transposed ? height : width; // long side, "width" of the transposed frame
        int h = transposed ? width : height;
        double ratio = (double) w / h;
        // Largest scale with scale * ceil(scale / ratio) <= num_crops, evaluated in float64 like numpy.
        int scale = 1;
        while (scale * Math.ceil(scale / ratio) <= numCrops) {
            scale++;
        }
        scale--;
        int newW = scale * CROP;
        // int(new_w / ratio): float64 division then truncation; can be one below floor(new_w * h / w).
        int newH = (int) (newW / ratio);
        if (newH < 1) {
            throw new ImageProcessingException(ImageProcessingException.Reason.INVALID_GEOMETRY,
                    "image " + width + "x" + height + " is too elongated for num_crops " + numCrops
                            + ": its short side would resize to " + newH + " pixels (expected >= 1)");
        }
        int target = ceilDiv(newH, CROP) * CROP;
        int padA = (target - newH) / 2; // top in the transposed frame: floor(pad / 2)
        int padB = target - newH - padA;
        if (transposed) {
            return new HdGeometry(width, height, numCrops, true, ratio, scale, newH, newW, 0, 0, padA, padB,
                    target, newW);
        }
        return new HdGeometry(width, height, numCrops, false, ratio, scale, newW, newH, padA, padB, 0, 0,
                newW, target);
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /**
     * Number of crop rows, {@code hdHeight / 336}.
     *
     * @return rows of the crop grid
     */
    public int cropRows() {
        return hdHeight / CROP;
    }

    /**
     * Number of crop columns, {@code hdWidth / 336}.
     *
     * @return columns of the crop grid
     */
    public int cropCols() {
        return hdWidth / CROP;
    }

    /**
     * Crops that carry image content: the global view plus the sub-crop grid.
     *
     * @return {@code 1 + cropRows * cropCols}
     */
    public int realCrops() {
        return 1 + cropRows() * cropCols();
    }

    /**
     * Image placeholder tokens the prompt needs for this image.
     *
     * @return {@code (rows * cols + 1) * 144 + 1 + (rows + 1) * 12}
     */
    public int numImageTokens() {
        return tokensForGrid(cropRows(), cropCols());
    }

    /** The official token formula for an {@code rows x cols} crop grid of 336-pixel crops. */
    static int tokensForGrid(int rows, int cols) {
        return Math.toIntExact(imageTokens(rows, cols, 12));
    }

    /**
     * The Phi-3-V image token formula, the one place it is written: each crop's features are merged to
     * {@code m x m} tokens; the sub-crop grid is laid out as {@code rows·m} rows of {@code cols·m} tokens,
     * each row followed by one separator ({@code sub_GN}); then one {@code glb_GN} token; then the global
     * view's {@code m} rows of {@code m} tokens plus a separator each.
     *
     * @param rows crop rows of the HD grid
     * @param cols crop columns of the HD grid
     * @param mergedPerSide {@code m}, tokens per crop side after the 2x2 merge (12 for CLIP ViT-L/14-336)
     * @return {@code (rows·cols + 1)·m² + 1 + (rows + 1)·m}
     */
    public static long imageTokens(long rows, long cols, long mergedPerSide) {
        long m = mergedPerSide;
        return (rows * cols + 1) * m * m + 1 + (rows + 1) * m;
    }
}
