package io.github.phi3v.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelRequestContext;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.service.output.OutputParsingException;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.langchain4j.examples.ReadReceipt;

/**
 * Runs the receipt example's AI service on the golden tiny model. A random-weight model cannot write JSON, so
 * what is checked is what holds for any model: the request LangChain4j builds (system prompt, the image, the
 * JSON format instructions naming the record's fields) reaches the model and is answered, and an answer that is
 * not JSON surfaces as LangChain4j's {@link OutputParsingException} quoting the model's text.
 */
@Timeout(120)
class ReadReceiptExampleTest {

    @Test
    void theAiServiceSendsTheImageWithJsonInstructionsAndReportsUnparseableOutput() throws Exception {
        List<dev.langchain4j.model.chat.request.ChatRequest> requests = new CopyOnWriteArrayList<>();
        List<ChatResponse> responses = new CopyOnWriteArrayList<>();
        ChatModelListener spy = new ChatModelListener() {
            @Override
            public void onRequest(ChatModelRequestContext ctx) {
                requests.add(ctx.chatRequest());
            }

            @Override
            public void onResponse(ChatModelResponseContext ctx) {
                responses.add(ctx.chatResponse());
            }
        };
        try (Phi3Vision phi = TinyModel.load();
                Phi3VisionChatModel model = Phi3VisionChatModel.builder().model(phi).listeners(List.of(spy))
                        .defaultRequestParameters(Phi3VisionChatRequestParameters.builder().maxOutputTokens(12).build())
                        .build()) {
            ReadReceipt.ReceiptReader reader = ReadReceipt.reader(model);
            OutputParsingException e = assertThrows(OutputParsingException.class, () -> reader.read(
                    "Read the shop name, the date, the total and the currency.",
                    ReadReceipt.image(TinyModel.image("a09_photo_640x427.jpg"))));

            assertEquals(1, requests.size());
            List<ChatMessage> messages = requests.get(0).messages();
            assertEquals(2, messages.size());
            assertInstanceOf(SystemMessage.class, messages.get(0));
            UserMessage user = assertInstanceOf(UserMessage.class, messages.get(1));
            String text = user.contents().stream().filter(TextContent.class::isInstance)
                    .map(c -> ((TextContent) c).text()).reduce("", String::concat);
            assertTrue(text.contains("Read the shop name"), text);
            assertTrue(text.contains("JSON") && text.contains("shop") && text.contains("total")
                    && text.contains("currency"), "format instructions name the record's fields: " + text);
            assertEquals(1, user.contents().stream().filter(ImageContent.class::isInstance).count());

            assertEquals(1, responses.size(), "the model answered");
            String answer = responses.get(0).aiMessage().text();
            assertTrue(e.getMessage().contains("Receipt"), e.getMessage());
            assertTrue(answer.isEmpty() || e.getMessage().contains(answer.strip()),
                    "the parsing error quotes the model's text '" + answer + "': " + e.getMessage());
            assertTrue(responses.get(0).tokenUsage().inputTokenCount() > 100, "the image's tokens were in the prompt");
        }
    }
}
