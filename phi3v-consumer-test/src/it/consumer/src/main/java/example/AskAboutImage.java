package example;

import java.nio.file.Path;
import java.util.Arrays;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;

/** A minimal application on phi3v-java: one question about one image, the answer printed. */
public final class AskAboutImage {

    public static void main(String[] args) {
        Path modelDir = Path.of(args[0]);
        Path image = Path.of(args[1]);
        // float32 and greedy decoding (the default): the same answer on every run.
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(modelDir).dtype("float32").build();
                Session chat = phi.session()) {
            Answer answer = chat.image(image).maxNewTokens(8).ask("What is shown in this image?");
            System.out.println("ids: " + Arrays.toString(answer.tokenIds()));
            System.out.println("finish: " + answer.finishReason());
            System.out.println("answer: " + answer.text());
        }
    }
}
