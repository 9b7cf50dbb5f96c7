package io.github.phi3v.core.model;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import io.github.phi3v.core.runtime.NativeDecodeOps;
import io.github.phi3v.core.runtime.Tensors;

/**
 * The three parameterised building blocks shared by the vision tower and the decoder. Their tensors
 * are owned by the {@link WeightLoader} that created them and freed when the model closes; the
 * methods allocate only into the caller's {@code InferenceScope}.
 */
final class Modules {

    private Modules() {
    }

    /**
     * {@code nn.Linear}: weight kept in its {@code [out, in]} layout and applied with {@code linear}.
     * Not final: {@link Int8Linear} and {@link Int4Linear} replace {@link #apply} for quantized weights.
     */
    static class Linear {
        /** Rows per GEMM of a large {@link #apply}. */
        static final long ROW_BLOCK = 512;

        final Tensor weight;
        private final TensorOptional bias;

        Linear(Tensor weight, TensorOptional bias) {
            this.weight = weight;
            this.bias = bias;
        }

        static Linear load(WeightLoader w, String prefix, boolean withBias) {
            Tensor weight = w.load(prefix + "weight");
            return new Linear(weight, withBias ? w.own(new TensorOptional(w.load(prefix + "bias"))) : null);
        }

        /** {@code [..., in] -> [..., out]}. */
        Tensor apply(Tensor x) {
            return product(x, weight, bias);
        }

        /**
         * The layer to use for calls on {@code rows} input rows: this one, or for a quantized layer whose
         * kernel is slow on many rows a plain layer of its dequantized weight, made once so that several
         * calls (the row blocks of one prefill) share it.
         *
         * @param rows input rows per call
         * @return this, or a layer whose tensors belong to the caller's scope
         */
        Linear forRows(long rows) {
            return this;
        }

        /**
         * {@code x weight^T (+ bias)} as this class computes it for any weight, with the kernel choices below;
         * also the prefill path of {@link Int4Linear} and {@link Int8Linear} on their dequantized weights.
         *
         * @param x {@code [..., in]}
         * @param weight {@code [out, in]}
         * @param bias {@code [out]} or null
         * @return {@code [..., out]} in the caller's scope
         */
        static Tensor product(Tensor x, Tensor weight, TensorOptional bias) {
            if (bias == null && x.dim() == 2 && x.size(0) == 1 && Tensors.dtype(x) == ScalarType.Float
                    && Tensors.dtype(weight) == ScalarType.Float && !x.is_cuda()) {
                // One float32 row (decode): libtorch's linear goes through a single-threaded sgemm here
                // (~8 GB/s); mv streams the weight at ~30 GB/s.
                return torch.mv(weight, x.view(x.size(1))).view(1, weight.size(0));
            }
            if (x.dim() == 2 && x.size(0) > ROW_BLOCK && !x.is_cuda()) {
                return rowBlocks(x, weight, bias);
            }
            return bias == null ? torch.linear(x, weight) : torch.linear(x, weight, bias);
        }

        /**
         * A prefill-sized {@code linear} as GEMMs of {@link #ROW_BLOCK} rows into one output: libtorch's bf16
         * GEMM here runs ~800 GFLOP/s for 512-row blocks but 510-650 for 779 or 1943 rows at once (same
         * run). Each output row is the same dot products either way.
         */
        private static Tensor rowBlocks(Tensor x, Tensor weight, TensorOptional bias) {
            long n = x.size(0);
            Tensor out = Tensors.empty(Tensors.dtype(x), n, weight.size(0));                 // [n, out]
            for (long r = 0; r < n; r += ROW_BLOCK) {
                long len = Math.min(ROW_BLOCK, n - r);
                Tensor rows = out.narrow(0, r, len);                                      // contiguous block
                if (bias == null) {
                    torch.linear_out(rows, x.narrow(0, r, len), weight);
                } else {
                    torch.linear_out(rows, x.narrow(0, r, len), weight, bias);
                }
            }
            return out;
        }
    }

    /** {@code nn.LayerNorm} over the last dimension, with weight and bias (CLIP). */
    static final class LayerNorm {
        private final long[] shape;
        private final TensorOptional weight;
        private final TensorOptional bias;
        private final double eps;

        LayerNorm(WeightLoader w, String prefix, long size, double eps) {
            this.shape = new long[] {size};
            this.weight = w.own(new TensorOptional(w.load(prefix + "weight")));
            this.bias = w.own(new TensorOptional(w.load(prefix + "bias")));
            this.eps = eps;
        }

        Tensor apply(Tensor x) {
            return torch.layer_norm(x, shape, weight, bias, eps, false);
        }
    }

    /**
     * Phi-3 RMSNorm, computed in float32 whatever the model dtype, exactly as the official
     * {@code Phi3RMSNorm}: {@code weight * (x * rsqrt(mean(x²) + eps)).to(input dtype)}.
     */
    static final class RmsNorm {
        private final Tensor weight;
        private final long[] lastDim;                 // {hidden}: rms_norm's normalized_shape
        private final TensorOptional noWeight;
        private final DoubleOptional eps;
        private final float epsFloat;
        /**
         * A bf16 weight on the CPU with {@link NativeDecodeOps} available: float32 rows are normed by the native
         * op, one call with libtorch's bits instead of four kernels.
         */
        private final boolean nativeRows;

        RmsNorm(WeightLoader w, String name, double eps) {
            this.weight = w.load(name);
            this.lastDim = new long[] {weight.size(0)};
            this.noWeight = w.own(new TensorOptional());
            this.eps = w.own(new DoubleOptional(eps));
            this.epsFloat = (float) eps;
            this.nativeRows = w.device().is_cpu() && Tensors.dtype(weight) == ScalarType.BFloat16
                    && NativeDecodeOps.available();
        }

        /** The residual stream after a sublayer ({@code sum}) and its norm ({@code normed}, in the model dtype). */
        record Residual(Tensor sum, Tensor normed) {
        }

        /**
         * {@code weight * normalized(x).to(weight dtype)}: the official formula, where the input dtype is
         * the model dtype; here the input may be the float32 residual stream, and the result is always in
         * the model dtype, ready for the next {@code linear}.
         */
        Tensor apply(Tensor x) {
            if (takesNative(x)) {
                Tensor out = like(x, ScalarType.BFloat16);
                NativeDecodeOps.rmsNorm(x, weight, epsFloat, out);
                return out;
            }
            ScalarType modelType = Tensors.dtype(weight);
            Tensor normed = normalized(x);
            return torch.mul(weight, modelType == ScalarType.Float ? normed : normed.to(modelType));
        }

        /**
         * {@code x + delta} and {@link #apply} of it: the residual add before this norm, fused into one native
         * call where {@link #apply} is native and {@code delta} is a contiguous bf16 output of a linear.
         *
         * @param x {@code [n, hidden]} residual stream
         * @param delta {@code [n, hidden]} what the sublayer adds
         */
        Residual addAndApply(Tensor x, Tensor delta) {
            if (takesNative(x) && Tensors.dtype(delta) == ScalarType.BFloat16 && delta.is_contiguous()) {
                Tensor sum = like(x, ScalarType.Float);
                Tensor out = like(x, ScalarType.BFloat16);
                NativeDecodeOps.addRmsNorm(x, delta, weight, epsFloat, sum, out);
                return new Residual(sum, out);
            }
            Tensor sum = torch.add(x, delta);
            return new Residual(sum, apply(sum));
        }

        private boolean takesNative(Tensor x) {
            return nativeRows && x.dim() == 2 && Tensors.dtype(x) == ScalarType.Float && x.is_contiguous();
        }

        /** A new uninitialised tensor of {@code x}'s shape. */
        private static Tensor like(Tensor x, ScalarType dtype) {
            return Tensors.empty(dtype, x.size(0), x.size(1));
        }

        /** Like {@link #apply} but never rounds to a 16-bit dtype: the result is float32. */
        Tensor applyFloat32(Tensor x) {
            return torch.mul(weight.to(ScalarType.Float), normalized(x));
        }

        /**
         * {@code x * rsqrt(mean(x²) + eps)} in float32 through libtorch's {@code rms_norm} without a weight:
         * on a float32 input it is that formula with the same kernels (pow, mean, add, rsqrt, mul), so the same
         * bits, in one call instead of five (each call costs ~10 µs here, 64 norms per decode step).
         */
        private Tensor normalized(Tensor x) {
            Tensor xf = Tensors.dtype(x) == ScalarType.Float ? x : x.to(ScalarType.Float);
            return torch.rms_norm(xf, lastDim, noWeight, eps);
        }
    }
}
