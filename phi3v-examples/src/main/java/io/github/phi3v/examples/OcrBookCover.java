package io.github.phi3v.examples;

import java.util.function.Consumer;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;

/**
 * Seed scenario 2: read the title and author off a book cover. {@code java -cp phi3v-cli/target/phi3v.jar io.github.phi3v.examples.OcrBookCover
 * IMAGE [MODEL] [QUESTION]}: images are files, http(s) URLs or {@code data:} URIs; MODEL a hub id, a folder
 * or {@code tiny-random}; QUESTION defaults to the notebook's {@value #PROMPT}.
 */
public final class OcrBookCover {

    /** The seed notebook's question. */
    public static final String PROMPT = "Help me get the title and author information of this book?";

    private OcrBookCover() {
    }

    /** Asks {@code question} about the image (one stateless call) and streams the answer to {@code onText}. */
    public static Answer run(Phi3Vision model, String image, String question, int maxNewTokens,
            Consumer<String> onText) {
        ChatRequest request = ChatRequest.builder()
                .user(question, ImageInput.parse(image))   // images first, then the question
                .maxNewTokens(maxNewTokens)
                .build();
        return model.chatStream(request, onText);
    }

    /** Command-line entry point: IMAGE [MODEL] [QUESTION]. */
    public static void main(String[] args) {
        ExampleMain.run("OcrBookCover IMAGE [MODEL] [QUESTION]", 1, PROMPT, args,
                (model, images, question, out) -> run(model, images.get(0), question, 500, out));
    }
}
