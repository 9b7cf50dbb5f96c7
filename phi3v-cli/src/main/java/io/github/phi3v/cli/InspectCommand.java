package io.github.phi3v.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.core.model.Inspection;
import io.github.phi3v.core.weights.DType;
import io.github.phi3v.core.weights.SafetensorsWriter.Tensor;
import io.github.phi3v.core.weights.SafetensorsWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code phi3v inspect}: one full forward pass through {@code Phi3VModel.inspect} (the library's own code
 * path) that writes every intermediate to a safetensors file, under the names of the golden files where
 * they have one, for comparison with the official Python model.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Run one forward pass and write its intermediates to a safetensors file (conformance tool): "
                + "input_ids, pixel_values, image_sizes, num_img_tokens, CLIP features, hd_merged, image embeddings, "
                + "inputs_embeds, every decoder layer's output, final_norm_last<N>, logits_last<N>, and logits_argmax / _max / "
                + "_logsumexp at every position.",
        footer = {"", "Example:", "  phi3v inspect --model DIR --image a.png --prompt \"<|user|>\\n<|image_1|>\\nWhat "
                + "is shown?<|end|>\\n<|assistant|>\\n\" --out trace.safetensors"})
final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    PromptArgs promptArgs;

    @Mixin
    VerboseOption verbose;

    @Option(names = "--last", paramLabel = "N", defaultValue = "8",
            description = "Keep the logits and final-norm output of the last N positions (default: ${DEFAULT-VALUE}).")
    int last;

    @Option(names = {"-o", "--out"}, paramLabel = "FILE.safetensors", required = true, description = "Output file.")
    Path out;

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        promptArgs.checkImages();
        Path parent = out.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent)) {
            throw new IllegalArgumentException("--out: folder " + parent + " does not exist");
        }
        try (Phi3Vision phi = promptArgs.openModel(err)) {
            PromptArgs.Input input = promptArgs.resolve(phi);
            int lastN = Math.min(last, input.ids().length);
            Inspection ins = phi.model().inspect(input.ids(), input.images(), lastN);
            List<Tensor> tensors = tensors(input, ins);
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "pt");
            meta.put("producer", "phi3v inspect");
            meta.put("model", promptArgs.modelArgs.model);
            meta.put("dtype", phi.model().options().precision().label());
            SafetensorsWriter.write(out, meta, tensors);
            stdout.println("wrote " + tensors.size() + " tensors (" + input.ids().length + " positions) to " + out);
            stdout.flush();
        }
        return 0;
    }

    /** The golden-named tensors of one inspection. */
    static List<Tensor> tensors(PromptArgs.Input input, Inspection ins) {
        List<Tensor> t = new ArrayList<>();
        int[] ids = input.ids();
        int s = ids.length;
        long[] idsLong = new long[s];
        for (int i = 0; i < s; i++) {
            idsLong[i] = ids[i];
        }
        t.add(Tensor.ofLongs("input_ids", new long[] {1, s}, idsLong));
        List<ImagePixels> images = input.images();
        int n = images.size();
        if (n > 0) {
            int crops = images.get(0).numCrops();
            int perCrop = images.get(0).pixelValues().length / (crops + 1);
            int side = (int) Math.round(Math.sqrt(perCrop / 3.0));
            long[] sizes = new long[2 * n];
            for (int k = 0; k < n; k++) {
                sizes[2 * k] = images.get(k).hdHeight();
                sizes[2 * k + 1] = images.get(k).hdWidth();
            }
            t.add(new Tensor("pixel_values", DType.F32,
                    new long[] {n, crops + 1, 3, side, side}, o -> {
                        for (ImagePixels p : images) {
                            for (float v : p.pixelValues()) {
                                o.put(v);
                            }
                        }
                    }));
            t.add(new Tensor("pixel_values_global", DType.F32,
                    new long[] {n, 3, side, side}, o -> {
                        for (ImagePixels p : images) {
                            float[] px = p.pixelValues();
                            for (int i = 0; i < perCrop; i++) {
                                o.put(px[i]);
                            }
                        }
                    }));
            t.add(Tensor.ofLongs("image_sizes", new long[] {n, 2}, sizes));
            t.add(Tensor.ofLongs("num_img_tokens", new long[] {n},
                    java.util.Arrays.stream(input.imageTokens()).asLongStream().toArray()));
            firstThreeCrops(ins, n).ifPresent(t::add);
        }
        for (Inspection.TracedTensor tr : ins.tensors().values()) {
            t.add(Tensor.ofFloats(tr.name(), tr.shape(), tr.values()));
        }
        if (n > 0 && !ins.tensors().containsKey("image_embeds")) {
            t.add(concatRows("image_embeds", ins, n, "image_embeds"));
        }
        t.add(Tensor.ofLongs("logits_argmax", new long[] {s}, ins.logitsArgmax()));
        t.add(Tensor.ofFloats("logits_max", new long[] {s}, ins.logitsMax()));
        t.add(Tensor.ofFloats("logits_logsumexp", new long[] {s}, ins.logitsLogsumexp()));
        return t;
    }

    /**
     * {@code clip_features_layer_m2_first3} {@code [n_img, 3, P, C]} as the golden files store it (global
     * crop, sub-crops 1 and 2), when every image has at least two real sub-crops (the model skips the
     * zero padding crops, so it has no features for them).
     */
    private static java.util.Optional<Tensor> firstThreeCrops(Inspection ins, int n) {
        List<Inspection.TracedTensor> feats = new ArrayList<>();
        for (int k = 1; k <= n; k++) {
            Inspection.TracedTensor f = ins.tensors().get("image_" + k + ".clip_features");
            if (f == null || f.shape().length != 3 || f.shape()[0] < 3) {
                return java.util.Optional.empty();
            }
            feats.add(f);
        }
        long p = feats.get(0).shape()[1];
        long c = feats.get(0).shape()[2];
        int per = Math.toIntExact(3 * p * c);
        return java.util.Optional.of(new Tensor("clip_features_layer_m2_first3", DType.F32,
                new long[] {n, 3, p, c}, o -> {
                    for (Inspection.TracedTensor f : feats) {
                        float[] v = f.values();
                        for (int i = 0; i < per; i++) {
                            o.put(v[i]);
                        }
                    }
                }));
    }

    private static Tensor concatRows(String name, Inspection ins, int n, String suffix) {
        List<Inspection.TracedTensor> parts = new ArrayList<>();
        long rows = 0;
        for (int k = 1; k <= n; k++) {
            Inspection.TracedTensor p = ins.get("image_" + k + "." + suffix);
            parts.add(p);
            rows += p.shape()[0];
        }
        long width = parts.get(0).shape()[1];
        return new Tensor(name, DType.F32, new long[] {rows, width}, o -> {
            for (Inspection.TracedTensor p : parts) {
                for (float v : p.values()) {
                    o.put(v);
                }
            }
        });
    }
}
