package io.github.phi3v.core.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.core.weights.SafetensorsWriter.Tensor;
import io.github.phi3v.testsupport.GoldenTensors;

/** Files written here read back (with the test-support reader) with the same names, shapes and values. */
class SafetensorsWriterTest {

    @TempDir
    Path tmp;

    @Test
    void roundTripsEveryDType() throws IOException {
        Path f = tmp.resolve("t.safetensors");
        float[] floats = {1f, -2.5f, 3.25f, 0f, Float.MIN_NORMAL, 1e30f};
        SafetensorsWriter.write(f, Map.of("format", "pt"), List.of(
                Tensor.ofFloats("f32", new long[] {2, 3}, floats),
                Tensor.ofLongs("i64", new long[] {1, 3}, new long[] {-1, 0, Long.MAX_VALUE}),
                Tensor.ofDoubles("f64", new long[] {2}, new double[] {Math.PI, -0.0}),
                Tensor.ofFloats("bf16", DType.BF16, new long[] {3}, new float[] {1f, 1.00390625f, -3f}),
                Tensor.ofFloats("scalar", new long[] {}, new float[] {7f})));
        GoldenTensors g = GoldenTensors.read(f);
        assertArrayEquals(floats, g.floats("f32"));
        assertArrayEquals(new long[] {2, 3}, g.shape("f32"));
        assertArrayEquals(new long[] {-1, 0, Long.MAX_VALUE}, g.longs("i64"));
        assertArrayEquals(new double[] {Math.PI, -0.0}, g.doubles("f64"));
        assertEquals("BF16", g.entry("bf16").dtype());
        assertArrayEquals(new long[] {}, g.shape("scalar"));
        assertEquals("pt", g.metadata().get("format"));
        // header padded so the data section starts 8-byte aligned
        long headerLen = java.nio.ByteBuffer.wrap(Files.readAllBytes(f), 0, 8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLen % 8);
    }

    @Test
    void sixteenBitConversionsRoundToNearestEven() {
        assertEquals((short) 0x3f80, SafetensorsWriter.toBf16(1f));
        assertEquals((short) 0x3f80, SafetensorsWriter.toBf16(1.00390625f));   // tie -> even
        assertEquals((short) 0x3f82, SafetensorsWriter.toBf16(1.01171875f));   // tie -> even (up)
        assertEquals((short) 0x7fc0, (short) (SafetensorsWriter.toBf16(Float.NaN) & 0xffc0));
        assertEquals((short) 0x3c00, SafetensorsWriter.toF16(1f));
        assertEquals((short) 0xc000, SafetensorsWriter.toF16(-2f));
        assertEquals((short) 0x7bff, SafetensorsWriter.toF16(65504f));
        assertEquals((short) 0x7c00, SafetensorsWriter.toF16(65520f));
        assertEquals((short) 0x0001, SafetensorsWriter.toF16(0x1p-24f));        // smallest subnormal
        assertEquals((short) 0x0000, SafetensorsWriter.toF16(0x1p-26f));
        assertEquals((short) 0x0400, SafetensorsWriter.toF16(0x1p-14f));        // smallest normal
        assertEquals((short) 0x3555, SafetensorsWriter.toF16(1f / 3));
    }

    @Test
    void rejectsDuplicatesAndWrongCountsWithoutLeavingFiles() throws IOException {
        Path f = tmp.resolve("bad.safetensors");
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(f,
                Map.of(), List.of(Tensor.ofFloats("a", new long[] {1}, new float[1]),
                        Tensor.ofFloats("a", new long[] {1}, new float[1]))));
        assertTrue(dup.getMessage().contains("duplicate"), dup.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.ofFloats("x", new long[] {2, 2}, new float[3]));
        IllegalArgumentException shortData = assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(f,
                Map.of(), List.of(new Tensor("s", DType.F32, new long[] {4}, out -> out.put(1f)))));
        assertTrue(shortData.getMessage().contains("needs 4 elements"), shortData.getMessage());
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(0, s.count(), "no partial file may remain");
        }
    }

    @Test
    void rawBytesLargerThanTheBufferRoundTripThroughTheCheckpointReader() throws IOException {
        // 3 Mi bf16 elements = 6 MiB: more than the writer's 1 MiB buffer, so putBytes crosses flushes
        int n = 3 << 20;
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(2 * n).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            bytes.putShort(SafetensorsWriter.toBf16(i % 256));             // exact in bf16
        }
        bytes.flip();
        Path f = tmp.resolve("model.safetensors");
        SafetensorsWriter.write(f, Map.of("format", "pt"), List.of(
                Tensor.ofFloats("small", new long[] {2}, new float[] {1f, 2f}),
                Tensor.ofBytes("big", DType.BF16, new long[] {n / 1024, 1024}, bytes)));
        assertEquals(0, bytes.position(), "the caller's buffer is not moved");
        try (Checkpoint c = Checkpoint.open(f)) {
            TensorInfo big = c.info("big");
            assertEquals(DType.BF16, big.dtype());
            assertArrayEquals(new long[] {n / 1024, 1024}, big.shape());
            assertEquals(2L * n, big.byteLength());
        }
        GoldenTensors g = GoldenTensors.read(f);
        float[] back = g.floats("big");
        assertEquals(n, back.length);
        for (int i = 0; i < n; i++) {
            if (back[i] != i % 256) {
                throw new AssertionError("element " + i + ": expected " + (i % 256) + ", found " + back[i]);
            }
        }
        assertArrayEquals(new float[] {1f, 2f}, g.floats("small"));
    }

    @Test
    void rawBytesMustMatchTheShape() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.ofBytes("x",
                DType.F32, new long[] {2, 2}, java.nio.ByteBuffer.allocate(12)));
        assertEquals("tensor x: shape [2, 2] of F32 needs 16 bytes, but 12 were given", e.getMessage());
    }

    @Test
    void oneDTypeServesReaderAndWriter() {
        assertEquals(DType.BF16, DType.parse("bfloat16"));
        assertEquals(DType.I64, DType.parse(" int64 "));
        assertEquals(DType.F16, DType.fromSafetensorsName("F16").orElseThrow());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DType.parse("int4"));
        assertTrue(e.getMessage().startsWith("unknown dtype 'int4': expected one of F32, BF16, F16"), e.getMessage());
        for (DType d : DType.values()) {
            // I8/U8: the quantized weights of pre-quantized checkpoints.
            assertEquals(d == DType.F32 || d == DType.BF16 || d == DType.F16 || d == DType.I8 || d == DType.U8,
                    d.isWeightType(), d.name());
            assertEquals(d != DType.I64 && d != DType.I32 && d != DType.I8 && d != DType.U8, d.isFloating(), d.name());
            assertEquals(d, DType.fromSafetensorsName(d.safetensorsName()).orElseThrow());
        }
    }
}
