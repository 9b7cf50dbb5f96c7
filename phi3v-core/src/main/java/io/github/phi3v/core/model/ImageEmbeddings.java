package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Tensor;

import io.github.phi3v.core.runtime.Tensors;

/**
 * The projected embeddings of one image, {@code [tokens, hidden]} in the model's dtype on its device,
 * ready to be placed at the image's placeholder ids. Made by {@link Phi3VModel#encodeImage}; owns native
 * memory until {@link #close()}. Immutable and safe to share between threads (e.g. an encoder cache);
 * close it only when no forward call uses it any more.
 */
public final class ImageEmbeddings implements AutoCloseable {

    final Phi3VModel owner;
    private final Tensor embeddings;
    private final int hdHeight;
    private final int hdWidth;
    private final int tokenCount;
    private volatile boolean closed;

    ImageEmbeddings(Phi3VModel owner, Tensor embeddings, int hdHeight, int hdWidth) {
        this.owner = owner;
        this.embeddings = embeddings;
        this.hdHeight = hdHeight;
        this.hdWidth = hdWidth;
        this.tokenCount = Math.toIntExact(embeddings.size(0));
    }

    /**
     * Number of placeholder tokens this image fills.
     *
     * @return the rows of the embeddings, equal to {@link Phi3VModel#imageTokenCount(int, int)}
     */
    public int tokenCount() {
        return tokenCount;
    }

    /**
     * Height of the padded HD image the embeddings were computed from.
     *
     * @return height in pixels, a multiple of the CLIP image size
     */
    public int hdHeight() {
        return hdHeight;
    }

    /**
     * Width of the padded HD image the embeddings were computed from.
     *
     * @return width in pixels, a multiple of the CLIP image size
     */
    public int hdWidth() {
        return hdWidth;
    }

    /**
     * A float32 copy of the embeddings.
     *
     * @return a new array, row-major {@code [tokenCount, hidden]}
     * @throws IllegalStateException if these embeddings are closed
     */
    public float[] toFloatArray() {
        return Tensors.toFloats(tensor());
    }

    /**
     * Native bytes of the embeddings.
     *
     * @return {@code tokenCount x hidden x} the element size
     */
    public long sizeInBytes() {
        return embeddings.nbytes();
    }

    Tensor tensor() {
        if (closed) {
            throw new IllegalStateException("these ImageEmbeddings are closed");
        }
        return embeddings;
    }

    /** Frees the native memory; idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            embeddings.close();
        }
    }
}
