package io.github.phi3v.examples;

import java.util.function.Consumer;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;

/**
 * Seed scenario 3: tell what differs between two images. {@code java -cp phi3v-cli/target/phi3v.jar io.github.phi3v.examples.CompareImages
 * FIRST SECOND [MODEL] [QUESTION]}: images are files, http(s) URLs or {@code data:} URIs; MODEL a hub id, a folder
 * or {@code tiny-random}; QUESTION defaults to the notebook's {@value #PROMPT}.
 */
public final class CompareImages {

    /** The seed notebook's question. */
    public static final String PROMPT = "What is difference in this two images?";

    private CompareImages() {
    }

    /** Asks {@code question} about the two images (one stateless call) and streams the answer to {@code onText}. */
    public static Answer run(Phi3Vision model, String first, String second, String question, int maxNewTokens,
            Consumer<String> onText) {
        ChatRequest request = ChatRequest.builder()
                .user(question, ImageInput.parse(first), ImageInput.parse(second))   // images first, then the question
                .maxNewTokens(maxNewTokens)
                .build();
        return model.chatStream(request, onText);
    }

    /** Command-line entry point: FIRST SECOND [MODEL] [QUESTION]. */
    public static void main(String[] args) {
        ExampleMain.run("CompareImages FIRST SECOND [MODEL] [QUESTION]", 2, PROMPT, args,
                (model, images, question, out) -> run(model, images.get(0), images.get(1), question, 500, out));
    }
}
