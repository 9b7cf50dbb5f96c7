package io.github.phi3v.tooling.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.model.QuantizedCheckpoint;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.core.weights.DType;
import io.github.phi3v.core.weights.SafetensorsWriter;
import io.github.phi3v.core.weights.TensorInfo;

/**
 * A pre-quantized folder ({@link QuantizedCheckpoint}'s layout) for a random benchmark model, with random
 * quantized values instead of quantized random weights: the benchmark's weights are meaningless either way
 * and the kernels' speed does not depend on the values, while quantizing the 3.8 B decoder weights
 * (int4's least-squares rounding especially) takes many minutes on a shared 2-vCPU machine. Every other
 * tensor is copied from the unquantized random model; the file has the same size and layout as
 * {@code phi3v quantize} writes, so loading it is timed exactly as loading a real pre-quantized folder.
 */
final class RandomQuantizedFolder {

    /** Random bytes repeated through every quantized tensor (values do not matter, speed of writing does). */
    private static final int BLOCK = 1 << 20;

    private RandomQuantizedFolder() {
    }

    /**
     * Writes the folder.
     *
     * @param source the unquantized random model
     * @param target the folder to write (created)
     * @param q {@link Quantization#INT8} or {@link Quantization#INT4}
     * @param seed seeds the random values
     * @throws IOException if reading or writing fails
     */
    static void write(Path source, Path target, Quantization q, long seed) throws IOException {
        Files.createDirectories(target);
        byte[] block = new byte[BLOCK];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < BLOCK; i++) {
            // int8 values in -127..127; any byte is two valid 4-bit values.
            block[i] = q == Quantization.INT8 ? (byte) (r.nextInt(255) - 127) : (byte) r.nextInt(256);
        }
        Phi3VConfig cfg = Phi3VConfig.fromDirectory(source);
        Set<String> quantized = new HashSet<>(QuantizedCheckpoint.quantizedWeights(cfg));
        try (Checkpoint ckpt = Checkpoint.open(source)) {
            List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
            for (String name : ckpt.names()) {
                TensorInfo info = ckpt.info(name);
                if (!quantized.contains(name)) {
                    tensors.add(SafetensorsWriter.Tensor.ofBytes(name, info.dtype(), info.shape(), ckpt.bytes(name)));
                    continue;
                }
                long out = info.dim(0);
                long in = info.dim(1);
                if (q == Quantization.INT8) {
                    tensors.add(repeated(name, DType.I8, new long[] {out, in}, block));
                    // The scale of a row of N(0, 0.02) weights: ~4 standard deviations / 127.
                    tensors.add(constant(name + QuantizedCheckpoint.SCALE_SUFFIX, DType.F32, new long[] {out},
                            0.08f / 127));
                } else {
                    long groups = in / Quantization.INT4_GROUP_SIZE;
                    tensors.add(repeated(name, DType.U8, new long[] {out, in / 2}, block));
                    tensors.add(constant(name + QuantizedCheckpoint.SCALE_SUFFIX, DType.BF16,
                            new long[] {out, groups}, 0.005f));
                    tensors.add(constant(name + QuantizedCheckpoint.ZERO_SUFFIX, DType.BF16,
                            new long[] {out, groups}, 0.0f));
                }
            }
            SafetensorsWriter.write(target.resolve(Checkpoint.SINGLE_FILE), Map.of("format", "pt"), tensors);
        }
        QuantizedCheckpoint.writeFolderFiles(source, target, q);
    }

    private static SafetensorsWriter.Tensor repeated(String name, DType type, long[] shape, byte[] block) {
        long bytes = shape[0] * shape[1];
        return new SafetensorsWriter.Tensor(name, type, shape, sink -> {
            for (long done = 0; done < bytes; done += block.length) {
                sink.putBytes(ByteBuffer.wrap(block, 0, (int) Math.min(block.length, bytes - done)));
            }
        });
    }

    private static SafetensorsWriter.Tensor constant(String name, DType type, long[] shape, float value) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        long count = n;
        return new SafetensorsWriter.Tensor(name, type, shape, sink -> {
            for (long i = 0; i < count; i++) {
                sink.put(value);
            }
        });
    }
}
