package io.github.phi3v.core.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Path;
import java.util.List;

import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.SharedData;

/** Loads the golden tiny models and checks values against an independent reader of the same files. */
class CheckpointGoldenTest {

    private static final List<String> SAMPLE = List.of(
            "model.layers.0.self_attn.qkv_proj.weight",
            "model.layers.1.input_layernorm.weight",
            "model.vision_embed_tokens.glb_GN",
            "model.vision_embed_tokens.sub_GN",
            "model.vision_embed_tokens.img_processor.vision_model.embeddings.patch_embedding.weight",
            "model.embed_tokens.weight",
            "lm_head.weight");

    @Test
    void f32TensorsEqualTheGoldenValuesWithoutCopy() {
        Path dir = SharedData.tinyA().resolve("model-f32");
        GoldenTensors golden = GoldenTensors.read(dir.resolve("model.safetensors"));
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertEquals(names(golden), List.copyOf(ckpt.names()));
            long params = 0;
            for (String n : ckpt.names()) {
                params += ckpt.info(n).numel();
            }
            assertEquals(4_262_176L, params, "parameter count stated in golden/tiny-a/README.md");
            for (String name : SAMPLE) {
                TensorInfo info = ckpt.info(name);
                assertEquals(DType.F32, info.dtype(), name);
                assertArrayEquals(golden.shape(name), info.shape(), name);
                float[] expected = golden.floats(name);
                try (Tensor t = ckpt.tensor(name)) {
                    assertEquals(torch.ScalarType.Float, t.scalar_type().intern(), name);
                    assertArrayEquals(golden.shape(name), t.sizes().vec().get(), name);
                    float[] actual = new float[expected.length];
                    t.data_ptr_float().get(actual);
                    assertArrayEquals(expected, actual, 0f, name);
                    // Zero copy: libtorch's data pointer is inside the mapping of this tensor's bytes.
                    ByteBuffer bytes = ckpt.bytes(name);
                    assertEquals(info.byteLength(), bytes.remaining());
                    assertEquals(expected[expected.length - 1], bytes.getFloat(bytes.limit() - 4), 0f);
                }
            }
        }
    }

    @Test
    void bf16TensorsKeepTheirBitsAndEqualRoundedF32() {
        Path dir = SharedData.tinyA().resolve("model-bf16");
        GoldenTensors golden = GoldenTensors.read(dir.resolve("model.safetensors"));
        GoldenTensors f32 = GoldenTensors.read(SharedData.tinyA().resolve("model-f32/model.safetensors"));
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertEquals(names(golden), List.copyOf(ckpt.names()));
            for (String name : SAMPLE) {
                TensorInfo info = ckpt.info(name);
                assertEquals(DType.BF16, info.dtype(), name);
                int n = (int) info.numel();
                ShortBuffer expectedBits = golden.entry(name).data().asShortBuffer();
                try (Tensor t = ckpt.tensor(name); Tensor asF32 = t.to(torch.ScalarType.Float)) {
                    assertEquals(torch.ScalarType.BFloat16, t.scalar_type().intern(), name);
                    short[] bits = new short[n];
                    new ShortPointer(t.data_ptr()).capacity(n).get(bits);
                    for (int i = 0; i < n; i++) {
                        assertEquals(expectedBits.get(i), bits[i], name + "[" + i + "]");
                    }
                    // The bf16 file is the f32 weights rounded to nearest-even (golden README section 1).
                    float[] widened = new float[n];
                    asF32.contiguous().data_ptr_float().get(widened);
                    float[] reference = f32.floats(name);
                    for (int i = 0; i < n; i++) {
                        assertEquals(roundToBf16(reference[i]), widened[i], 0f, name + "[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void closedCheckpointRefusesAccess() {
        Checkpoint ckpt = Checkpoint.open(SharedData.tinyA().resolve("model-f32"));
        assertTrue(ckpt.prefault() > 17_000_000L);
        ckpt.close();
        ckpt.close();
        assertThrows(IllegalStateException.class, () -> ckpt.tensor("lm_head.weight"));
    }

    private static List<String> names(GoldenTensors g) {
        List<String> out = new java.util.ArrayList<>();
        g.names().forEach(out::add);
        return out;
    }

    private static float roundToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(rounded & 0xffff0000);
    }
}
