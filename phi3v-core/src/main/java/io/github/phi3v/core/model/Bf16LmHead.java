package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.Tensors;

/**
 * The CPU {@code lm_head} of a bf16 model: float32 logits from the bf16 weight as the checkpoint stores it,
 * through {@link NativeKernels#bf16WeightMm} on every thread. Each bf16 value is exact in float32, so the
 * products are those of the float32 copy the model kept before; only the order of the sums differs (~1e-7
 * of each logit). Half the memory of that copy (197 MB for Phi-3), and faster at every row count measured
 * (1 to 256 rows: the kernel keeps a block of weight rows in the cache for all input rows, so the weight is
 * read from memory once per call; {@code LmHeadProbe}).
 */
final class Bf16LmHead extends Modules.Linear {

    /**
     * @param weight {@code [vocab, hidden]} bf16, contiguous, hidden a multiple of 16 (see {@link #supports})
     */
    Bf16LmHead(Tensor weight) {
        super(weight, null);
    }

    /**
     * Whether the native lm_head runs for this model: a bf16 weight whose rows are a multiple of 16 wide,
     * on a machine where the native kernels load.
     *
     * @param hidden the weight's row width
     * @return true if {@link Bf16LmHead} may be used
     */
    static boolean supports(long hidden) {
        return NativeKernels.multipliesBf16Rows(hidden) && NativeKernels.available();
    }

    /** {@code [n, hidden] -> [n, vocab]} float32 logits, in the caller's scope. */
    @Override
    Tensor apply(Tensor x) {
        Tensor xf = (Tensors.dtype(x) == ScalarType.Float ? x : x.to(ScalarType.Float)).contiguous();   // [n, hidden]
        Tensor out = Tensors.empty(ScalarType.Float, xf.size(0), weight.size(0));            // [n, vocab]
        NativeKernels.bf16WeightMm(xf, weight, out);
        return out;
    }
}
