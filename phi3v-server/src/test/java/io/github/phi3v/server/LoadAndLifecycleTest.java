package io.github.phi3v.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

/** Disconnects, overload, shutdown and the API key: the server refuses cleanly and keeps serving. */
class LoadAndLifecycleTest {

    @Test
    void aClientThatDisconnectsMidStreamCancelsItsGeneration() throws Exception {
        int maxTokens = 1500;   // ~10 s of tiny-model decoding if nobody stopped it
        try (Phi3vServer server = Phi3vServer.builder(Fixture.model()).port(0).modelName(Fixture.MODEL).build().start()) {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
                InputStream in = Fixture.postStreamingRaw(s, Fixture.textRequest("tell me a story", maxTokens));
                StringBuilder seen = new StringBuilder();
                while (!seen.toString().contains("\"content\":\"") || countData(seen) < 3) {
                    int c = in.read();
                    assertTrue(c >= 0, "stream ended early: " + seen);
                    seen.append((char) c);
                }
                assertTrue(seen.toString().startsWith("HTTP/1.1 200"), seen.toString());
            }   // the client goes away after the first chunks
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (server.metrics().cancelled() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(1, server.metrics().cancelled(), server.metricsText());
            long generated = server.metrics().completionTokens();
            assertTrue(generated < maxTokens, "generation stopped early: " + generated + " of " + maxTokens);
            assertEquals(1, server.metrics().requests("chat_completions", ChatEndpoint.CLIENT_CLOSED));
            // the server goes on serving
            Fixture.Reply ok = Fixture.post(server, ApiHandler.CHAT, Fixture.textRequest("hi", 3), null);
            assertEquals(200, ok.status(), ok.body());
            assertTrue(server.metricsText().contains("phi3v_cancelled_requests_total 1\n"), server.metricsText());
        }
    }

    private static int countData(CharSequence s) {
        return s.toString().split("data: ", -1).length - 1;
    }

    @Test
    void aHundredRequestsAgainstAQueueOfFour() throws Exception {
        try (Phi3vServer server = Phi3vServer.builder(Fixture.model()).port(0).modelName(Fixture.MODEL).maxRunning(1)
                .maxQueue(4).build().start()) {
            String body = Fixture.textRequest("hello there, how are you", 48);
            Fixture.Reply first = Fixture.post(server, ApiHandler.CHAT, body, null);   // warm-up, fills the prefix cache
            assertEquals(200, first.status(), first.body());
            String expected = first.json().at("/choices/0/message/content").asText();
            long baseTotal = Pointer.totalBytes();
            long baseCount = Pointer.totalCount();
            long baseKv = Fixture.model().kvCacheBytesInUse();

            List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                calls.add(Fixture.HTTP.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                        + ApiHandler.CHAT)).timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
            }
            int ok = 0;
            int busy = 0;
            for (CompletableFuture<HttpResponse<String>> c : calls) {
                HttpResponse<String> r = c.get(180, TimeUnit.SECONDS);
                JsonNode json = Fixture.JSON.readTree(r.body());
                if (r.statusCode() == 200) {
                    ok++;
                    assertEquals(expected, json.at("/choices/0/message/content").asText());
                } else {
                    assertEquals(429, r.statusCode(), r.body());
                    assertEquals("queue_full", json.at("/error/code").asText(), r.body());
                    assertEquals("rate_limit_exceeded", json.at("/error/type").asText(), r.body());
                    assertEquals("1", r.headers().firstValue("Retry-After").orElse(null), "429 says when to retry");
                    busy++;
                }
            }
            System.out.println("[server] 100 requests, maxRunning 1, maxQueue 4: " + ok + " answered, " + busy
                    + " refused with 429");
            assertEquals(100, ok + busy);
            assertTrue(ok >= 5, "the running request and the 4 queued ones are answered: " + ok);
            assertTrue(busy >= 1, "a full queue refuses: " + busy);
            assertEquals(ok + 1, server.metrics().requests("chat_completions", 200));
            assertEquals(busy, server.metrics().requests("chat_completions", 429));
            assertTrue(server.metricsText().contains("phi3v_queue_length 0\n"), server.metricsText());
            assertTrue(server.metricsText().contains("phi3v_running_requests 0\n"), server.metricsText());
            // native memory back to where it was: no tensor or KV cache leaked by the refused or answered ones
            assertEquals(baseTotal, Pointer.totalBytes(), "Pointer.totalBytes()");
            assertEquals(baseCount, Pointer.totalCount(), "Pointer.totalCount()");
            assertEquals(baseKv, Fixture.model().kvCacheBytesInUse(), "KV cache bytes (prefix cache holds one entry)");
            Fixture.Reply after = Fixture.post(server, ApiHandler.CHAT, body, null);
            assertEquals(200, after.status(), after.body());
        }
    }

    @Test
    void closeFinishesRunningRequestsAndRefusesNewOnes() throws Exception {
        Phi3vServer server = Phi3vServer.builder(Fixture.model()).port(0).modelName(Fixture.MODEL).maxRunning(1)
                .build().start();
        int maxTokens = 300;
        CompletableFuture<Fixture.Reply> running = CompletableFuture.supplyAsync(
                () -> Fixture.post(server, ApiHandler.CHAT, Fixture.textRequest("a long answer please", maxTokens), null));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!server.metricsText().contains("phi3v_running_requests 1\n") && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(server.metricsText().contains("phi3v_running_requests 1\n"), server.metricsText());
        CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
        while (!Fixture.get(server, "/health", null).body().contains("shutting_down") && !closing.isDone()) {
            Thread.sleep(5);
        }
        assertTrue(!running.isDone(), "the running request is still running while the server closes");
        Fixture.Reply health = Fixture.get(server, "/health", null);
        assertEquals(503, health.status(), health.body());
        Fixture.Reply refused = Fixture.post(server, ApiHandler.CHAT, Fixture.textRequest("hi", 3), null);
        assertEquals(503, refused.status(), refused.body());
        assertEquals("shutting_down", refused.error().get("code").asText());
        Fixture.Reply done = running.get(120, TimeUnit.SECONDS);
        assertEquals(200, done.status(), done.body());
        assertEquals(maxTokens, done.json().at("/usage/completion_tokens").asInt());
        assertEquals("length", done.json().at("/choices/0/finish_reason").asText());
        closing.get(60, TimeUnit.SECONDS);
    }

    @Test
    void aBadKeyIs401AndHealthStaysOpen() {
        String key = "s3cret-key";
        try (Phi3vServer server = Phi3vServer.builder(Fixture.model()).port(0).modelName(Fixture.MODEL).apiKey(key)
                .build().start()) {
            String body = Fixture.textRequest("hi", 3);
            for (String wrong : new String[] {null, "wrong", "s3cret-ke", "s3cret-key2", ""}) {
                Fixture.Reply r = Fixture.post(server, ApiHandler.CHAT, body, wrong);
                assertEquals(401, r.status(), r.body());
                assertEquals("invalid_api_key", r.error().get("code").asText());
                assertEquals(401, Fixture.get(server, "/v1/models", wrong).status());
            }
            assertEquals(200, Fixture.post(server, ApiHandler.CHAT, body, key).status());
            assertEquals(200, Fixture.get(server, "/v1/models", key).status());
            Fixture.Reply health = Fixture.get(server, "/health", null);
            assertEquals(200, health.status(), health.body());
            assertEquals("ok", health.json().get("status").asText());
            Fixture.Reply metrics = Fixture.get(server, "/metrics", null);
            assertEquals(200, metrics.status());
            assertTrue(metrics.body().contains("phi3v_requests_total{endpoint=\"chat_completions\",status=\"401\"} 5\n"),
                    metrics.body());
            assertTrue(metrics.body().contains("# TYPE phi3v_time_to_first_token_seconds summary"), metrics.body());
        }
    }

    @Test
    void anUnsafeImageLoaderIsRefused() {
        var unsafe = io.github.phi3v.image.ImageLoader.builder().allowPrivateAddresses(true).build();
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Phi3vServer.requireSafeLoader(unsafe));
        assertTrue(e.getMessage().contains("forUntrustedInput"), e.getMessage());
        Phi3vServer.requireSafeLoader(io.github.phi3v.image.ImageLoader.forUntrustedInput());
    }
}
