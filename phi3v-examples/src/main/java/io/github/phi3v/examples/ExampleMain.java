package io.github.phi3v.examples;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.tooling.Models;

/**
 * The command line shared by the seed examples: {@code IMAGE... [MODEL] [QUESTION]}, the model loaded and
 * closed, the answer streamed to stdout; usage errors exit with 2, failures print one line and exit with 1
 * ({@code -Dphi3v.verbose=true} adds the stack trace).
 */
final class ExampleMain {

    /** What an example does with the loaded model, its image arguments and the question. */
    interface Body {
        /** Runs the example, streaming text to {@code out}. */
        void run(Phi3Vision model, List<String> images, String question, Consumer<String> out);
    }

    private ExampleMain() {
    }

    static void run(String usage, int imageCount, String defaultPrompt, String[] args, Body body) {
        if (args.length < imageCount) {
            System.err.println("usage: " + usage + "   (MODEL: hub id, folder or tiny-random)");
            System.exit(2);
        }
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        List<String> images = Arrays.asList(args).subList(0, imageCount);
        String modelArg = args.length > imageCount ? args[imageCount] : Models.PHI3_VISION;
        String question = args.length > imageCount + 1 ? args[imageCount + 1] : defaultPrompt;
        try (Phi3Vision model = Models.open(modelArg)) {
            body.run(model, images, question, piece -> {
                out.print(piece);
                out.flush();
            });
            out.println();
        } catch (RuntimeException e) {
            // An example is run by hand: one readable line, the stack trace only when asked for.
            out.flush();
            System.err.println("error: " + e.getMessage());
            if (Boolean.getBoolean("phi3v.verbose")) {
                e.printStackTrace();
            }
            System.exit(1);
        }
    }
}
