package io.github.phi3v.examples;

import java.util.List;
import java.util.function.Consumer;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.tooling.Models;

/**
 * Seed scenario 1: describe a stock chart.
 *
 * <pre>
 * java -cp phi3v-cli/target/phi3v.jar io.github.phi3v.examples.DescribeChart IMAGE [MODEL] [QUESTION]
 * </pre>
 *
 * IMAGE is a file or an http(s) URL; MODEL a hub id (default {@value Models#PHI3_VISION}), a model folder
 * or {@code tiny-random}; QUESTION defaults to the notebook's {@value #PROMPT}. The answer is streamed.
 */
public final class DescribeChart {

    /** The seed notebook's question for the chart image. */
    public static final String PROMPT = "Could you please introduce this stock to me?";

    private DescribeChart() {
    }

    /**
     * Asks the question about the image and streams the answer.
     *
     * @param model the loaded model
     * @param image an image file or http(s) URL
     * @param question the question
     * @param maxNewTokens answer length limit
     * @param onText receives the answer piece by piece
     * @return the complete answer
     */
    public static Answer run(Phi3Vision model, String image, String question, int maxNewTokens,
            Consumer<String> onText) {
        return ImageQuestion.run(model, List.of(image), question, maxNewTokens, onText);
    }

    /**
     * Command-line entry point.
     *
     * @param args IMAGE [MODEL] [QUESTION]
     */
    public static void main(String[] args) {
        ImageQuestion.main("DescribeChart IMAGE [MODEL] [QUESTION]", 1, PROMPT, args);
    }
}
