package io.github.phi3v.tooling.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.RawPrompts;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;

/**
 * Whether the first request with an image after loading runs as fast as the later ones, stage by stage:
 * image preprocessing (Java), the vision tower and the prompt's forward pass, through the library's raw-ids
 * entry point, which encodes every image afresh (no embedding or prefix cache between the requests). With
 * {@code warmup} the load ends with the library's text-only warm-up
 * ({@link io.github.phi3v.core.Phi3VisionBuilder#warmUp(boolean)}), which runs neither the image processor nor
 * the vision tower: this shows what an image request still pays after it.
 *
 * <pre>java -cp "$CP" io.github.phi3v.tooling.bench.FirstImageRequestProbe variant=DIR IMAGE numCrops requests
 *     [warmup]</pre>
 * where {@code variant} is {@code none}, {@code int8} or {@code int4} and {@code DIR} a bf16 model folder.
 */
public final class FirstImageRequestProbe {

    private FirstImageRequestProbe() {
    }

    /**
     * One request's stages.
     *
     * @param preprocessMillis image decoding and processing
     * @param visionMillis the vision tower
     * @param prefillMillis the prompt's forward pass
     * @param promptTokens the prompt's length, image tokens included
     * @param imageTokens the image's tokens
     * @param firstToken the greedy first token
     */
    record Stages(double preprocessMillis, double visionMillis, double prefillMillis, int promptTokens,
            int imageTokens, int firstToken) {
    }

    /**
     * Runs the requests one after the other: each preprocesses the image, then generates one greedy token for
     * the chat-templated question "What is shown?" about it.
     *
     * @param phi the model
     * @param image the image file
     * @param numCrops its crop budget
     * @param requests how many (at least 1)
     * @return each request's stages
     */
    static List<Stages> run(Phi3Vision phi, Path image, int numCrops, int requests) {
        Objects.requireNonNull(phi, "phi");
        Objects.requireNonNull(image, "image");
        if (requests < 1) {
            throw new IllegalArgumentException("requests must be >= 1, got " + requests);
        }
        RawPrompts raw = phi.rawPrompts();
        GenerationConfig one = GenerationConfig.builder().greedy().maxNewTokens(1).stopTokenIds().build();
        List<Stages> out = new ArrayList<>();
        for (int r = 0; r < requests; r++) {
            long t0 = System.nanoTime();
            ImagePixels px = raw.preprocess(image, numCrops);
            double preprocess = (System.nanoTime() - t0) / 1e6;
            int[] ids = phi.tokenizer().encodeMultimodal(
                    "<|user|>\n<|image_1|>\nWhat is shown?<|end|>\n<|assistant|>\n", new int[] {raw.imageTokenCount(px)});
            Answer a = raw.generate(ids, List.of(px), one);
            out.add(new Stages(preprocess, a.usage().visionMillis(), a.usage().prefillMillis(),
                    a.usage().promptTokens(), a.usage().imageTokens(), a.tokenIds()[0]));
        }
        return out;
    }

    /**
     * Loads the variant (with or without the warm-up), runs {@link #run} and prints each request's stages.
     *
     * @param args see the class comment
     */
    public static void main(String[] args) {
        if (args.length < 4 || args.length > 5 || !args[0].contains("=")
                || args.length == 5 && !args[4].equals("warmup")) {
            throw new IllegalArgumentException("usage: FirstImageRequestProbe variant=DIR IMAGE numCrops requests "
                    + "[warmup]");
        }
        String[] kv = args[0].split("=", 2);
        boolean warm = args.length == 5;
        long t0 = System.nanoTime();
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(Path.of(kv[1])).dtype(Precision.BFLOAT16)
                .quantization(Quantization.parse(kv[0])).maxContext(4096).warmUp(warm).build()) {
            System.out.printf(Locale.ROOT, "%s: loaded %s in %.1f s%s%n", kv[0], kv[1], (System.nanoTime() - t0) / 1e9,
                    warm ? " (text warm-up included)" : "");
            List<Stages> stages = run(phi, Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
            for (int r = 0; r < stages.size(); r++) {
                Stages s = stages.get(r);
                System.out.printf(Locale.ROOT, "request %d: preprocess %.0f ms, vision %.0f ms, prefill %.0f ms (%d "
                        + "tokens, %d image)%n", r + 1, s.preprocessMillis(), s.visionMillis(), s.prefillMillis(),
                        s.promptTokens(), s.imageTokens());
            }
        }
    }
}
