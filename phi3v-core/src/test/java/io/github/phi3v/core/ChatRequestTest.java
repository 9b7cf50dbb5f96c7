package io.github.phi3v.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.List;

import org.junit.jupiter.api.Test;

/** Validation of requests and image references: each bad input gets an exception naming the field. */
class ChatRequestTest {

    private static final String PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

    private static void assertRefused(String expectedPart, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(expectedPart), "expected '" + expectedPart + "' in: " + e.getMessage());
    }

    @Test
    void badRequestsNameTheField() {
        assertRefused("messages: the message list is empty", () -> ChatRequest.builder().build());
        assertRefused("assistant message cannot have images", () -> new ChatMessage(ChatMessage.Role.ASSISTANT,
                List.of(ContentPart.text("hi"), ContentPart.image(ImageInput.ofBase64(PNG_1X1)))));
        assertRefused("messages[1]: a system message must be the first",
                () -> ChatRequest.builder().user("a").message(ChatMessage.system("s")).user("b").build());
        assertRefused("messages[1]: the last message must be the user's",
                () -> ChatRequest.builder().user("a").assistant("b").build());
        assertRefused("user message needs at least one part", () -> ChatMessage.user(List.of()));
        assertRefused("numCrops must be >= 1", () -> ChatRequest.builder().numCrops(0));
    }

    @Test
    void badImageReferencesNameWhatIsWrong() {
        assertRefused("is not an existing file, an http(s):// or file: URL, a data:image/...;base64, URI, or base64",
                () -> ImageInput.parse("not an image reference"));
        assertRefused("is not an existing file", () -> ImageInput.parse("aGVsbG8gd29ybGQ="));   // base64 of text
        assertRefused("media type 'text/plain'", () -> ImageInput.ofDataUri("data:text/plain;base64," + PNG_1X1));
        assertRefused("must be base64-encoded", () -> ImageInput.ofDataUri("data:image/png," + PNG_1X1));
        assertRefused("image data URI is not valid base64", () -> ImageInput.ofDataUri("data:image/png;base64,***"));
        assertRefused("has no ','", () -> ImageInput.ofDataUri("data:image/png;base64"));
        assertRefused("base64 image is empty", () -> ImageInput.ofBase64(""));
        assertRefused("has no scheme", () -> ImageInput.of(URI.create("cat.png")));
    }

    @Test
    void goodReferencesAreRecognised() {
        assertTrue(ImageInput.parse("data:image/png;base64," + PNG_1X1).toString().contains("data URI (image/png"));
        assertTrue(ImageInput.parse(PNG_1X1).toString().contains("base64 image"));
        assertTrue(ImageInput.parse("https://example.com/a.png").toString().contains("URL https://example.com/a.png"));
        assertEquals(4, ImageInput.parse(PNG_1X1).withNumCrops(4).numCrops().getAsInt());
    }

    @Test
    void imagesAreNumberedAcrossTheConversation() {
        ImageInput a = ImageInput.ofBase64(PNG_1X1);
        ImageInput b = ImageInput.ofBase64(PNG_1X1).withNumCrops(2);
        ChatRequest r = ChatRequest.builder().system("s").user("first", a).assistant("ok")
                .message(ChatMessage.user(List.of(ContentPart.text("compare "), ContentPart.image(b), ContentPart.text("."))))
                .build();
        assertEquals(List.of(a, b), r.images());
        var history = PromptPlanner.history(r.messages(), false);
        assertEquals("<|image_1|>\nfirst", history.get(1).content());
        assertEquals("compare <|image_2|>\n.", history.get(3).content());
        // HF mode: a message whose text has tags gets none inserted; literal mode always inserts them.
        ChatRequest tagged = ChatRequest.builder().user("see <|image_1|>", a).build();
        assertEquals("see <|image_1|>", PromptPlanner.history(tagged.messages(), false).get(0).content());
        assertEquals("<|image_1|>\nsee <|image_1|>", PromptPlanner.history(tagged.messages(), true).get(0).content());
    }
}
