package example.modular;

import java.nio.file.Path;
import java.util.Arrays;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;

/**
 * The consumer's question, asked from a named module: prints the answer and which modules the classes
 * were loaded from (verify.groovy checks both, so a classpath fallback cannot pass unnoticed).
 */
public final class AskAboutImage {

    public static void main(String[] args) {
        Module core = Phi3Vision.class.getModule();
        System.out.println("app module: " + AskAboutImage.class.getModule().getName());
        System.out.println("core module: " + core.getName());
        System.out.println("runtime exported: " + core.isExported("io.github.phi3v.core.runtime"));
        System.out.println("model exported: " + core.isExported("io.github.phi3v.core.model"));
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(Path.of(args[0])).dtype("float32").build();
                Session chat = phi.session()) {
            Answer answer = chat.image(Path.of(args[1])).maxNewTokens(8).ask("What is shown in this image?");
            System.out.println("ids: " + Arrays.toString(answer.tokenIds()));
            System.out.println("finish: " + answer.finishReason());
            System.out.println("answer: " + answer.text());
        }
    }
}
