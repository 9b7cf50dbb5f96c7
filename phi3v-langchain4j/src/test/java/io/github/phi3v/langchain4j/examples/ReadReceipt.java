package io.github.phi3v.langchain4j.examples;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.SystemMessage;
import dev.langchain4j.service.UserMessage;

import io.github.phi3v.langchain4j.Phi3VisionChatModel;
import io.github.phi3v.langchain4j.Phi3VisionChatRequestParameters;

/**
 * Example: a LangChain4j AI service that reads a receipt photo into a Java record. LangChain4j appends the
 * record's JSON structure to the prompt (Phi-3-Vision has no constrained decoding) and parses the answer.
 *
 * <pre>
 * java ... io.github.phi3v.langchain4j.examples.ReadReceipt receipt.jpg [MODEL]
 * </pre>
 */
public final class ReadReceipt {

    /**
     * What the service extracts.
     *
     * @param shop the shop's name
     * @param date the date as printed
     * @param total the amount paid
     * @param currency the currency code or symbol
     */
    public record Receipt(String shop, String date, double total, String currency) {
    }

    /** The AI service: LangChain4j implements it on top of the chat model. */
    public interface ReceiptReader {
        /**
         * Reads one receipt.
         *
         * @param instruction what to extract
         * @param receipt the photo
         * @return the fields
         */
        @SystemMessage("You read photos of shop receipts and answer with JSON only.")
        Receipt read(@UserMessage String instruction, @UserMessage ImageContent receipt);
    }

    private ReadReceipt() {
    }

    /**
     * Builds the service over a chat model.
     *
     * @param model the Phi-3-Vision chat model
     * @return the service
     */
    public static ReceiptReader reader(Phi3VisionChatModel model) {
        return AiServices.builder(ReceiptReader.class).chatModel(model).build();
    }

    /**
     * The image as LangChain4j content.
     *
     * @param photo a PNG or JPEG file
     * @return base64 image content with its mime type
     * @throws Exception if the file cannot be read
     */
    public static ImageContent image(Path photo) throws Exception {
        String mime = photo.toString().toLowerCase(java.util.Locale.ROOT).endsWith(".png") ? "image/png" : "image/jpeg";
        return ImageContent.from(Base64.getEncoder().encodeToString(Files.readAllBytes(photo)), mime);
    }

    /**
     * Runs the example.
     *
     * @param args the receipt photo, then optionally a model id or folder
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        String modelId = args.length > 1 ? args[1] : "microsoft/Phi-3-vision-128k-instruct";
        try (Phi3VisionChatModel model = Phi3VisionChatModel.builder().modelIdOrPath(modelId).numCrops(4)
                .defaultRequestParameters(Phi3VisionChatRequestParameters.builder().maxOutputTokens(200).build())
                .build()) {
            Receipt r = reader(model).read("Read the shop name, the date, the total and the currency.",
                    image(Path.of(args[0])));
            System.out.println(r);
        }
    }
}
