package io.github.phi3v.tooling.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.model.QuantizedCheckpoint;
import io.github.phi3v.core.model.WeightNames;
import io.github.phi3v.core.weights.SafetensorsWriter;

/**
 * A pre-quantized folder ({@link QuantizedCheckpoint}'s layout) for a random benchmark model, with random
 * quantized values instead of quantized random weights: the benchmark's weights are meaningless either way
 * and the kernels' speed does not depend on the values, while quantizing the 3.8 B decoder weights
 * (int4's least-squares rounding especially) takes many minutes on a shared 2-vCPU machine. Written by
 * {@link QuantizedCheckpoint}'s own layout walk with these values, every other tensor copied from the
 * unquantized random model: the same size and layout as {@code phi3v quantize} writes, so loading it is
 * timed exactly as loading a real pre-quantized folder.
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
        byte[] block = new byte[BLOCK];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < BLOCK; i++) {
            // int8 values in -127..127; any byte is two valid 4-bit values.
            block[i] = q == Quantization.INT8 ? (byte) (r.nextInt(255) - 127) : (byte) r.nextInt(256);
        }
        Phi3VConfig cfg = Phi3VConfig.fromDirectory(source);
        Map<String, long[]> shapes = WeightNames.computed(cfg);
        QuantizedCheckpoint.write(source, target, q, (weight, part, sink) -> {
            long out = shapes.get(weight)[0];
            long in = shapes.get(weight)[1];
            switch (part) {
                case WEIGHT -> repeat(sink, q == Quantization.INT8 ? out * in : out * in / 2, block);
                // int8: the scale of a row of N(0, 0.02) weights, ~4 standard deviations / 127
                case SCALE -> fill(sink, q == Quantization.INT8 ? out : out * (in / Quantization.INT4_GROUP_SIZE),
                        q == Quantization.INT8 ? 0.08f / 127 : 0.005f);
                case ZERO -> fill(sink, out * (in / Quantization.INT4_GROUP_SIZE), 0.0f);
            }
        });
    }

    private static void repeat(SafetensorsWriter.Sink sink, long bytes, byte[] block) throws IOException {
        for (long done = 0; done < bytes; done += block.length) {
            sink.putBytes(ByteBuffer.wrap(block, 0, (int) Math.min(block.length, bytes - done)));
        }
    }

    private static void fill(SafetensorsWriter.Sink sink, long count, float value) throws IOException {
        for (long i = 0; i < count; i++) {
            sink.put(value);
        }
    }
}
