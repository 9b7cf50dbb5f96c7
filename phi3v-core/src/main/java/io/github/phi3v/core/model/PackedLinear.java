package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.AtenOps;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.Tensors;

/**
 * A bias-free linear layer that also keeps its weight in oneDNN's blocked layout ("packed", {@link
 * AtenOps#reorderLinearWeight}) and runs calls of a few rows — the steps of a batched decode — on it with
 * {@code mkldnn_linear}. Calls of more rows (prefill) run on the dense weight as {@link Modules.Linear} does.
 *
 * <p>Why: libtorch hands oneDNN the weight in its dense layout, which oneDNN's kernels must bring into
 * their own layout on every call, and ATen's faster GEMV serves one row only; so a decode step of 2-8 rows
 * cost far more than one row's. With the layout made once at load, 1-8 rows cost about what one row costs
 * (measured in docs/benchmarks.md, "Packed decode weights"). The price is memory: each packed layer holds
 * its weight twice (dense for prefill, packed for decode).
 *
 * <p>Each row's result does not depend on the other rows of the call, and float32 calls are cut into calls of
 * at most {@link #FLOAT32_ROWS_PER_CALL} rows, all on the kernel one row takes (see there). A bf16 row decoded
 * in a batch (packed) and alone (ATen's GEMV) differs only in summation order, as without packing (tests:
 * {@code PackedDecodeWeightsTest}).
 */
final class PackedLinear extends Modules.Linear {

    /** Most rows per call that run on the packed weight; larger calls (prefill) run on the dense one. */
    static final long MAX_ROWS = 16;

    /**
     * Most rows per oneDNN call on a float32 packed weight (the float32 lm_head): oneDNN switches its
     * float32 kernel at 7 rows, to one that took 46-52 ms here for 7-16 rows against 8-12 ms for 1-6 rows
     * ({@code PackedLinearProbe}); the calls of at most 6 rows also keep every row on the kernel a single row
     * takes, so a row's logits are bit for bit those it gets decoded alone.
     */
    static final long FLOAT32_ROWS_PER_CALL = 6;

    private final Tensor packed;

    private PackedLinear(Tensor weight, Tensor packed) {
        super(weight, null);
        this.packed = packed;
    }

    /**
     * Loads the named {@code [out, in]} weight in {@code type} and packs it; both tensors belong to the loader.
     *
     * @param w the loader (CPU)
     * @param name the weight's checkpoint name
     * @param type bf16 for decoder linears, float32 for the float32 lm_head
     * @return the layer
     */
    static PackedLinear load(WeightLoader w, String name, ScalarType type) {
        Tensor weight = w.load(name, type);
        try (InferenceScope scope = InferenceScope.open()) {
            PackedLinear layer = pack(weight);
            w.own(scope.keep(layer.packed));
            return layer;
        }
    }

    /**
     * A layer of {@code weight} and its packed copy, made in the caller's scope (probes; {@link #load} for models).
     *
     * @param weight {@code [out, in]} float32 or bf16, contiguous; stays the caller's
     * @return the layer
     */
    static PackedLinear pack(Tensor weight) {
        return new PackedLinear(weight, AtenOps.reorderLinearWeight(weight));
    }

    /**
     * One oneDNN call on the packed weight, whatever the rows (probes: {@link #apply} cuts float32 calls).
     *
     * @param x {@code [rows, in]}
     * @return {@code [rows, out]}
     */
    Tensor applyPacked(Tensor x) {
        return onPacked(x);
    }

    /**
     * {@code [rows, in] -> [rows, out]}; other shapes, calls of more than {@link #MAX_ROWS} rows, and one bf16 row
     * (ATen's GEMV on the dense weight is faster there: 26.9 against 29.7 ms in {@code PackedLinearProbe}) run dense.
     */
    @Override
    Tensor apply(Tensor x) {
        if (x.dim() != 2 || x.size(0) > MAX_ROWS || (x.size(0) == 1 && Tensors.dtype(packed) != ScalarType.Float)) {
            return super.apply(x);
        }
        long rows = x.size(0);
        if (Tensors.dtype(packed) != ScalarType.Float || rows <= FLOAT32_ROWS_PER_CALL) {
            return onPacked(x);
        }
        TensorVector parts = new TensorVector();
        for (long r = 0; r < rows; r += FLOAT32_ROWS_PER_CALL) {
            parts.push_back(onPacked(x.narrow(0, r, Math.min(FLOAT32_ROWS_PER_CALL, rows - r))));   // [<=6, out]
        }
        return torch.cat(parts, 0);                                                        // [rows, out]
    }

    /** oneDNN inputs and outputs are opaque tensors: convert in, multiply, convert out ({@code [n, out]}). */
    private Tensor onPacked(Tensor x) {
        return torch.mkldnn_linear(x.contiguous().to_mkldnn(), packed).to_dense();
    }
}
