package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;

/** A decoder linear with quantized weights ({@link Int8Linear}, {@link Int4Linear}). */
interface QuantizedLinear {

    /** {@code [n, in] -> [n, out]} in the layer's output dtype. */
    Tensor apply(Tensor x);

    /** The native objects the layer holds, not owned by any scope: whoever created the layer closes them. */
    List<Pointer> resources();

    /** Bytes of weights (and scales) one application to a single row streams. */
    long streamedBytes();
}
