package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import io.github.phi3v.core.config.ImageEmbeddingConfig;
import io.github.phi3v.image.HdGeometry;

/**
 * The HD layout of one image's CLIP features (official {@code hd_feature_transform}, order
 * "sub_glb"): every crop's {@code g×g} patch grid is 2×2-merged into {@code m×m} tokens of 4·C
 * channels (channel order dy, dx, c); the sub-crops are stitched into one
 * {@code (hc·m)×(wc·m)} grid with {@code sub_GN} after every row; then one {@code glb_GN}; then the
 * global crop's {@code m×m} grid, again with {@code sub_GN} after every row.
 */
final class HdFeatureTransform {

    private final Tensor glbGN;  // [1, 1, 4C]
    private final Tensor subGN;  // [1, 1, 1, 4C]
    private final int grid;      // g: patches per side (24)
    private final long channels; // C

    HdFeatureTransform(WeightLoader w, ImageEmbeddingConfig img) {
        this.glbGN = w.load(WeightNames.GLB_GN);
        this.subGN = w.load(WeightNames.SUB_GN);
        this.grid = img.clip().patchesPerSide();
        this.channels = img.clip().hiddenSize();
    }

    /** Number of tokens {@link #apply} yields for an {@code hc × wc} crop grid. */
    static long tokenCount(int hc, int wc, int mergedPerSide) {
        return HdGeometry.imageTokens(hc, wc, mergedPerSide);
    }

    /**
     * @param features {@code [1 + hc·wc, g·g, C]}: global crop first, then the sub-crops row-major
     * @param hc crop rows
     * @param wc crop columns
     * @return {@code [hc·m·(wc·m+1) + 1 + m·(m+1), 4C]}, the input of the image projection
     */
    Tensor apply(Tensor features, int hc, int wc) {
        Tensor global = merge2x2(features.narrow(0, 0, 1), 1, 1);        // [m, m, 4C]
        Tensor sub = merge2x2(features.narrow(0, 1, (long) hc * wc), hc, wc); // [hc*m, wc*m, 4C]
        long c4 = 4 * channels;
        return torch.cat(new TensorVector(
                withRowSeparators(sub),                                  // [hc*m*(wc*m+1), 4C]
                glbGN.view(1, c4),                                       // [1, 4C]
                withRowSeparators(global)), 0);                          // [m*(m+1), 4C]
    }

    /** {@code [hc·wc, g·g, C]} (crops row-major) → {@code [hc·m, wc·m, 4C]}. */
    private Tensor merge2x2(Tensor crops, long hc, long wc) {
        long n = crops.size(0);
        long m = grid / 2;
        long c = channels;
        return crops.reshape(n, m, 2, m, 2, c)        // [n, m, dy, m, dx, C]   (patch row = 2i+dy, col = 2j+dx)
                .permute(0, 1, 3, 2, 4, 5)            // [n, m, m, dy, dx, C]
                .reshape(hc, wc, m, m, 4 * c)         // [hc, wc, m, m, 4C]    channels ordered (dy, dx, c)
                .permute(0, 2, 1, 3, 4)               // [hc, m, wc, m, 4C]    crop row, token row, crop col, token col
                .reshape(hc * m, wc * m, 4 * c);      // [hc*m, wc*m, 4C]
    }

    /** {@code [h, w, 4C]} → {@code [h·(w+1), 4C]} with {@code sub_GN} appended to every row. */
    private Tensor withRowSeparators(Tensor grid2d) {
        long h = grid2d.size(0);
        long w = grid2d.size(1);
        long c4 = grid2d.size(2);
        Tensor separators = subGN.view(1, 1, c4).expand(h, 1, c4);      // [h, 1, 4C]
        return torch.cat(new TensorVector(grid2d, separators), 1)       // [h, w+1, 4C]
                .reshape(h * (w + 1), c4);                              // [h*(w+1), 4C]
    }
}
