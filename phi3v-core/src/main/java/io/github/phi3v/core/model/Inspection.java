package io.github.phi3v.core.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The intermediates of one full forward pass ({@link Phi3VModel#inspect}), as float32 copies, under the
 * names of the golden files where they have one:
 * <ul>
 *   <li>{@code image_<k>.clip_features} {@code [1 + crops, P, C]} (global crop first; CLIP
 *       {@code hidden_states[layer_idx]} without CLS), {@code image_<k>.hd_merged} {@code [tokens, 4C]},
 *       {@code image_<k>.image_embeds} {@code [tokens, hidden]} for every image k (1-based);</li>
 *   <li>{@code hd_merged} concatenated over images, {@code inputs_embeds} {@code [S, hidden]},
 *       {@code layer_<i>_output} {@code [S, hidden]}, {@code final_norm_last<N>} {@code [N, hidden]},
 *       {@code logits_last<N>} {@code [N, vocab]};</li>
 *   <li>per position: {@link #logitsArgmax()}, {@link #logitsMax()}, {@link #logitsLogsumexp()},
 *       {@link #logitsTop2Gap()}.</li>
 * </ul>
 *
 * @param tensors the float tensors in the order they were computed
 * @param logitsArgmax argmax over the vocabulary at every position (first index on ties)
 * @param logitsMax max logit at every position
 * @param logitsLogsumexp logsumexp of the logits at every position
 * @param logitsTop2Gap top-1 minus top-2 logit at every position (where an argmax comparison is
 *     numerically meaningful)
 */
public record Inspection(Map<String, TracedTensor> tensors, long[] logitsArgmax, float[] logitsMax,
        float[] logitsLogsumexp, float[] logitsTop2Gap) {

    /** One recorded tensor: name, shape and row-major float32 values. */
    public record TracedTensor(String name, long[] shape, float[] values) {
    }

    /**
     * Makes the map unmodifiable.
     *
     * @param tensors the float tensors in computation order; copied
     * @param logitsArgmax argmax over the vocabulary at every position (first index on ties)
     * @param logitsMax max logit at every position
     * @param logitsLogsumexp logsumexp of the logits at every position
     * @param logitsTop2Gap top-1 minus top-2 logit at every position
     */
    public Inspection {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /**
     * The named tensor.
     *
     * @param name a recorded name, e.g. {@code inputs_embeds} or {@code image_1.clip_features}
     * @return the tensor, never null
     * @throws IllegalArgumentException if no tensor has that name (the message lists the recorded ones)
     */
    public TracedTensor get(String name) {
        TracedTensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no traced tensor '" + name + "'; recorded: " + tensors.keySet());
        }
        return t;
    }

    /**
     * Names in computation order.
     *
     * @return an unmodifiable copy of the recorded names
     */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }
}
