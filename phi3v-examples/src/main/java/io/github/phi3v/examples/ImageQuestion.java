package io.github.phi3v.examples;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.tooling.Models;

/**
 * The one runner behind the seed examples ({@link DescribeChart}, {@link OcrBookCover},
 * {@link CompareImages}): they differ only in their question and image count, so the session handling and
 * the command line {@code IMAGE... [MODEL] [QUESTION]} live here once.
 */
final class ImageQuestion {

    /** Answer length limit of the command-line entry points. */
    static final int MAX_NEW_TOKENS = 500;

    private ImageQuestion() {
    }

    /**
     * Asks the question about the images (in order, they become {@code <|image_1|>}, {@code <|image_2|>},
     * ...) in a fresh session and streams the answer.
     *
     * @param model the loaded model
     * @param images image files or http(s) URLs
     * @param question the question
     * @param maxNewTokens answer length limit
     * @param onText receives the answer piece by piece
     * @return the complete answer
     */
    static Answer run(Phi3Vision model, List<String> images, String question, int maxNewTokens,
            Consumer<String> onText) {
        try (Session chat = model.session()) {
            for (String image : images) {
                Models.addImage(chat, image);
            }
            return chat.maxNewTokens(maxNewTokens).stream(question, onText);
        }
    }

    /**
     * Command-line entry point shared by the examples: {@code args} are {@code imageCount} images, then an
     * optional model (default {@value Models#PHI3_VISION}) and an optional question (default
     * {@code defaultPrompt}). Prints the usage and exits with 2 when images are missing; on a failure prints
     * one line and exits with 1 ({@code -Dphi3v.verbose=true} adds the stack trace); streams the answer
     * to stdout otherwise.
     *
     * @param usage the usage line after {@code "usage: "}, e.g. {@code "DescribeChart IMAGE [MODEL] [QUESTION]"}
     * @param imageCount how many leading arguments are images
     * @param defaultPrompt the question when none is given
     * @param args the command-line arguments
     */
    static void main(String usage, int imageCount, String defaultPrompt, String[] args) {
        if (args.length < imageCount) {
            System.err.println("usage: " + usage + "   (MODEL: hub id, folder or tiny-random)");
            System.exit(2);
        }
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        List<String> images = Arrays.asList(args).subList(0, imageCount);
        String modelArg = args.length > imageCount ? args[imageCount] : Models.PHI3_VISION;
        String question = args.length > imageCount + 1 ? args[imageCount + 1] : defaultPrompt;
        try (Phi3Vision model = Models.open(modelArg)) {
            run(model, images, question, MAX_NEW_TOKENS, piece -> {
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
