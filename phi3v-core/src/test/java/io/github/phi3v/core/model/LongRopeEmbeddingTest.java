package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.Tensors;

/**
 * {@link LongRopeEmbedding#apply} with the signed sin table rounds exactly as the official
 * {@code q * cos + rotate_half(q) * sin}, for the layout a decoder layer passes it (queries and keys of
 * {@code qkv_proj}'s output as one transposed view) in float32 and bf16. The end-to-end check against the
 * official implementation is {@code GoldenForwardTest}; this one pins the identity bit for bit.
 */
class LongRopeEmbeddingTest {

    /** The official formula, written out: {@code x·cos + cat(-x2, x1)·sin} with {@code sin = [s, s]}. */
    private static Tensor official(Tensor x, Tensor cos, Tensor sin) {
        long half = x.size(-1) / 2;
        Tensor rotated = torch.cat(new TensorVector(torch.neg(x.narrow(-1, half, half)), x.narrow(-1, 0, half)), -1);
        return torch.add(torch.mul(x, cos), torch.mul(rotated, sin));
    }

    @Test
    void rollingWithTheSignedSinEqualsRotateHalfBitForBit() {
        long heads = 6;
        long kvHeads = 6;
        long d = 16;
        long n = 5;
        int compared = 0;
        for (ScalarType dtype : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16}) {
            try (InferenceScope scope = InferenceScope.open();
                 Scalar angleScale = new Scalar(300.0);
                 Scalar valueScale = new Scalar(7.0)) {
                torch.manual_seed(11);
                Tensor angles = torch.mul(torch.rand(n, d / 2), angleScale);                  // [n, d/2] up to 300 rad
                Tensor emb = torch.cat(new TensorVector(angles, angles), 1);                 // [n, d]
                Tensor cos = torch.cos(emb).to(dtype);
                Tensor sin = torch.sin(emb).to(dtype);
                Tensor s = torch.sin(angles);
                Tensor signedSin = torch.cat(new TensorVector(torch.neg(s), s), 1).to(dtype);
                // qkv_proj's output [n, (H+2K)*d]; the layer rotates its first H+K heads as one view.
                Tensor qkv = torch.mul(torch.randn(n, (heads + 2 * kvHeads) * d), valueScale).to(dtype);
                Tensor qk = qkv.narrow(1, 0, (heads + kvHeads) * d).view(n, heads + kvHeads, d)
                        .transpose(0, 1);                                                     // [H+K, n, d]
                Tensor q = qkv.narrow(1, 0, heads * d).view(n, heads, d).transpose(0, 1);     // [H, n, d]
                Tensor k = qkv.narrow(1, heads * d, kvHeads * d).view(n, kvHeads, d).transpose(0, 1);

                Tensor ours = LongRopeEmbedding.apply(qk, new LongRopeEmbedding.CosSin(cos, signedSin));
                assertEquals(dtype, Tensors.dtype(ours));
                assertTrue(torch.equal(ours.narrow(0, 0, heads), official(q, cos, sin)), "queries, " + dtype);
                assertTrue(torch.equal(ours.narrow(0, heads, kvHeads), official(k, cos, sin)), "keys, " + dtype);
                // The identity is the point, not a table that happens to do nothing: the unsigned sin differs.
                assertFalse(torch.equal(LongRopeEmbedding.apply(qk, new LongRopeEmbedding.CosSin(cos, sin)),
                        ours), "an unsigned sin table must give another rotation, " + dtype);
                compared++;
            }
        }
        assertEquals(2, compared);
    }
}
