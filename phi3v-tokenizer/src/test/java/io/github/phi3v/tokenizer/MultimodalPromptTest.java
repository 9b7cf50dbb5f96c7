package io.github.phi3v.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

/** Chat template, image tags and multimodal prompt encoding beyond the processor golden rows. */
class MultimodalPromptTest {

    @Test
    void chatTemplate() {
        List<Message> chat = List.of(Message.system("Be brief."), Message.user("<|image_1|>\nHi"));
        assertEquals("<|system|>\nBe brief.<|end|>\n<|user|>\n<|image_1|>\nHi<|end|>\n<|assistant|>\n",
                ChatTemplate.render(chat, true));
        assertEquals("<|system|>\nBe brief.<|end|>\n<|user|>\n<|image_1|>\nHi<|end|>\n",
                ChatTemplate.render(chat, false));
        List<Message> answered = List.of(Message.user("Q"), Message.assistant("A"));
        assertEquals("<|user|>\nQ<|end|>\n<|assistant|>\nA<|end|>\n", ChatTemplate.render(answered, true));
        assertEquals("", ChatTemplate.render(List.of(), false));
        assertThrows(IllegalArgumentException.class, () -> ChatTemplate.render(List.of(), true));
        assertThrows(NullPointerException.class, () -> new Message("user", null));
    }

    @Test
    void imageTags() {
        assertEquals("<|image_3|>", ImageTags.tag(3));
        assertThrows(IllegalArgumentException.class, () -> ImageTags.tag(0));
        String p = "<|image_2|> a <|image_01|> b <|image_١|> <|image_|> <|image_x|> <|image_2|>";
        assertEquals(List.of(2, 1, 1, 2), ImageTags.imageIdsInOrder(p));
        assertEquals(List.of(1, 2), ImageTags.referencedImageIds(p));
        assertEquals(List.of(), ImageTags.referencedImageIds("no tags <|image|>"));
        assertThrows(IllegalArgumentException.class, () -> ImageTags.imageIdsInOrder("<|image_99999999999|>"));
    }

    @Test
    void imageTagIsSurroundedByBos() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        int[] expected = IntStream.concat(IntStream.concat(IntStream.of(1), IntStream.generate(() -> -1).limit(5)),
                IntStream.of(1)).toArray();
        assertArrayEquals(expected, t.encodeMultimodal("<|image_1|>", new int[] {5}));
        // Two adjacent tags leave a lone <s> between the runs; counts follow the tag's number.
        assertArrayEquals(new int[] {1, -2, -2, -2, 1, -1, 1}, t.encodeMultimodal("<|image_2|><|image_1|>",
                new int[] {1, 3}));
        // Zero tokens for an image is allowed (the run is empty).
        assertArrayEquals(new int[] {1, 1}, t.encodeMultimodal("<|image_1|>", new int[] {0}));
        // Without images the tags are text.
        assertArrayEquals(t.encode("<|image_1|>"), t.encodeMultimodal("<|image_1|>", new int[0]));
    }

    @Test
    void processorValidationMessages() {
        Phi3Tokenizer t = TestTokenizers.phi3v();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> t.encodeMultimodal("<|image_1|> <|image_3|>", new int[] {1, 1}));
        assertEquals("image_ids must start from 1, and must be continuous int, e.g. [1, 2, 3], cannot be [1, 3]",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> t.encodeMultimodal("<|image_123456789012345678901|>", new int[] {1}));
        assertEquals("image_ids must start from 1, and must be continuous int, e.g. [1, 2, 3], cannot be"
                + " [123456789012345678901]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> t.encodeMultimodal("no tag", new int[] {757}));
        assertEquals("total images must be the same as the number of image tags, got 0 image tags and 1 images",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> t.encodeMultimodal("<|image_1|>", new int[] {-1}));
        assertEquals("imageTokenCounts[0] must be >= 0, got -1", e.getMessage());
    }
}
