package io.github.phi3v.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.data.message.VideoContent;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.image.ImageProcessingException;
import io.github.phi3v.testsupport.LoopbackImageServer;

/**
 * {@link Phi3VisionStreamingChatModel} through LangChain4j's {@code StreamingChatModel.chat}: pieces concatenate
 * to the answer of the blocking model, cancelling through the {@code StreamingHandle} stops the generation with
 * no further callbacks, and every failure ends in {@code onError} (never a hang: each wait has a timeout).
 */
@Timeout(120)
class Phi3VisionStreamingChatModelTest {

    private static Phi3Vision phi;
    private static LoopbackImageServer server;
    private static Phi3VisionStreamingChatModel streaming;
    private static Phi3VisionChatModel blocking;

    @BeforeAll
    static void load() throws Exception {
        phi = TinyModel.load();
        server = new LoopbackImageServer(TinyModel.image(TinyModel.IMAGE));
        streaming = Phi3VisionStreamingChatModel.builder().model(phi).build();
        blocking = Phi3VisionChatModel.builder().model(phi).build();
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

    /** Records every callback; {@link #done} completes with the response or the error. */
    static class Recorder implements StreamingChatResponseHandler {
        final List<String> pieces = new CopyOnWriteArrayList<>();
        final CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        final AtomicInteger completions = new AtomicInteger();
        final AtomicInteger errors = new AtomicInteger();

        @Override
        public void onPartialResponse(PartialResponse piece, PartialResponseContext context) {
            pieces.add(piece.text());
        }

        @Override
        public void onCompleteResponse(ChatResponse response) {
            completions.incrementAndGet();
            done.complete(response);
        }

        @Override
        public void onError(Throwable error) {
            errors.incrementAndGet();
            done.completeExceptionally(error);
        }

        Throwable error() throws InterruptedException {
            try {
                done.get(60, TimeUnit.SECONDS);
                return null;
            } catch (java.util.concurrent.ExecutionException e) {
                return e.getCause();
            } catch (java.util.concurrent.TimeoutException e) {
                throw new AssertionError("the stream neither completed nor failed within 60 s", e);
            }
        }
    }

    private static ChatRequest imageRequest(int maxTokens) {
        return ChatRequest.builder()
                .messages(UserMessage.from(ImageContent.from(TinyModel.imageBase64(TinyModel.IMAGE), "image/png"),
                        TextContent.from("Describe the picture.")))
                .maxOutputTokens(maxTokens)
                .build();
    }

    @Test
    void piecesConcatenateToTheAnswerOfTheBlockingModel() throws Exception {
        Recorder r = new Recorder();
        streaming.chat(imageRequest(24), r);
        ChatResponse streamed = r.done.get(60, TimeUnit.SECONDS);
        ChatResponse expected = blocking.chat(imageRequest(24));

        assertEquals(expected.aiMessage().text(), streamed.aiMessage().text());
        assertEquals(String.join("", r.pieces), streamed.aiMessage().text());
        assertTrue(r.pieces.size() > 1, "streamed in several pieces, got " + r.pieces);
        assertEquals(expected.tokenUsage().inputTokenCount(), streamed.tokenUsage().inputTokenCount());
        assertEquals(expected.tokenUsage().outputTokenCount(), streamed.tokenUsage().outputTokenCount());
        assertEquals(expected.finishReason(), streamed.finishReason());
        assertEquals(1, r.completions.get());
        assertEquals(0, r.errors.get());
    }

    @Test
    void cancellingThroughTheStreamingHandleStopsTheGenerationWithNoMoreCallbacks() throws Exception {
        int fullTokens = blocking.chat(imageRequest(200)).tokenUsage().outputTokenCount();
        assertTrue(fullTokens > 5, "an uncancelled answer has " + fullTokens + " tokens");
        ExecutorService executor = Executors.newSingleThreadExecutor();
        List<Runnable> tasks = new CopyOnWriteArrayList<>();
        try (Phi3VisionStreamingChatModel model = Phi3VisionStreamingChatModel.builder().model(phi)
                .executor(task -> {
                    tasks.add(task);
                    executor.execute(task);
                }).build()) {
            AtomicReference<Boolean> cancelledFlag = new AtomicReference<>();
            Recorder r = new Recorder() {
                @Override
                public void onPartialResponse(PartialResponse piece, PartialResponseContext context) {
                    super.onPartialResponse(piece, context);
                    context.streamingHandle().cancel();
                    cancelledFlag.set(context.streamingHandle().isCancelled());
                }
            };
            model.chat(imageRequest(200), r);
            executor.shutdown();
            assertTrue(executor.awaitTermination(60, TimeUnit.SECONDS), "the cancelled generation ended");
            assertEquals(1, r.pieces.size(), "no piece after cancel");
            assertEquals(0, r.completions.get(), "no onCompleteResponse after cancel");
            assertEquals(0, r.errors.get(), "no onError after cancel");
            assertEquals(Boolean.TRUE, cancelledFlag.get());
            // The cancel reached the core: the generation ended CANCELLED, long before the full answer.
            io.github.phi3v.core.generate.Answer core = ((StreamingRun) tasks.get(0)).answer();
            assertEquals(io.github.phi3v.core.generate.FinishReason.CANCELLED, core.finishReason());
            assertTrue(core.usage().generatedTokens() <= 2, "stopped within one token of the cancel, generated "
                    + core.usage().generatedTokens() + " of " + fullTokens);
        }
        // The model is free for the next request.
        Recorder next = new Recorder();
        streaming.chat(imageRequest(3), next);
        assertNull(next.error());
    }

    @Test
    void unsupportedContentEndsInOnError() throws Exception {
        Recorder r = new Recorder();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from(TextContent.from("x"),
                VideoContent.from("AAAA", "video/mp4"))).build(), r);
        Throwable e = r.error();
        assertInstanceOf(UnsupportedFeatureException.class, e);
        assertTrue(e.getMessage().contains("VIDEO"), e.getMessage());
        assertEquals(1, r.errors.get());
        assertEquals(0, r.completions.get());
    }

    @Test
    void parametersOutOfRangeEndInOnError() throws Exception {
        Recorder r = new Recorder();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from("x")).topP(2.0).build(), r);
        Throwable e = r.error();
        assertInstanceOf(InvalidRequestException.class, e);
        assertTrue(e.getMessage().contains("topP"), e.getMessage());
    }

    @Test
    void anImageUrlThatFailsToLoadEndsInOnError() throws Exception {
        Recorder r = new Recorder();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from(TextContent.from("x"),
                ImageContent.from(server.url("/missing.png")))).build(), r);
        Throwable e = r.error();
        assertInstanceOf(InvalidRequestException.class, e);
        assertInstanceOf(ImageProcessingException.class, e.getCause());
        assertTrue(r.pieces.isEmpty());
        assertEquals(0, r.completions.get());
    }

    @Test
    void aHandlerThatThrowsStopsTheStreamAndHearsItOnce() throws Exception {
        RuntimeException boom = new IllegalStateException("handler failed");
        Recorder r = new Recorder() {
            @Override
            public void onPartialResponse(PartialResponse piece, PartialResponseContext context) {
                super.onPartialResponse(piece, context);
                throw boom;
            }
        };
        streaming.chat(imageRequest(100), r);
        assertSame(boom, r.error());
        assertEquals(1, r.pieces.size());
        assertEquals(1, r.errors.get());
        assertEquals(0, r.completions.get());
    }
}
