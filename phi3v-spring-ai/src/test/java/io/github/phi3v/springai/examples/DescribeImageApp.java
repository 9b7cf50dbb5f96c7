package io.github.phi3v.springai.examples;

import java.nio.file.Path;

import org.springframework.ai.chat.client.ChatClient;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.core.io.FileSystemResource;
import org.springframework.util.MimeTypeUtils;

/**
 * Example: a Spring Boot application whose only Phi-3-Vision setup is the {@code phi3v-spring-ai} dependency and
 * the property {@code phi3v.model}; it asks one question about an image through Spring AI's {@link ChatClient}.
 *
 * <pre>
 * java ... io.github.phi3v.springai.examples.DescribeImageApp --phi3v.model=microsoft/Phi-3-vision-128k-instruct \
 *     --phi3v.num-crops=4 --image=chart.png
 * </pre>
 */
@SpringBootApplication
public class DescribeImageApp {

    /** Created by Spring. */
    public DescribeImageApp() {
    }

    /**
     * Asks about one image.
     *
     * @param chatClientBuilder the builder Spring AI's auto-configuration provides over the Phi-3-Vision model
     * @param image a PNG image file
     * @param question the question
     * @return the answer
     */
    public static String describe(ChatClient.Builder chatClientBuilder, Path image, String question) {
        return chatClientBuilder.build().prompt()
                .user(u -> u.text(question).media(MimeTypeUtils.IMAGE_PNG, new FileSystemResource(image)))
                .call()
                .content();
    }

    /**
     * Starts the application, prints the answer and exits.
     *
     * @param args Spring Boot arguments: {@code --phi3v.model=...}, {@code --image=...}, optionally
     *     {@code --question=...}
     */
    public static void main(String[] args) {
        try (var context = SpringApplication.run(DescribeImageApp.class, args)) {
            String image = context.getEnvironment().getRequiredProperty("image");
            String question = context.getEnvironment().getProperty("question", "What is shown in this image?");
            System.out.println(describe(context.getBean(ChatClient.Builder.class), Path.of(image), question));
        }
    }
}
