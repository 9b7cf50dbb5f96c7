package io.github.phi3v.examples;

import java.util.List;
import java.util.function.Consumer;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.tooling.Models;

/**
 * Seed scenario 3: compare two images (they become {@code <|image_1|>} and {@code <|image_2|>}).
 *
 * <pre>
 * java -cp phi3v-cli/target/phi3v.jar io.github.phi3v.examples.CompareImages IMAGE1 IMAGE2 [MODEL] [QUESTION]
 * </pre>
 *
 * Images are files or http(s) URLs; MODEL a hub id (default {@value Models#PHI3_VISION}), a model folder
 * or {@code tiny-random}; QUESTION defaults to the notebook's {@value #PROMPT}. The answer is streamed.
 */
public final class CompareImages {

    /** The seed notebook's question for two images (its wording kept). */
    public static final String PROMPT = "What is difference in this two images?";

    private CompareImages() {
    }

    /**
     * Asks the question about both images and streams the answer.
     *
     * @param model the loaded model
     * @param first the first image (file or http(s) URL)
     * @param second the second image
     * @param question the question
     * @param maxNewTokens answer length limit
     * @param onText receives the answer piece by piece
     * @return the complete answer
     */
    public static Answer run(Phi3Vision model, String first, String second, String question, int maxNewTokens,
            Consumer<String> onText) {
        return ImageQuestion.run(model, List.of(first, second), question, maxNewTokens, onText);
    }

    /**
     * Command-line entry point.
     *
     * @param args IMAGE1 IMAGE2 [MODEL] [QUESTION]
     */
    public static void main(String[] args) {
        ImageQuestion.main("CompareImages IMAGE1 IMAGE2 [MODEL] [QUESTION]", 2, PROMPT, args);
    }
}
