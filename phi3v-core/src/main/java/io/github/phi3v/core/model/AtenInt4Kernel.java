package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.AtenOps;

/**
 * An int4 weight for ATen's CPU kernel {@code _weight_int4pack_mm_for_cpu} (through {@link AtenOps}): the
 * activations enter in the model dtype, each weight is converted to float and multiplied in float. The
 * packed layout is the kernel's own (it depends on the instruction set and is not read back), so the stored
 * nibbles are kept next to it for {@link #storedRows}: half a byte more per weight. Used where the native
 * kernel does not run.
 *
 * @param packed the kernel's packing of the levels
 * @param scaleAndZeros {@code [groups, out, 2]} (scale, zero) pairs in the model dtype, the kernel's layout
 * @param nibbles {@code [out, in / 2]} the stored levels
 */
record AtenInt4Kernel(Tensor packed, Tensor scaleAndZeros, Tensor nibbles) implements Int4Kernel {

    static AtenInt4Kernel of(Int4Linear.Stored s, ScalarType outType) {
        long out = s.nibbles().size(0);
        long in = s.nibbles().size(1) * 2;
        Tensor bytes = s.nibbles().to(ScalarType.Int);                                      // [out, in/2]
        Tensor q = torch.stack(new TensorVector(torch.bitwise_and(bytes, new Scalar(15L)),
                torch.bitwise_right_shift(bytes, new Scalar(4L))), 2).reshape(out, in).contiguous(); // [out, in]
        Tensor packed = AtenOps.convertWeightToInt4Pack(q);
        Tensor sz = torch.stack(new TensorVector(s.scale().t(), s.zero().t()), 2).to(outType).contiguous(); // [g, out, 2]
        // A reference of the kernel's own to the stored nibbles: the caller's Stored may be freed right after.
        return new AtenInt4Kernel(packed, sz, s.nibbles().contiguous());
    }

    @Override
    public Tensor mm(Tensor x) {
        return AtenOps.weightInt4PackMm(x, packed, Int4Linear.GROUP_SIZE, scaleAndZeros);
    }

    @Override
    public Tensor[] storedRows(long r, long len) {
        Tensor sz = scaleAndZeros.narrow(1, r, len).to(ScalarType.Float);                   // [g, len, 2]
        return new Tensor[] {nibbles.narrow(0, r, len), sz.select(2, 0).t(), sz.select(2, 1).t()};
    }

    @Override
    public long rowAlignment() {
        return 1;
    }

    @Override
    public List<Pointer> resources() {
        return List.of(packed, scaleAndZeros, nibbles);
    }

    @Override
    public long streamedBytes() {
        return packed.numel() + scaleAndZeros.numel() * scaleAndZeros.element_size();
    }
}
