package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.Tensors;

/**
 * An int4 weight for the project's native kernel ({@link NativeKernels#int4Mm}): the levels multiply the
 * activations rounded to 16-bit fixed point per group of 32 columns, exactly in int32, then scale and zero
 * in float32. That rounding moves each activation by at most {@code max|x| / 65278} of its group, under
 * 1/256 of a bf16 ulp of the group's largest activation (docs/architecture.md, "Native kernels").
 * The weight is kept only in the kernel's layout ({@link NativeKernels.Int4Weight}); {@link #storedRows}
 * reads the stored form back from it.
 */
record NativeInt4Kernel(NativeKernels.Int4Weight weight) implements Int4Kernel {

    static NativeInt4Kernel of(Int4Linear.Stored s) {
        return new NativeInt4Kernel(NativeKernels.packInt4(s.nibbles(), s.scale(), s.zero()));
    }

    @Override
    public Tensor mm(Tensor x) {
        Tensor out;
        try (TensorOptions opts = new TensorOptions(Tensors.dtype(x));
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            out = torch.empty(new long[] {x.size(0), weight.outFeatures()}, opts, fmt);      // [n, out]
        }
        NativeKernels.int4Mm(x, weight, out);
        return out;
    }

    @Override
    public Tensor[] storedRows(long r, long len) {
        long blocks = (len + 15) / 16;
        long groups = weight.inFeatures() / Int4Linear.GROUP_SIZE;
        Tensor nibbles = weight.weights().narrow(0, r / 16, blocks)                          // [nb, g, word, lane, byte]
                .permute(0, 3, 1, 2, 4).reshape(blocks * 16, weight.inFeatures() / 2)        // [nb*16, in/2]
                .narrow(0, 0, len);
        return new Tensor[] {nibbles, rows(weight.scales(), r, blocks, groups, len),
            rows(weight.zeros(), r, blocks, groups, len)};
    }

    /** {@code [nb, g, lane]} bf16 -> rows {@code [len, g]} float32 from row {@code r}. */
    private static Tensor rows(Tensor t, long r, long blocks, long groups, long len) {
        return t.narrow(0, r / 16, blocks).permute(0, 2, 1).reshape(blocks * 16, groups)   // [nb*16, g]
                .narrow(0, 0, len).to(ScalarType.Float);
    }

    @Override
    public long rowAlignment() {
        return 16;
    }

    @Override
    public List<Pointer> resources() {
        return weight.resources();
    }

    @Override
    public long streamedBytes() {
        return weight.streamedBytes();
    }
}
