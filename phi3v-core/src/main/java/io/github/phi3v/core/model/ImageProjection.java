package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import io.github.phi3v.core.model.Modules.Linear;

/** {@code img_projection}: Linear(4C → hidden), exact (erf) GELU, Linear(hidden → hidden). */
final class ImageProjection {

    private final Linear first;
    private final Linear second;

    ImageProjection(WeightLoader w) {
        this.first = Linear.load(w, WeightNames.IMG_PROJECTION_0, true);
        this.second = Linear.load(w, WeightNames.IMG_PROJECTION_2, true);
    }

    /** {@code [tokens, 4C] -> [tokens, hidden]}. */
    Tensor apply(Tensor merged) {
        return second.apply(torch.gelu(first.apply(merged)));  // gelu() default approximate="none" = erf
    }
}
