package io.github.phi3v.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One message of a {@link ChatRequest}: a system prompt, a user message (text and images in order) or
 * an earlier assistant answer. Immutable.
 *
 * <pre>{@code
 * ChatMessage.system("Answer in one sentence.");
 * ChatMessage.user("What is in this picture?", ImageInput.of(Path.of("cat.jpg")));   // image first
 * ChatMessage.user(List.of(ContentPart.text("Compare"), ContentPart.image(a), ContentPart.image(b)));
 * ChatMessage.assistant("A cat on a sofa.");
 * }</pre>
 *
 * @param role who speaks
 * @param parts the content in order; system and assistant messages have exactly one text part
 */
public record ChatMessage(Role role, List<ContentPart> parts) {

    /** Who speaks, as the Phi-3 chat template names the roles. */
    public enum Role {
        /** The system prompt ({@code <|system|>}). */
        SYSTEM,
        /** The user ({@code <|user|>}): text and images. */
        USER,
        /** An earlier answer ({@code <|assistant|>}): text only. */
        ASSISTANT;

        /**
         * The role's name in the chat template.
         *
         * @return {@code system}, {@code user} or {@code assistant}
         */
        public String templateName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * Validates the message.
     *
     * @param role who speaks
     * @param parts the content; copied
     * @throws IllegalArgumentException if a system or assistant message has an image or is not one text
     *     part, or a user message has no part
     */
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(parts, "parts");
        parts = List.copyOf(parts);
        if (role != Role.USER) {
            for (ContentPart p : parts) {
                if (p instanceof ContentPart.Image) {
                    throw new IllegalArgumentException("a " + role.templateName() + " message cannot have images"
                            + " (Phi-3-Vision reads images only in user messages); move the image to a user message");
                }
            }
            if (parts.size() != 1) {
                throw new IllegalArgumentException("a " + role.templateName() + " message has one text part, got "
                        + parts.size());
            }
        } else if (parts.isEmpty()) {
            throw new IllegalArgumentException("a user message needs at least one part (text or image), got none");
        }
    }

    /**
     * A system prompt.
     *
     * @param text the instructions
     * @return the message
     */
    public static ChatMessage system(String text) {
        return new ChatMessage(Role.SYSTEM, List.of(ContentPart.text(text)));
    }

    /**
     * A user message with images before the text (how Phi-3-Vision was trained to see them).
     *
     * @param text the question
     * @param images images shown before the text, in order
     * @return the message
     */
    public static ChatMessage user(String text, ImageInput... images) {
        Objects.requireNonNull(images, "images");
        List<ContentPart> parts = new ArrayList<>(images.length + 1);
        for (ImageInput image : images) {
            parts.add(ContentPart.image(image));
        }
        parts.add(ContentPart.text(text));
        return new ChatMessage(Role.USER, parts);
    }

    /**
     * A user message from parts in order.
     *
     * @param parts text and image parts
     * @return the message
     */
    public static ChatMessage user(List<ContentPart> parts) {
        return new ChatMessage(Role.USER, parts);
    }

    /**
     * An earlier answer of the model.
     *
     * @param text the answer's text
     * @return the message
     */
    public static ChatMessage assistant(String text) {
        return new ChatMessage(Role.ASSISTANT, List.of(ContentPart.text(text)));
    }

    /**
     * The images of this message, in order.
     *
     * @return the image inputs (empty for system and assistant messages)
     */
    public List<ImageInput> images() {
        List<ImageInput> out = new ArrayList<>();
        for (ContentPart p : parts) {
            if (p instanceof ContentPart.Image img) {
                out.add(img.image());
            }
        }
        return out;
    }

    /**
     * The text parts concatenated.
     *
     * @return the message's text without images
     */
    public String text() {
        StringBuilder sb = new StringBuilder();
        for (ContentPart p : parts) {
            if (p instanceof ContentPart.Text t) {
                sb.append(t.text());
            }
        }
        return sb.toString();
    }
}
