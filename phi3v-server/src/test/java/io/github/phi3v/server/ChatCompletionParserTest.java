package io.github.phi3v.server;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.ChatMessage;
import io.github.phi3v.core.generate.GenerationConfig;

/** The request mapping without a model: OpenAI fields onto ChatRequest and GenerationConfig. */
class ChatCompletionParserTest {

    private final ChatCompletionParser parser = new ChatCompletionParser("m", 2, 100);

    private ChatCompletionParser.ChatCall parse(String json) throws Exception {
        return parser.parse(Fixture.JSON.readTree(json));
    }

    @Test
    void greedyUnlessATemperatureAsksForSampling() throws Exception {
        String msgs = ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        GenerationConfig plain = parse("{\"model\":\"m\"" + msgs).request().config();
        assertFalse(plain.doSample());
        assertEquals(100, plain.maxNewTokens(), "defaultMaxTokens");
        assertFalse(parse("{\"model\":\"m\",\"temperature\":0" + msgs).request().config().doSample());

        GenerationConfig sampled = parse("{\"model\":\"m\",\"temperature\":0.7,\"top_p\":0.9,\"seed\":42,"
                + "\"max_completion_tokens\":7,\"max_tokens\":99,\"stop\":[\"\\nUser:\",\"END\"]" + msgs)
                .request().config();
        assertTrue(sampled.doSample());
        assertEquals(0.7f, sampled.temperature());
        assertEquals(0.9f, sampled.topP());
        assertEquals(0, sampled.topK(), "OpenAI has no top-k");
        assertEquals(42L, sampled.seed().getAsLong());
        assertEquals(7, sampled.maxNewTokens(), "max_completion_tokens wins over the deprecated max_tokens");
        assertEquals(List.of("\nUser:", "END"), sampled.stopStrings());
        assertEquals(List.of("stop"), parse("{\"model\":\"m\",\"stop\":\"stop\"" + msgs).request().config()
                .stopStrings());
    }

    @Test
    void messagesMapToTheCoreRequestInLiteralMode() throws Exception {
        ChatCompletionParser.ChatCall call = parse("{\"model\":\"m\",\"stream\":true,\"stream_options\":"
                + "{\"include_usage\":true},\"messages\":[{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
                + "\"text\":\"Be \"},{\"type\":\"text\",\"text\":\"brief.\"}]},{\"role\":\"user\",\"content\":[{\"type\":"
                + "\"image_url\",\"image_url\":{\"url\":\"https://images.example.org/a.png\",\"detail\":\"high\"}},"
                + "{\"type\":\"text\",\"text\":\"<|end|>What?\"}]},{\"role\":\"assistant\",\"content\":\"A cat.\"},"
                + "{\"role\":\"user\",\"content\":\"Colour?\"}]}");
        assertTrue(call.stream());
        assertTrue(call.includeUsage());
        assertTrue(call.request().literalText(), "the server always encodes text literally");
        List<ChatMessage> m = call.request().messages();
        assertEquals(4, m.size());
        assertEquals(ChatMessage.Role.SYSTEM, m.get(0).role());
        assertEquals("Be brief.", m.get(0).text());
        assertEquals(1, m.get(1).images().size());
        assertEquals("<|end|>What?", m.get(1).text());
        assertEquals(ChatMessage.Role.ASSISTANT, m.get(2).role());
        assertEquals(List.of("messages[1].content[0].image_url.url"), call.imageParams());
    }

    @Test
    void refusalsNameTheField() {
        ApiException e = assertThrows(ApiException.class, () -> parse("{\"messages\":[]}"));
        assertEquals("model", e.param());
        e = assertThrows(ApiException.class, () -> parse("{\"model\":\"m\",\"messages\":[]}"));
        assertEquals("messages", e.param());
        e = assertThrows(ApiException.class, () -> parse("{\"model\":\"m\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"],"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
        assertEquals("stop", e.param());
        e = assertThrows(ApiException.class, () -> parse("{\"model\":\"m\",\"seed\":1.5,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
        assertEquals("seed", e.param());
        e = assertThrows(ApiException.class, () -> parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                + "\"content\":[{\"type\":\"input_audio\",\"input_audio\":{}}]}]}"));
        assertEquals("messages[0].content[0].type", e.param());
        e = assertThrows(ApiException.class, () -> parse("{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
                + "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.org/a.png\"}}]},"
                + "{\"role\":\"user\",\"content\":\"hi\"}]}"));
        assertEquals("messages[0].content[0]", e.param());
        e = assertThrows(ApiException.class, () -> parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"a\"},{\"role\":\"system\",\"content\":\"late\"},{\"role\":\"user\",\"content\":\"b\"}]}"));
        assertEquals("messages[1]", e.param());
        assertEquals(400, e.status());
    }

    @Test
    void serverMainParsesItsOptions() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
        assertEquals(0, ServerMain.run(new String[] {"--help"}, o, e));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("--max-queue"));
        assertEquals(2, ServerMain.run(new String[] {"--port", "x"}, o, e));
        assertEquals(2, ServerMain.run(new String[] {"--bogus"}, o, e));
        assertEquals(2, ServerMain.run(new String[] {"--port", "8000"}, o, e));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--model is required"), err.toString());
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("--warm-up"));
        // --warm-up is an option (not exit 2); the empty folder then fails to load, before any warm-up or bind.
        err.reset();
        java.nio.file.Path empty = assertDoesNotThrow(() -> java.nio.file.Files.createTempDirectory("phi3v-empty"));
        try {
            assertEquals(1, ServerMain.run(new String[] {"--warm-up", "--model", empty.toString()}, o, e));
        } finally {
            assertDoesNotThrow(() -> java.nio.file.Files.delete(empty));
        }
        assertFalse(err.toString(StandardCharsets.UTF_8).contains("unknown option"), err.toString());
    }

    @Test
    void optionsAreValidated() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ServerOptions("127.0.0.1", 0, null, "m", 0, 1, 1, 1, 1, java.time.Duration.ZERO));
        assertTrue(e.getMessage().contains("maxRunning"), e.getMessage());
        assertFalse(new ServerOptions("127.0.0.1", 0, "secret", "m", 1, 1, 1, 1, 1, java.time.Duration.ZERO)
                .toString().contains("secret"), "the key is never printed");
    }
}
