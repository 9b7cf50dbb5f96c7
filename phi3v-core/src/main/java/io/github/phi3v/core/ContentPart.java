package io.github.phi3v.core;

import java.util.Objects;

/**
 * One part of a user message: text or an image, in the order the user wrote them (like the
 * {@code text} and {@code image_url} content parts of OpenAI's chat format). Each image part becomes one
 * {@code <|image_N|>} tag at its place in the prompt, numbered across the whole conversation.
 */
public sealed interface ContentPart permits ContentPart.Text, ContentPart.Image {

    /**
     * A text part.
     *
     * @param text the text
     * @return the part
     */
    static ContentPart text(String text) {
        return new Text(text);
    }

    /**
     * An image part.
     *
     * @param image the image
     * @return the part
     */
    static ContentPart image(ImageInput image) {
        return new Image(image);
    }

    /**
     * Text of a message.
     *
     * @param text the text, not null
     */
    record Text(String text) implements ContentPart {
        /**
         * Validates the text.
         *
         * @param text the text, not null
         */
        public Text {
            Objects.requireNonNull(text, "text");
        }
    }

    /**
     * An image of a message.
     *
     * @param image the image, not null
     */
    record Image(ImageInput image) implements ContentPart {
        /**
         * Validates the image.
         *
         * @param image the image, not null
         */
        public Image {
            Objects.requireNonNull(image, "image");
        }
    }
}
