package io.github.phi3v.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.AudioContent;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.PdfFileContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.data.message.VideoContent;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.listener.ChatModelErrorContext;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;

import io.github.phi3v.core.ContentPart;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.image.ImageProcessingException;
import io.github.phi3v.testsupport.LoopbackImageServer;

/**
 * {@link Phi3VisionChatModel} through LangChain4j's public {@code ChatModel.chat} API against the golden tiny
 * model: the same answers and counts as {@link Phi3Vision#chat} for the same request, parameters mapped, and
 * every refusal a clear exception that listeners see too.
 */
@Timeout(120)
class Phi3VisionChatModelTest {

    private static Phi3Vision phi;
    private static LoopbackImageServer server;
    private static final List<Throwable> LISTENED_ERRORS = new CopyOnWriteArrayList<>();
    private static Phi3VisionChatModel model;

    @BeforeAll
    static void load() throws Exception {
        phi = TinyModel.load();
        server = new LoopbackImageServer(TinyModel.image(TinyModel.IMAGE));
        model = Phi3VisionChatModel.builder().model(phi)
                .listeners(List.of(new ChatModelListener() {
                    @Override
                    public void onError(ChatModelErrorContext ctx) {
                        LISTENED_ERRORS.add(ctx.error());
                    }
                }))
                .build();
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
        assertTrue(phi == null || !phi.isClosed(), "a given model is not closed by the adapter");
        if (phi != null) {
            phi.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static io.github.phi3v.core.ChatRequest.Builder coreRequest(int maxNewTokens) {
        return io.github.phi3v.core.ChatRequest.builder().literalText(true).maxNewTokens(maxNewTokens);
    }

    @Test
    void textAndBase64ImageGiveTheCoreAnswerAndUsage() {
        ChatResponse r = model.chat(ChatRequest.builder()
                .messages(UserMessage.from(TextContent.from("What is shown?"),
                        ImageContent.from(TinyModel.imageBase64(TinyModel.IMAGE), "image/png")))
                .maxOutputTokens(12)
                .build());
        Answer expected = phi.chat(coreRequest(12).message(io.github.phi3v.core.ChatMessage.user(List.of(
                ContentPart.text("What is shown?"), ContentPart.image(ImageInput.of(TinyModel.image(TinyModel.IMAGE))))))
                .build());

        assertEquals(expected.text(), r.aiMessage().text());
        assertEquals(expected.usage().promptTokens(), r.tokenUsage().inputTokenCount());
        assertEquals(expected.usage().generatedTokens(), r.tokenUsage().outputTokenCount());
        assertEquals(expected.usage().promptTokens() + expected.usage().generatedTokens(),
                r.tokenUsage().totalTokenCount());
        assertTrue(expected.usage().imageTokens() > 0, "the image reached the prompt");
        Phi3VisionTokenUsage usage = assertInstanceOf(Phi3VisionTokenUsage.class, r.tokenUsage());
        assertEquals(expected.usage().imageTokens(), usage.usage().imageTokens());
        assertEquals(ResponseMapper.finishReason(expected.finishReason()), r.finishReason());
        assertEquals("model-f32", r.modelName());
    }

    @Test
    void urlAndDataUriImagesGiveTheSameAnswerAsTheFile() {
        ChatResponse r = model.chat(ChatRequest.builder()
                .messages(UserMessage.from(ImageContent.from(server.url(LoopbackImageServer.PATH)),
                        TextContent.from("Describe.")))
                .maxOutputTokens(8)
                .build());
        Answer expected = phi.chat(coreRequest(8).user("Describe.", ImageInput.of(TinyModel.image(TinyModel.IMAGE)))
                .build());
        assertEquals(expected.text(), r.aiMessage().text());
        assertEquals(expected.usage().imageTokens(), ((Phi3VisionTokenUsage) r.tokenUsage()).usage().imageTokens());
        ChatResponse dataUri = model.chat(ChatRequest.builder()
                .messages(UserMessage.from(ImageContent.from(java.net.URI.create("data:image/png;base64,"
                        + TinyModel.imageBase64(TinyModel.IMAGE))), TextContent.from("Describe.")))
                .maxOutputTokens(8)
                .build());
        assertEquals(expected.text(), dataUri.aiMessage().text(), "a data: URL is the same image");
    }

    @Test
    void wholeConversationMapsAndTheNextTurnReusesThePrefixCache() {
        List<dev.langchain4j.data.message.ChatMessage> first = List.of(SystemMessage.from("Answer briefly."),
                UserMessage.from(ImageContent.from(TinyModel.imageBase64("a02_rgb_336x336.png"), "image/png"),
                        TextContent.from("What colour?")));
        ChatResponse r1 = model.chat(ChatRequest.builder().messages(first).maxOutputTokens(6).build());
        List<dev.langchain4j.data.message.ChatMessage> second = new java.util.ArrayList<>(first);
        second.add(AiMessage.from(r1.aiMessage().text()));
        second.add(UserMessage.from("And the shape?"));
        ChatResponse r2 = model.chat(ChatRequest.builder().messages(second).maxOutputTokens(6).build());

        ImageInput img = ImageInput.of(TinyModel.image("a02_rgb_336x336.png"));
        Answer expected = phi.chat(coreRequest(6).system("Answer briefly.").user("What colour?", img)
                .assistant(r1.aiMessage().text()).user("And the shape?").build());
        assertEquals(expected.text(), r2.aiMessage().text());
        assertEquals(expected.usage().promptTokens(), r2.tokenUsage().inputTokenCount());
        assertTrue(((Phi3VisionTokenUsage) r2.tokenUsage()).usage().cachedPromptTokens() > 0,
                "the second turn prefilled from the first turn's KV cache");
    }

    @Test
    void samplingParametersAndSeedMapToTheCoreConfig() {
        ChatRequestParameters params = Phi3VisionChatRequestParameters.builder()
                .temperature(0.9).topP(0.8).topK(20).seed(1234L).maxOutputTokens(10).build();
        ChatRequest request = ChatRequest.builder().messages(UserMessage.from("Tell me something.")).parameters(params)
                .build();
        ChatResponse a = model.chat(request);
        ChatResponse b = model.chat(request);
        Answer expected = phi.chat(coreRequest(10).user("Tell me something.")
                .config(GenerationConfig.builder().doSample(true).temperature(0.9f).topP(0.8f).topK(20).seed(1234L)
                        .maxNewTokens(10).build())
                .build());
        assertEquals(expected.text(), a.aiMessage().text());
        assertEquals(a.aiMessage().text(), b.aiMessage().text(), "same seed, same text");

        Answer greedy = phi.chat(coreRequest(10).user("Tell me something.").build());
        assertNotEquals(greedy.text(), a.aiMessage().text(), "temperature > 0 sampled instead of greedy decoding");
        ChatResponse zero = model.chat(ChatRequest.builder().messages(UserMessage.from("Tell me something."))
                .temperature(0.0).maxOutputTokens(10).build());
        assertEquals(greedy.text(), zero.aiMessage().text(), "temperature 0 decodes greedily");
    }

    @Test
    void stopSequencesAndMaxOutputTokensEndTheAnswer() {
        ChatRequest.Builder base = ChatRequest.builder().messages(UserMessage.from("Count."));
        ChatResponse full = model.chat(base.maxOutputTokens(16).build());
        String text = full.aiMessage().text();
        assertTrue(text.length() >= 6, "the tiny model produced text to cut: '" + text + "'");
        String stop = text.substring(3, 6);
        ChatResponse cut = model.chat(ChatRequest.builder().messages(UserMessage.from("Count."))
                .maxOutputTokens(16).stopSequences(List.of(stop)).build());
        assertEquals(text.substring(0, text.indexOf(stop)), cut.aiMessage().text());
        assertEquals(FinishReason.STOP, cut.finishReason());

        Answer core = phi.chat(coreRequest(3).user("Count.").build());
        ChatResponse three = model.chat(ChatRequest.builder().messages(UserMessage.from("Count.")).maxOutputTokens(3)
                .build());
        assertEquals(core.usage().generatedTokens(), three.tokenUsage().outputTokenCount());
        assertEquals(ResponseMapper.finishReason(core.finishReason()), three.finishReason());
        assertTrue(three.tokenUsage().outputTokenCount() <= 3);
    }

    @Test
    void defaultRequestParametersApplyWhereTheRequestLeavesValuesUnset() {
        try (Phi3VisionChatModel limited = Phi3VisionChatModel.builder().model(phi)
                .defaultRequestParameters(ChatRequestParameters.builder().maxOutputTokens(2).build()).build()) {
            ChatResponse r = limited.chat(ChatRequest.builder().messages(UserMessage.from("Hi")).build());
            assertTrue(r.tokenUsage().outputTokenCount() <= 2);
            ChatResponse longer = limited.chat(ChatRequest.builder().messages(UserMessage.from("Hi"))
                    .maxOutputTokens(5).build());
            Answer core = phi.chat(coreRequest(5).user("Hi").build());
            assertEquals(core.text(), longer.aiMessage().text(), "the request's value wins");
        }
        assertTrue(!phi.isClosed(), "closing an adapter leaves a given model open");
    }

    @Test
    void unsupportedContentAndFeaturesAreRefusedByName() {
        int before = LISTENED_ERRORS.size();
        assertUnsupported("AUDIO", ChatRequest.builder().messages(UserMessage.from(TextContent.from("x"),
                AudioContent.from("AAAA", "audio/wav"))).build());
        assertUnsupported("VIDEO", ChatRequest.builder().messages(UserMessage.from(TextContent.from("x"),
                VideoContent.from("AAAA", "video/mp4"))).build());
        assertUnsupported("PDF", ChatRequest.builder().messages(UserMessage.from(TextContent.from("x"),
                PdfFileContent.from("AAAA", "application/pdf"))).build());
        assertUnsupported("tools", ChatRequest.builder().messages(UserMessage.from("x"))
                .toolSpecifications(ToolSpecification.builder().name("weather").build()).build());
        assertUnsupported("TOOL_EXECUTION_RESULT", ChatRequest.builder().messages(UserMessage.from("x"),
                ToolExecutionResultMessage.from("id1", "weather", "sunny"), UserMessage.from("y")).build());
        assertUnsupported("JSON schema", ChatRequest.builder().messages(UserMessage.from("x"))
                .responseFormat(ResponseFormat.builder().type(dev.langchain4j.model.chat.request.ResponseFormatType.JSON)
                        .jsonSchema(JsonSchema.builder().name("R").rootElement(JsonObjectSchema.builder()
                                .addStringProperty("a").build()).build()).build())
                .build());
        assertUnsupported("frequencyPenalty", ChatRequest.builder().messages(UserMessage.from("x"))
                .frequencyPenalty(0.5).build());
        assertUnsupported("presencePenalty", ChatRequest.builder().messages(UserMessage.from("x"))
                .presencePenalty(0.5).build());
        assertUnsupported("responseFormat JSON", ChatRequest.builder().messages(UserMessage.from("x"))
                .responseFormat(ResponseFormat.JSON).build());
        assertUnsupported("toolChoice REQUIRED", ChatRequest.builder().messages(UserMessage.from("x"))
                .toolChoice(dev.langchain4j.model.chat.request.ToolChoice.REQUIRED).build());
        assertUnsupported("tool execution requests", ChatRequest.builder().messages(UserMessage.from("x"),
                AiMessage.from(List.of(dev.langchain4j.agent.tool.ToolExecutionRequest.builder().id("1")
                        .name("weather").arguments("{}").build())), UserMessage.from("y")).build());
        assertEquals(before + 11, LISTENED_ERRORS.size(), "listeners saw every refusal");
    }

    private static void assertUnsupported(String named, ChatRequest request) {
        UnsupportedFeatureException e = assertThrows(UnsupportedFeatureException.class, () -> model.chat(request));
        assertTrue(e.getMessage().contains(named), "'" + e.getMessage() + "' should name " + named);
    }

    @Test
    void parametersOutOfRangeAreRefusedByName() {
        assertInvalid("temperature", ChatRequest.builder().messages(UserMessage.from("x")).temperature(-0.5).build());
        assertInvalid("topP", ChatRequest.builder().messages(UserMessage.from("x")).topP(1.5).build());
        assertInvalid("topK", ChatRequest.builder().messages(UserMessage.from("x")).topK(-1).build());
        assertInvalid("maxOutputTokens", ChatRequest.builder().messages(UserMessage.from("x")).maxOutputTokens(0)
                .build());
        assertInvalid("stopSequences", ChatRequest.builder().messages(UserMessage.from("x"))
                .stopSequences(List.of("")).build());
        assertInvalid("numCrops", ChatRequest.builder().messages(UserMessage.from("x"))
                .parameters(Phi3VisionChatRequestParameters.builder().numCrops(0).build()).build());
        assertInvalid("last message", ChatRequest.builder().messages(UserMessage.from("x"), AiMessage.from("y"))
                .build());
        assertInvalid("context", ChatRequest.builder().messages(UserMessage.from("x"))
                .maxOutputTokens(phi.maxContext() + 1).build());
    }

    @Test
    void imagesThatCannotBeLoadedAreAClearInvalidRequest() {
        InvalidRequestException notFound = assertInvalid("", ChatRequest.builder().messages(UserMessage.from(
                TextContent.from("x"), ImageContent.from(server.url("/missing.png")))).build());
        assertInstanceOf(ImageProcessingException.class, notFound.getCause());
        InvalidRequestException notAnImage = assertInvalid("", ChatRequest.builder().messages(UserMessage.from(
                TextContent.from("x"), ImageContent.from("AAECAwQ=", "image/png"))).build());
        assertInstanceOf(ImageProcessingException.class, notAnImage.getCause());
        assertInvalid("application/pdf", ChatRequest.builder().messages(UserMessage.from(TextContent.from("x"),
                ImageContent.from("AAAA", "application/pdf"))).build());
        assertInvalid("mime type", ChatRequest.builder().messages(UserMessage.from(TextContent.from("x"),
                new ImageContent(dev.langchain4j.data.image.Image.builder().base64Data("AAAA").build()))).build());
    }

    private static InvalidRequestException assertInvalid(String named, ChatRequest request) {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> model.chat(request));
        assertTrue(e.getMessage().contains(named), "'" + e.getMessage() + "' should name " + named);
        return e;
    }
}
