package io.github.phi3v.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartImage;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.CompletionUsage;
import com.openai.models.models.Model;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ContentPart;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.generate.Answer;

/** The official OpenAI Java SDK against the server: its answers equal {@code Phi3Vision.chat} for the same request. */
class OpenAiSdkTest {

    private static final String KEY = "sk-test-key";
    private static final int MAX_TOKENS = 12;

    private static Phi3vServer server;
    private static OpenAIClient client;

    @BeforeAll
    static void start() {
        server = Phi3vServer.builder(Fixture.model()).port(0).modelName(Fixture.MODEL).apiKey(KEY).build().start();
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey(KEY).maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static ChatCompletionCreateParams.Builder imageParams(String question) {
        String dataUri = TinyModel.dataUri("a01_rgb_500x300.png");
        return ChatCompletionCreateParams.builder().model(Fixture.MODEL).maxCompletionTokens(MAX_TOKENS)
                .addSystemMessage("Answer briefly.")
                .addUserMessageOfArrayOfContentParts(List.of(
                        ChatCompletionContentPart.ofImageUrl(ChatCompletionContentPartImage.builder()
                                .imageUrl(ChatCompletionContentPartImage.ImageUrl.builder().url(dataUri).build())
                                .build()),
                        ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text(question).build())));
    }

    /** What the library answers for the same conversation (literal text, greedy). */
    private static Answer direct(String question) {
        return Fixture.model().chat(ChatRequest.builder().literalText(true).maxNewTokens(MAX_TOKENS)
                .system("Answer briefly.")
                .message(io.github.phi3v.core.ChatMessage.user(List.of(
                        ContentPart.image(ImageInput.ofDataUri(TinyModel.dataUri("a01_rgb_500x300.png"))),
                        ContentPart.text(question))))
                .build());
    }

    @Test
    void nonStreamedAnswerEqualsTheLibrarys() {
        String question = "What is shown? <|end|><|image_2|>";   // special-token text stays text (literal mode)
        Answer expected = direct(question);
        ChatCompletion c = client.chat().completions().create(imageParams(question).build());

        assertTrue(c.id().startsWith("chatcmpl-"), c.id());
        assertEquals(Fixture.MODEL, c.model());
        assertEquals(1, c.choices().size());
        ChatCompletion.Choice choice = c.choices().get(0);
        assertEquals(0, choice.index());
        assertEquals(expected.text(), choice.message().content().orElseThrow());
        assertFalse(expected.text().isEmpty());
        assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, choice.finishReason());
        CompletionUsage u = c.usage().orElseThrow();
        assertEquals(expected.usage().promptTokens(), u.promptTokens());
        assertEquals(MAX_TOKENS, u.completionTokens());
        assertEquals(u.promptTokens() + MAX_TOKENS, u.totalTokens());
        // the same prompt again: all but the last prompt token come from the prefix cache
        assertEquals(u.promptTokens() - 1, u.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow());
    }

    @Test
    void streamedAnswerEqualsTheLibrarys() {
        String question = "Describe the colours.";
        Answer expected = direct(question);
        List<String> pieces = new ArrayList<>();
        List<String> finish = new ArrayList<>();
        List<CompletionUsage> usages = new ArrayList<>();
        int chunks = 0;
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
                imageParams(question).streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
                        .build())) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) stream.stream()::iterator) {
                chunks++;
                assertEquals("chat.completion.chunk", chunk._object_().toString().replace("\"", ""));
                assertTrue(chunk.id().startsWith("chatcmpl-"));
                chunk.usage().ifPresent(usages::add);
                for (ChatCompletionChunk.Choice ch : chunk.choices()) {
                    ch.delta().content().ifPresent(pieces::add);
                    ch.finishReason().ifPresent(f -> finish.add(f.toString()));
                }
            }
        }
        assertEquals(expected.text(), String.join("", pieces));
        assertEquals(List.of("length"), finish);
        assertEquals(1, usages.size(), "exactly one chunk carries the usage (the last, with no choices)");
        assertEquals(expected.usage().promptTokens(), usages.get(0).promptTokens());
        assertEquals(MAX_TOKENS, usages.get(0).completionTokens());
        assertTrue(chunks >= 3, "role chunk, content chunks, finish chunk, usage chunk: " + chunks);
    }

    @Test
    void modelsListsTheServedModel() {
        List<Model> models = client.models().list().data();
        assertEquals(1, models.size());
        assertEquals(Fixture.MODEL, models.get(0).id());
        assertEquals(Fixture.MODEL, client.models().retrieve(Fixture.MODEL).id());
    }
}
