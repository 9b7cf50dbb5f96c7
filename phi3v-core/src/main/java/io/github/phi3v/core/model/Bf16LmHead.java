package io.github.phi3v.core.model;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.Tensors;

/**
 * The CPU {@code lm_head} of a bf16 model: float32 logits from the bf16 weight as the checkpoint stores it.
 * Up to {@value #NATIVE_MAX_ROWS} rows (decode steps, a batch of them, the last positions of a prompt) run
 * {@link NativeKernels#bf16WeightMm} on every thread; each bf16 value is exact in float32, so the products
 * are those of the float32 copy the model kept before, and only the order of the sums differs (~1e-7 of
 * each logit). More rows (every position's logits, e.g. conformance runs) multiply a float32 copy made for
 * the call, as before. Half the memory of the float32 copy (197 MB for Phi-3).
 */
final class Bf16LmHead extends Modules.Linear {

    /** Rows up to which the native product runs: it reloads the weight per row block, a GEMV, not a GEMM. */
    static final long NATIVE_MAX_ROWS = 16;

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
        return hidden > 0 && hidden % 16 == 0 && NativeKernels.available();
    }

    /** {@code [n, hidden] -> [n, vocab]} float32 logits, in the caller's scope. */
    @Override
    Tensor apply(Tensor x) {
        Tensor xf = (Tensors.dtype(x) == ScalarType.Float ? x : x.to(ScalarType.Float)).contiguous();   // [n, hidden]
        if (xf.dim() != 2 || xf.size(0) > NATIVE_MAX_ROWS) {
            return product(xf, weight.to(ScalarType.Float), null);
        }
        Tensor out;
        try (TensorOptions f32 = new TensorOptions(ScalarType.Float);
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            out = torch.empty(new long[] {xf.size(0), weight.size(0)}, f32, fmt);            // [n, vocab]
        }
        NativeKernels.bf16WeightMm(xf, weight, out);
        return out;
    }
}
