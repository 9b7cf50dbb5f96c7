package io.github.phi3v.core.random;

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

import io.github.phi3v.core.random.SafetensorsWriter.ElementType;
import io.github.phi3v.core.random.SafetensorsWriter.Tensor;
import io.github.phi3v.testsupport.GoldenTensors;

/** Files written here read back (with the test-support reader) with the same names, shapes and values. */
class SafetensorsWriterTest {

    @TempDir
    Path tmp;

    @Test
    void roundTripsEveryElementType() throws IOException {
        Path f = tmp.resolve("t.safetensors");
        float[] floats = {1f, -2.5f, 3.25f, 0f, Float.MIN_NORMAL, 1e30f};
        SafetensorsWriter.write(f, Map.of("format", "pt"), List.of(
                Tensor.ofFloats("f32", new long[] {2, 3}, floats),
                Tensor.ofLongs("i64", new long[] {1, 3}, new long[] {-1, 0, Long.MAX_VALUE}),
                Tensor.ofDoubles("f64", new long[] {2}, new double[] {Math.PI, -0.0}),
                Tensor.ofFloats("bf16", ElementType.BF16, new long[] {3}, new float[] {1f, 1.00390625f, -3f}),
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
                Map.of(), List.of(new Tensor("s", ElementType.F32, new long[] {4}, out -> out.put(1f)))));
        assertTrue(shortData.getMessage().contains("needs 4 elements"), shortData.getMessage());
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(0, s.count(), "no partial file may remain");
        }
    }
}
