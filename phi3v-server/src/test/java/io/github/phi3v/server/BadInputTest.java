package io.github.phi3v.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import io.github.phi3v.core.ChatMessage;
import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ContentPart;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.generate.Answer;

/**
 * Bad input gets OpenAI's error shape with the right status and {@code param}, and a good request after
 * it still gets the library's answer (nothing broke for other clients).
 */
class BadInputTest {

    private static Phi3vServer server;
    private static String expectedText;

    @BeforeAll
    static void start() {
        server = Phi3vServer.builder(Fixture.model()).port(0).modelName(Fixture.MODEL).maxImagesPerRequest(2)
                .maxBodyBytes(1 << 20).build().start();
        expectedText = Fixture.model().chat(ChatRequest.builder().literalText(true).maxNewTokens(6)
                .user("hello there").build()).text();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static JsonNode assertError(Fixture.Reply r, int status, String param, String code) {
        assertEquals(status, r.status(), r.body());
        JsonNode e = r.error();
        assertTrue(e != null && e.isObject(), r.body());
        assertTrue(e.get("message").isTextual() && !e.get("message").asText().isEmpty(), r.body());
        assertTrue(e.get("type").isTextual(), r.body());
        assertTrue(e.has("param") && e.has("code"), "error has param and code (maybe null): " + r.body());
        assertEquals(param, e.get("param").isNull() ? null : e.get("param").asText(), r.body());
        if (code != null) {
            assertEquals(code, e.get("code").asText(), r.body());
        }
        assertGoodRequestStillWorks();
        return e;
    }

    private static void assertGoodRequestStillWorks() {
        Fixture.Reply ok = Fixture.post(server, ApiHandler.CHAT, Fixture.textRequest("hello there", 6), null);
        assertEquals(200, ok.status(), ok.body());
        assertEquals(expectedText, ok.json().at("/choices/0/message/content").asText());
    }

    private static Fixture.Reply chat(String body) {
        return Fixture.post(server, ApiHandler.CHAT, body, null);
    }

    @Test
    void malformedJson() {
        JsonNode e = assertError(chat("{\"model\": \"phi3v-tiny\", \"messages\": [}"), 400, null, null);
        assertEquals("invalid_request_error", e.get("type").asText());
        assertTrue(e.get("message").asText().contains("parse the JSON"), e.toString());
    }

    @Test
    void unknownFieldsAreIgnored() {
        Fixture.Reply r = chat("{\"model\":\"phi3v-tiny\",\"max_tokens\":6,\"frequency_penalty\":0,\"user\":\"u1\","
                + "\"metadata\":{\"a\":1},\"future_field\":[1,2],\"messages\":[{\"role\":\"user\",\"name\":\"bob\","
                + "\"content\":\"hello there\",\"extra\":true}]}");
        assertEquals(200, r.status(), r.body());
        assertEquals(expectedText, r.json().at("/choices/0/message/content").asText());
        assertEquals("chat.completion", r.json().get("object").asText());
        assertEquals("length", r.json().at("/choices/0/finish_reason").asText());
    }

    @Test
    void wrongTypesNameTheField() {
        assertError(chat("{\"model\":\"phi3v-tiny\",\"max_tokens\":\"ten\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hi\"}]}"), 400, "max_tokens", null);
        assertError(chat("{\"model\":\"phi3v-tiny\",\"messages\":\"hi\"}"), 400, "messages", null);
        assertError(chat("{\"model\":\"phi3v-tiny\",\"messages\":[{\"role\":\"user\",\"content\":42}]}"), 400,
                "messages[0].content", null);
        assertError(chat("{\"model\":\"phi3v-tiny\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                + "\"image_url\",\"image_url\":{\"url\":7}}]}]}"), 400, "messages[0].content[0].image_url.url", null);
        assertError(chat("{\"model\":\"phi3v-tiny\",\"temperature\":5,\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"hi\"}]}"), 400, "temperature", null);
        assertError(chat("{\"model\":\"phi3v-tiny\",\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"hi\"}]}"), 400, "stream", null);
        assertError(chat("{\"model\":\"phi3v-tiny\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}"), 400,
                "messages[0].role", null);
        assertError(chat("{\"model\":\"phi3v-tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                + "{\"role\":\"assistant\",\"content\":\"b\"}]}"), 400, "messages[1]", null);
        assertError(chat("[1,2]"), 400, null, null);
    }

    @Test
    void onlyOneChoice() {
        assertError(chat("{\"model\":\"phi3v-tiny\",\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
                400, "n", null);
    }

    @Test
    void unknownModelIs404() {
        assertError(chat("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 404, "model",
                "model_not_found");
        assertError(Fixture.get(server, "/v1/models/gpt-4o", null), 404, "model", "model_not_found");
    }

    @Test
    void anImageUrlThatIsNotAnImage() {
        String notImage = "data:image/png;base64," + Base64.getEncoder().encodeToString("hello, not a png".getBytes());
        assertError(chat(Fixture.imageRequest(notImage, 4)), 400, "messages[0].content[0].image_url.url",
                "invalid_image");
        assertError(chat(Fixture.imageRequest("file:///etc/passwd", 4)), 400,
                "messages[0].content[0].image_url.url", "invalid_image_url");
        assertError(chat(Fixture.imageRequest("data:text/plain;base64,aGVsbG8=", 4)), 400,
                "messages[0].content[0].image_url.url", "invalid_image_url");
    }

    @Test
    void aBadImageAmongSeveralIsNamedByItsIndex() {
        String good = "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + TinyModel.dataUri("a06_tiny_40x30.png")
                + "\"}}";
        String bad = "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,"
                + Base64.getEncoder().encodeToString("hello, not a png".getBytes()) + "\"}}";
        JsonNode e = assertError(chat("{\"model\":\"phi3v-tiny\",\"messages\":[{\"role\":\"user\",\"content\":["
                + good + "," + bad + ",{\"type\":\"text\",\"text\":\"compare\"}]}]}"), 400,
                "messages[0].content[1].image_url.url", "invalid_image");
        assertTrue(e.get("message").asText().startsWith("image 2 of 2: "), e.toString());
    }

    @Test
    void tooManyImages() {
        String img = "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + TinyModel.dataUri("a06_tiny_40x30.png")
                + "\"}}";
        assertError(chat("{\"model\":\"phi3v-tiny\",\"messages\":[{\"role\":\"user\",\"content\":[" + img + "," + img
                + "," + img + ",{\"type\":\"text\",\"text\":\"compare\"}]}]}"), 400, "messages[0].content[2]",
                "too_many_images");
    }

    @Test
    void aPromptBeyondTheContext() {
        String longText = "word ".repeat(3000);   // > 2048 tokens of context
        assertError(chat(Fixture.textRequest(longText, 8)), 400, "messages", "context_length_exceeded");
        assertError(chat(Fixture.textRequest("hi", 5000)), 400, "messages", "context_length_exceeded");
    }

    @Test
    void aBodyBeyondTheLimitIs413() {
        String big = Fixture.textRequest("x".repeat(2 << 20), 4);
        assertError(chat(big), 413, null, "request_too_large");
    }

    @Test
    void privateAddressesAreRefusedBeforeConnecting() throws Exception {
        // A loopback listener on a port the loader does not allow: it must never see a connection.
        try (ServerSocket trap = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            AtomicInteger accepted = new AtomicInteger();
            trap.setSoTimeout(200);
            Thread watcher = new Thread(() -> {
                while (!trap.isClosed()) {
                    try {
                        trap.accept().close();
                        accepted.incrementAndGet();
                    } catch (SocketTimeoutException e) {
                        // poll again
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            watcher.start();
            for (String url : List.of("http://127.0.0.1:" + trap.getLocalPort() + "/x.png",
                    "http://localhost:" + trap.getLocalPort() + "/x.png",
                    "http://10.0.0.1/x.png", "https://169.254.169.254/latest/meta-data", "http://[::1]/x.png")) {
                long t0 = System.nanoTime();
                assertError(chat(Fixture.imageRequest(url, 4)), 400, "messages[0].content[0].image_url.url",
                        "invalid_image_url");
                // refused by the address check, not by a connect timeout
                assertTrue((System.nanoTime() - t0) / 1e9 < 20, url);
            }
            trap.close();
            watcher.join();
            assertEquals(0, accepted.get(), "connections to the refused loopback port");
        }
    }

    @Test
    void anAllowedImageServerIsFetched() {
        Answer expected = Fixture.model().chat(ChatRequest.builder().literalText(true).maxNewTokens(5)
                .message(ChatMessage.user(List.of(ContentPart.image(ImageInput.of(URI.create(Fixture.imageUrl()))),
                        ContentPart.text("What is shown?"))))
                .build());
        Fixture.Reply r = chat(Fixture.imageRequest(Fixture.imageUrl(), 5));
        assertEquals(200, r.status(), r.body());
        assertEquals(expected.text(), r.json().at("/choices/0/message/content").asText());
        assertEquals(expected.usage().promptTokens(), r.json().at("/usage/prompt_tokens").asInt());
    }

    @Test
    void aStreamedRequestRefusedBeforeItsFirstTokenGetsAStatus() {
        String notImage = "data:image/png;base64," + Base64.getEncoder().encodeToString("hello, not a png".getBytes());
        String stream = "{\"stream\":true,";
        Fixture.Reply r = chat(Fixture.imageRequest(notImage, 4).replaceFirst("\\{", stream));
        assertError(r, 400, "messages[0].content[0].image_url.url", "invalid_image");
        assertError(chat(Fixture.textRequest("hi", 5000).replaceFirst("\\{", stream)), 400, "messages",
                "context_length_exceeded");
    }

    @Test
    void unknownPathsAndMethods() {
        assertError(Fixture.get(server, "/v1/embeddings", null), 404, null, "unknown_url");
        assertError(Fixture.get(server, ApiHandler.CHAT, null), 405, null, "method_not_allowed");
    }
}
