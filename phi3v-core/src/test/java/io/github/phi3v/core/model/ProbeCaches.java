package io.github.phi3v.core.model;

import java.util.Arrays;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * What the decode-step probes share: the full-size model's attention shape, their cache lengths from the
 * command line, and 32 layers' random bf16 caches (each read once per pass, as in a decode step: a single
 * layer's 12.6 MB at 2048 positions would stay in the last-level cache and flatter every kernel).
 */
final class ProbeCaches {

    static final long HEADS = 32;
    static final long HEAD_DIM = 96;
    static final int LAYERS = 32;

    private ProbeCaches() {
    }

    /** The comma-separated lengths of {@code args[0]}, else {@code defaults}. */
    static long[] lengths(String[] args, long... defaults) {
        return args.length > 0 ? Arrays.stream(args[0].split(",")).mapToLong(Long::parseLong).toArray() : defaults;
    }

    /** {@value #LAYERS} tensors {@code [HEADS, p, HEAD_DIM]} bf16 of N(0, 1) values, in the caller's scope. */
    static Tensor[] randomLayers(long p, TensorOptions f32) {
        Tensor[] layers = new Tensor[LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            layers[l] = torch.randn(new long[] {HEADS, p, HEAD_DIM}, f32).to(ScalarType.BFloat16);  // [H, P, d]
        }
        return layers;
    }
}
