package io.github.phi3v.core.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * The per-tensor rules and the file-to-tensor copy shared by {@link Checkpoint}'s two ways of handing a tensor
 * to libtorch (the zero-copy mapping and the copying read), so that both refuse the same tensors with the
 * same message.
 */
final class TensorReader {

    /** Largest tensor either path accepts: one JDK 17 buffer (mapping or read destination) spans at most this. */
    static final long MAX_TENSOR_BYTES = Integer.MAX_VALUE;

    private TensorReader() {
    }

    /**
     * Refuses a tensor of more than {@link #MAX_TENSOR_BYTES}: a {@code MappedByteBuffer} and the
     * {@code ByteBuffer} a read fills are int-indexed in JDK 17, and libtorch needs one contiguous address
     * range per tensor. No Phi-3-V tensor comes close (the largest are 197 MB in bf16, 394 MB in float32).
     * Checked before anything is allocated or mapped.
     */
    static void checkSize(TensorInfo t) {
        if (t.byteLength() > MAX_TENSOR_BYTES) {
            throw new InvalidCheckpointException(t.file(), t.name(), "expected at most " + MAX_TENSOR_BYTES
                    + " bytes per tensor (the JDK 17 mapping limit), found " + t.byteLength() + " bytes");
        }
    }

    /**
     * A new CPU tensor holding the bytes of {@code t} read from {@code ch}. Nothing is left behind when it
     * fails: the tensor is freed before the exception leaves (also when the caller has no scope).
     *
     * @throws InvalidCheckpointException if the file ends early or cannot be read; names the file and tensor
     */
    static Tensor read(FileChannel ch, TensorInfo t) {
        checkSize(t);
        Tensor out;
        try (TensorOptions opts = new TensorOptions(t.dtype().scalarType());
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            out = torch.empty(t.shape(), opts, fmt);
        }
        long length = t.byteLength();
        if (length == 0) {
            return out;
        }
        boolean done = false;
        try (BytePointer data = new BytePointer(out.data_ptr())) {
            ByteBuffer dst = data.capacity(length).asByteBuffer();   // length <= 2 GiB - 1: checked above
            while (dst.hasRemaining()) {
                int n = ch.read(dst, t.fileOffset() + dst.position());
                if (n < 0) {
                    throw new InvalidCheckpointException(t.file(), t.name(), "expected " + length + " bytes at offset "
                            + t.fileOffset() + ", found the end of the file after " + dst.position() + " of them: the "
                            + "file was truncated after the checkpoint was opened");
                }
            }
            done = true;
            return out;
        } catch (IOException e) {
            throw new InvalidCheckpointException(t.file() + ": tensor '" + t.name() + "': cannot read " + length
                    + " bytes at offset " + t.fileOffset() + ": " + e, e);
        } finally {
            if (!done) {
                // Freed here rather than left to the caller's scope: a caller without one would leak it. A
                // scope's later release of the same tensor is a no-op.
                out.close();
            }
        }
    }
}
