package io.github.phi3v.core.model;

import java.util.LinkedHashMap;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;

import io.github.phi3v.core.runtime.Tensors;

/** Collects float32 copies of intermediates during {@link Phi3VModel#inspect}; null on the normal path. */
final class Trace {

    final Map<String, Inspection.TracedTensor> tensors = new LinkedHashMap<>();
    long[] argmax;
    float[] max;
    float[] logsumexp;
    float[] top2Gap;

    void record(String name, Tensor t) {
        tensors.put(name, new Inspection.TracedTensor(name, Tensors.shape(t), Tensors.toFloats(t)));
    }

    /** {@code trace.record(name, t)} when there is a trace (the inspected call), nothing otherwise. */
    static void record(Trace trace, String name, Tensor t) {
        if (trace != null) {
            trace.record(name, t);
        }
    }

    Inspection toInspection() {
        return new Inspection(tensors, argmax, max, logsumexp, top2Gap);
    }
}
