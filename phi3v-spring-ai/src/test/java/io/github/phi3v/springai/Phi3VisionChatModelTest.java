package io.github.phi3v.springai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.ToolResponseMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.content.Media;
import org.springframework.ai.tool.function.FunctionToolCallback;
import org.springframework.core.io.FileSystemResource;
import org.springframework.util.MimeTypeUtils;

import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.Usage;
import io.github.phi3v.image.ImageProcessingException;
import io.github.phi3v.testsupport.LoopbackImageServer;
import reactor.core.Disposable;

/**
 * {@link Phi3VisionChatModel} through Spring AI's public API ({@code ChatModel.call/stream}, {@code ChatClient})
 * against the golden tiny model: the same answers and counts as {@link Phi3Vision#chat}, streams that concatenate
 * to the answer and stop when disposed, and clear errors (never a hang: every wait has a timeout).
 */
@Timeout(120)
class Phi3VisionChatModelTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static Phi3Vision phi;
    private static LoopbackImageServer server;
    private static Phi3VisionChatModel model;

    @BeforeAll
    static void load() throws Exception {
        phi = TinyModel.load();
        server = new LoopbackImageServer(TinyModel.image(TinyModel.IMAGE));
        model = new Phi3VisionChatModel(phi);
    }

    @AfterAll
    static void close() {
        if (phi != null) {
            phi.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static Media png() {
        return new Media(MimeTypeUtils.IMAGE_PNG, new FileSystemResource(TinyModel.image(TinyModel.IMAGE)));
    }

    private static Prompt imagePrompt(int maxTokens) {
        return new Prompt(UserMessage.builder().text("What is shown?").media(png()).build(),
                ChatOptions.builder().maxTokens(maxTokens).build());
    }

    private static Answer coreImageAnswer(int maxTokens) {
        return phi.chat(io.github.phi3v.core.ChatRequest.builder().literalText(true).maxNewTokens(maxTokens)
                .user("What is shown?", ImageInput.of(TinyModel.image(TinyModel.IMAGE))).build());
    }

    @Test
    void textAndImageMediaGiveTheCoreAnswerAndUsage() {
        ChatResponse r = model.call(imagePrompt(12));
        Answer expected = coreImageAnswer(12);
        assertEquals(expected.text(), r.getResult().getOutput().getText());
        assertEquals(expected.usage().promptTokens(), r.getMetadata().getUsage().getPromptTokens());
        assertEquals(expected.usage().generatedTokens(), r.getMetadata().getUsage().getCompletionTokens());
        assertEquals(expected.usage().promptTokens() + expected.usage().generatedTokens(),
                r.getMetadata().getUsage().getTotalTokens());
        Usage native1 = assertInstanceOf(Usage.class, r.getMetadata().getUsage().getNativeUsage());
        assertTrue(native1.imageTokens() > 0, "the image reached the prompt");
        assertEquals(expected.finishReason().name(), r.getResult().getMetadata().getFinishReason());
        assertEquals("model-f32", r.getMetadata().getModel());
    }

    @Test
    void urlAndDataUriMediaAndAChatClientGiveTheSameAnswer() {
        String text = ChatClient.create(model).prompt()
                .user(u -> u.text("What is shown?")
                        .media(new Media(MimeTypeUtils.IMAGE_PNG, server.url(LoopbackImageServer.PATH))))
                .options(ChatOptions.builder().maxTokens(8).build())
                .call().content();
        assertEquals(coreImageAnswer(8).text(), text);
        String b64;
        try {
            b64 = java.util.Base64.getEncoder().encodeToString(java.nio.file.Files.readAllBytes(
                    TinyModel.image(TinyModel.IMAGE)));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Media dataUri = Media.builder().mimeType(MimeTypeUtils.IMAGE_PNG).data("data:image/png;base64," + b64).build();
        ChatResponse r = model.call(new Prompt(UserMessage.builder().text("What is shown?").media(dataUri).build(),
                ChatOptions.builder().maxTokens(8).build()));
        assertEquals(text, r.getResult().getOutput().getText(), "a data: URI is the same image");
    }

    @Test
    void conversationAndSamplingOptionsMapToTheCore() {
        Prompt prompt = new Prompt(List.of(new SystemMessage("Be brief."), new UserMessage("Hi"),
                new AssistantMessage("Hello."), new UserMessage("Tell me something.")),
                Phi3VisionChatOptions.builder().temperature(0.9).topP(0.8).topK(20).seed(99L).maxTokens(10).build());
        String a = model.call(prompt).getResult().getOutput().getText();
        String b = model.call(prompt).getResult().getOutput().getText();
        io.github.phi3v.core.ChatRequest.Builder core = io.github.phi3v.core.ChatRequest.builder().literalText(true)
                .system("Be brief.").user("Hi").assistant("Hello.").user("Tell me something.");
        Answer sampled = phi.chat(core.config(GenerationConfig.builder().doSample(true).temperature(0.9f).topP(0.8f)
                .topK(20).seed(99L).maxNewTokens(10).build()).build());
        assertEquals(sampled.text(), a);
        assertEquals(a, b, "same seed, same text");
        Answer greedy = phi.chat(core.config(GenerationConfig.defaults().withMaxNewTokens(10)).build());
        assertNotEquals(greedy.text(), a, "temperature > 0 sampled");
    }

    @Test
    void defaultOptionsFillWhatTheRequestLeavesUnset() {
        Phi3VisionChatModel withDefaults = new Phi3VisionChatModel(phi,
                Phi3VisionChatOptions.builder().maxTokens(2).build(), true, null);
        ChatResponse r = withDefaults.call(new Prompt("Hi"));
        assertTrue(r.getMetadata().getUsage().getCompletionTokens() <= 2);
        ChatResponse longer = withDefaults.call(new Prompt("Hi", ChatOptions.builder().maxTokens(5).build()));
        Answer core = phi.chat(io.github.phi3v.core.ChatRequest.builder().literalText(true).maxNewTokens(5).user("Hi")
                .build());
        assertEquals(core.text(), longer.getResult().getOutput().getText(), "the request's value wins");
        assertEquals(2, ((Phi3VisionChatOptions) withDefaults.getDefaultOptions()).getMaxTokens());
    }

    @Test
    void streamedPiecesConcatenateToTheAnswerAndTheLastCarriesTheUsage() {
        List<ChatResponse> chunks = model.stream(imagePrompt(24)).collectList().block(WAIT);
        Answer expected = coreImageAnswer(24);
        StringBuilder text = new StringBuilder();
        chunks.forEach(c -> text.append(c.getResult().getOutput().getText()));
        assertEquals(expected.text(), text.toString());
        assertTrue(chunks.size() > 2, "several pieces, got " + chunks.size());
        ChatResponse last = chunks.get(chunks.size() - 1);
        assertEquals("", last.getResult().getOutput().getText());
        assertEquals(expected.finishReason().name(), last.getResult().getMetadata().getFinishReason());
        assertEquals(expected.usage().promptTokens(), last.getMetadata().getUsage().getPromptTokens());
        assertEquals(expected.usage().generatedTokens(), last.getMetadata().getUsage().getCompletionTokens());

        List<String> content = ChatClient.create(model).prompt(imagePrompt(24)).stream().content().collectList()
                .block(WAIT);
        assertEquals(expected.text(), String.join("", content));
    }

    @Test
    void disposingTheSubscriptionCancelsTheGeneration() throws Exception {
        // The same request uncancelled: its decode time after the first token is what a cancel must save.
        ChatResponse full = model.call(imagePrompt(400));
        Usage fullUsage = (Usage) full.getMetadata().getUsage().getNativeUsage();
        assertTrue(fullUsage.generatedTokens() > 20, "an uncancelled answer has " + fullUsage.generatedTokens()
                + " tokens");
        ExecutorService executor = Executors.newSingleThreadExecutor();
        Phi3VisionChatModel m = new Phi3VisionChatModel(phi, new Phi3VisionChatOptions(), true, executor);
        List<java.util.concurrent.CompletableFuture<Answer>> answers = new CopyOnWriteArrayList<>();
        m.onStreamAnswer(answers::add);
        List<String> pieces = new CopyOnWriteArrayList<>();
        AtomicInteger terminal = new AtomicInteger();
        CountDownLatch first = new CountDownLatch(1);
        Disposable d = m.stream(imagePrompt(400)).subscribe(r -> {
            pieces.add(r.getResult().getOutput().getText());
            first.countDown();
        }, e -> terminal.incrementAndGet(), terminal::incrementAndGet);
        assertTrue(first.await(60, TimeUnit.SECONDS), "a first piece arrived");
        d.dispose();
        executor.shutdown();
        assertTrue(executor.awaitTermination(60, TimeUnit.SECONDS), "the cancelled generation ended");
        // The dispose reached the core's CancellationToken: the generation ended CANCELLED, well short of the
        // uncancelled answer's length.
        Answer cancelled = answers.get(0).get(60, TimeUnit.SECONDS);
        assertEquals(io.github.phi3v.core.generate.FinishReason.CANCELLED, cancelled.finishReason());
        assertTrue(cancelled.usage().generatedTokens() < fullUsage.generatedTokens(), "generated "
                + cancelled.usage().generatedTokens() + " of " + fullUsage.generatedTokens());
        assertTrue(pieces.size() < 10, "pieces stopped after dispose: " + pieces.size());
        assertEquals(0, terminal.get(), "a disposed subscriber gets no completion or error");
    }

    @Test
    void unsupportedFeaturesAreRefusedByName() {
        assertUnsupported("application/pdf", new Prompt(UserMessage.builder().text("x")
                .media(new Media(MimeTypeUtils.parseMimeType("application/pdf"), new org.springframework.core.io.ByteArrayResource(new byte[] {1, 2}))).build()));
        assertUnsupported("TOOL", new Prompt(List.of(new UserMessage("x"), ToolResponseMessage.builder()
                .responses(List.of(new ToolResponseMessage.ToolResponse("1", "weather", "sunny"))).build(),
                new UserMessage("y"))));
        assertUnsupported("frequencyPenalty", new Prompt("x", ChatOptions.builder().frequencyPenalty(0.5).build()));
        assertUnsupported("presencePenalty", new Prompt("x", ChatOptions.builder().presencePenalty(0.5).build()));
        assertUnsupported("tool calls", new Prompt(List.of(new UserMessage("x"), AssistantMessage.builder().content("")
                .toolCalls(List.of(new AssistantMessage.ToolCall("1", "function", "weather", "{}"))).build(),
                new UserMessage("y"))));
        UnsupportedOperationException tools = assertThrows(UnsupportedOperationException.class,
                () -> ChatClient.create(model).prompt("x")
                        .toolCallbacks(FunctionToolCallback.builder("weather", (String city) -> "sunny")
                                .inputType(String.class).description("weather").build())
                        .call().content());
        assertTrue(tools.getMessage().contains("tools"), tools.getMessage());
    }

    private static void assertUnsupported(String named, Prompt prompt) {
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> model.call(prompt));
        assertTrue(e.getMessage().contains(named), "'" + e.getMessage() + "' should name " + named);
        Throwable streamed = assertThrows(RuntimeException.class, () -> model.stream(prompt).blockLast(WAIT));
        assertInstanceOf(UnsupportedOperationException.class, streamed, "the stream's error signal");
    }

    @Test
    void optionsOutOfRangeAreRefusedByName() {
        assertInvalid("temperature", ChatOptions.builder().temperature(-1.0).build());
        assertInvalid("topP", ChatOptions.builder().topP(2.0).build());
        assertInvalid("topK", ChatOptions.builder().topK(-3).build());
        assertInvalid("maxTokens", ChatOptions.builder().maxTokens(0).build());
        assertInvalid("stopSequences", ChatOptions.builder().stopSequences(List.of("")).build());
        assertInvalid("numCrops", Phi3VisionChatOptions.builder().numCrops(0).build());
        assertInvalid("context", ChatOptions.builder().maxTokens(phi.maxContext() + 1).build());
    }

    private static void assertInvalid(String named, ChatOptions options) {
        Prompt prompt = new Prompt("x", options);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.call(prompt));
        assertTrue(e.getMessage().contains(named), "'" + e.getMessage() + "' should name " + named);
        IllegalArgumentException streamed = assertThrows(IllegalArgumentException.class,
                () -> model.stream(prompt).blockLast(WAIT));
        assertTrue(streamed.getMessage().contains(named), streamed.getMessage());
    }

    @Test
    void anImageUrlThatFailsToLoadIsAnErrorOnBothPaths() {
        Prompt prompt = new Prompt(UserMessage.builder().text("x")
                .media(new Media(MimeTypeUtils.IMAGE_PNG, server.url("/missing.png"))).build());
        assertThrows(ImageProcessingException.class, () -> model.call(prompt));
        Prompt notAnImage = new Prompt(UserMessage.builder().text("x").media(new Media(MimeTypeUtils.IMAGE_PNG,
                new org.springframework.core.io.ByteArrayResource(new byte[] {1, 2, 3}))).build());
        assertThrows(ImageProcessingException.class, () -> model.call(notAnImage));
        RuntimeException streamed = assertThrows(RuntimeException.class, () -> model.stream(prompt).blockLast(WAIT));
        assertSame(ImageProcessingException.class, streamed.getClass());
    }
}
