package io.github.phi3v.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartImage;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;

import io.github.phi3v.core.ChatMessage;
import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ContentPart;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.generate.Answer;

/**
 * Continuous batching through the server, over real HTTP with the official OpenAI Java SDK: concurrent
 * requests are decoded together and still get exactly their one-by-one answers; a slow reader does not
 * hold up the others.
 */
class BatchedServingTest {

    private static final String[] IMAGES = {"a01_rgb_500x300.png", "a02_rgb_336x336.png", "a06_tiny_40x30.png",
        "a10_rgb_42x19.png"};
    private static final int MAX_TOKENS = 24;

    /** Request i: its own question; an image for three in four of them, a different one each time. */
    private static String question(int i) {
        return "Question " + i + ": what do you see" + ",".repeat(i) + "?";
    }

    private static String image(int i) {
        return i % 4 == 3 ? null : IMAGES[i % IMAGES.length];
    }

    private static ChatCompletionCreateParams params(int i) {
        ChatCompletionCreateParams.Builder b = ChatCompletionCreateParams.builder().model(Fixture.MODEL)
                .maxCompletionTokens(MAX_TOKENS);
        if (image(i) == null) {
            return b.addUserMessage(question(i)).build();
        }
        return b.addUserMessageOfArrayOfContentParts(List.of(
                ChatCompletionContentPart.ofImageUrl(ChatCompletionContentPartImage.builder()
                        .imageUrl(ChatCompletionContentPartImage.ImageUrl.builder().url(TinyModel.dataUri(image(i)))
                                .build()).build()),
                ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text(question(i)).build())))
                .build();
    }

    /** The library's one-by-one answer to request i ({@code Phi3Vision.chat}, literal text, greedy). */
    private static Answer oneByOne(int i) {
        ChatRequest.Builder b = ChatRequest.builder().literalText(true).maxNewTokens(MAX_TOKENS);
        ChatRequest r = image(i) == null ? b.user(question(i)).build()
                : b.message(ChatMessage.user(List.of(ContentPart.image(ImageInput.ofDataUri(TinyModel.dataUri(image(i)))),
                        ContentPart.text(question(i))))).build();
        return Fixture.model().chat(r);
    }

    @Test
    void eightConcurrentRequestsGetTheirOneByOneAnswersDecodedTogether() throws Exception {
        int n = 8;
        List<Answer> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            expected.add(oneByOne(i));
        }
        try (Phi3vServer server = Phi3vServer.builder(Fixture.model()).port(0).modelName(Fixture.MODEL).maxRunning(n)
                .build().start()) {
            OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("unused")
                    .maxRetries(0).build();
            long batchedBefore = server.metrics().stepsWithBatchOfAtLeast(2);
            ExecutorService pool = Executors.newFixedThreadPool(n);
            try {
                List<Future<String[]>> calls = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    int k = i;
                    // Half non-streamed, half streamed: both go through the same batch.
                    calls.add(pool.submit(() -> k % 2 == 0 ? complete(client, k) : stream(client, k)));
                }
                for (int i = 0; i < n; i++) {
                    String[] got = calls.get(i).get(3, TimeUnit.MINUTES);
                    assertEquals(expected.get(i).text(), got[0], "request " + i + " (image " + image(i) + ")");
                    assertEquals(OpenAiJson.finishReason(expected.get(i).finishReason()), got[1],
                            "finish reason of request " + i);
                }
            } finally {
                pool.shutdownNow();
                client.close();
            }
            long batched = server.metrics().stepsWithBatchOfAtLeast(2) - batchedBefore;
            String metrics = Fixture.get(server, "/metrics", null).body();
            System.out.println("[BatchedServingTest] decode steps with 2+ sequences: " + batched + "\n"
                    + metrics.lines().filter(l -> l.startsWith("phi3v_batch_size")).reduce("", (a, l) -> a + l + "\n"));
            assertTrue(batched > 0, "the concurrent requests shared decode steps:\n" + metrics);
            assertTrue(metrics.contains("# TYPE phi3v_batch_size histogram"), metrics);
            assertTrue(metrics.contains("phi3v_batch_size_bucket{le=\"8\"}"), metrics);
            assertTrue(metrics.contains("phi3v_running_requests 0\n"), metrics);
        }
    }

    private static String[] complete(OpenAIClient client, int i) {
        ChatCompletion c = client.chat().completions().create(params(i));
        ChatCompletion.Choice choice = c.choices().get(0);
        return new String[] {choice.message().content().orElse(""), choice.finishReason().toString()};
    }

    private static String[] stream(OpenAIClient client, int i) {
        StringBuilder text = new StringBuilder();
        String finish = null;
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params(i))) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                for (ChatCompletionChunk.Choice ch : chunk.choices()) {
                    ch.delta().content().ifPresent(text::append);
                    if (ch.finishReason().isPresent()) {
                        finish = ch.finishReason().get().toString();
                    }
                }
            }
        }
        return new String[] {text.toString(), finish};
    }

    @Test
    void aClientThatDoesNotReadDoesNotHoldUpTheOthers() throws Exception {
        int slowTokens = 600;   // ~100 KB of events: more than the socket buffers hold for a reader that waits
        String slowBody = Fixture.textRequest("tell me a story", slowTokens).replaceFirst("\\{", "{\"stream\":true,");
        String slowExpected = Fixture.model().chat(ChatRequest.builder().literalText(true).maxNewTokens(slowTokens)
                .user("tell me a story").build()).text();
        try (Phi3vServer server = Phi3vServer.builder(Fixture.model()).port(0).modelName(Fixture.MODEL).maxRunning(4)
                .build().start();
             Socket slow = new Socket()) {
            slow.setReceiveBufferSize(4096);
            slow.connect(new InetSocketAddress("127.0.0.1", server.port()));
            OutputStream out = slow.getOutputStream();
            byte[] b = slowBody.getBytes(StandardCharsets.UTF_8);
            out.write(("POST " + ApiHandler.CHAT + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Connection: close\r\nContent-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!server.metricsText().contains("phi3v_running_requests 1\n") && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            // The slow client reads nothing while three others are answered.
            List<CompletableFuture<Fixture.Reply>> others = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                String q = "hello number " + i;
                others.add(CompletableFuture.supplyAsync(() -> Fixture.post(server, ApiHandler.CHAT,
                        Fixture.textRequest(q, 12), null)));
            }
            for (int i = 0; i < 3; i++) {
                Fixture.Reply r = others.get(i).get(2, TimeUnit.MINUTES);
                assertEquals(200, r.status(), r.body());
                String direct = Fixture.model().chat(ChatRequest.builder().literalText(true).maxNewTokens(12)
                        .user("hello number " + i).build()).text();
                assertEquals(direct, r.json().at("/choices/0/message/content").asText());
            }
            assertTrue(server.metrics().stepsWithBatchOfAtLeast(2) > 0, "the others were decoded next to the slow one");
            // Now it reads: its whole answer arrived intact.
            String sse = new String(readAll(slow.getInputStream()), StandardCharsets.UTF_8);
            assertTrue(sse.startsWith("HTTP/1.1 200"), sse.substring(0, Math.min(200, sse.length())));
            StringBuilder text = new StringBuilder();
            for (String line : sse.split("\n")) {
                if (line.startsWith("data: {")) {
                    JsonNode chunk = Fixture.JSON.readTree(line.substring("data: ".length()));
                    JsonNode content = chunk.at("/choices/0/delta/content");
                    if (content.isTextual()) {
                        text.append(content.asText());
                    }
                }
            }
            assertFalse(slowExpected.isEmpty());
            assertEquals(slowExpected, text.toString(), "the slow client's answer");
            assertTrue(sse.contains("data: [DONE]"), "the stream ended properly");
        }
    }

    @Test
    void aRequestWhoseKvCacheDoesNotFreeUpInTimeGets503WithRetryAfter() throws Exception {
        io.github.phi3v.core.model.Phi3VModel arch = Fixture.model().model();
        // Room for the long request's cache (2048 positions) and a little more, not for a second 512-position one.
        long budget = arch.kvCacheBytes(2048) + arch.kvCacheBytes(256);
        io.github.phi3v.image.ImageLoader loader = io.github.phi3v.image.ImageLoader.forUntrustedInput();
        try (io.github.phi3v.core.Phi3Vision model = TinyModel.builder(loader).kvCacheBytes(budget)
                .kvCacheWait(java.time.Duration.ofMillis(100)).build();
             Phi3vServer server = Phi3vServer.builder(model).port(0).modelName(Fixture.MODEL).maxRunning(4).build()
                     .start()) {
            try (Socket holder = new Socket("127.0.0.1", server.port())) {
                InputStream in = Fixture.postStreamingRaw(holder, Fixture.textRequest("tell me a story", 1500));
                StringBuilder seen = new StringBuilder();
                while (!seen.toString().contains("\"content\":\"")) {   // it runs and holds its KV cache
                    int c = in.read();
                    assertTrue(c >= 0, "stream ended early: " + seen);
                    seen.append((char) c);
                }
                java.net.http.HttpResponse<String> busy = Fixture.HTTP.send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + server.port() + ApiHandler.CHAT))
                        .header("Content-Type", "application/json")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(Fixture.textRequest("hello", 300)))
                        .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
                assertEquals(503, busy.statusCode(), busy.body());
                JsonNode error = Fixture.JSON.readTree(busy.body()).get("error");
                assertEquals("kv_cache_full", error.get("code").asText(), busy.body());
                assertTrue(error.get("message").asText().contains("kvCacheBytes"), busy.body());
                assertEquals("1", busy.headers().firstValue("Retry-After").orElse(null), "503 says when to retry");
            }   // the long request's client leaves: its sequence is cancelled and its memory comes back
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            Fixture.Reply retried;
            do {
                Thread.sleep(50);
                retried = Fixture.post(server, ApiHandler.CHAT, Fixture.textRequest("hello", 300), null);
            } while (retried.status() == 503 && System.nanoTime() < deadline);
            assertEquals(200, retried.status(), "the retry succeeds once the memory is back: " + retried.body());
            String direct = Fixture.model().chat(ChatRequest.builder().literalText(true).maxNewTokens(300)
                    .user("hello").build()).text();
            assertEquals(direct, retried.json().at("/choices/0/message/content").asText());
        }
    }

    private static byte[] readAll(InputStream in) throws java.io.IOException {
        return in.readAllBytes();   // Connection: close ends the response with the stream
    }
}
