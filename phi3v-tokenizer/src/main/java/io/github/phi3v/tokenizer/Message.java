package io.github.phi3v.tokenizer;

import java.util.Objects;

/**
 * One chat message for {@link ChatTemplate}.
 *
 * @param role the role name as the template writes it ({@code "system"}, {@code "user"},
 *             {@code "assistant"}); rendered as {@code <|role|>}
 * @param content the message text, which may contain {@code <|image_N|>} tags
 */
public record Message(String role, String content) {

    /**
     * Validates the message.
     *
     * @throws NullPointerException if role or content is null (the Jinja template would fail too)
     */
    public Message {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    /**
     * A {@code system} message.
     *
     * @param content the text
     * @return the message
     */
    public static Message system(String content) {
        return new Message("system", content);
    }

    /**
     * A {@code user} message.
     *
     * @param content the text
     * @return the message
     */
    public static Message user(String content) {
        return new Message("user", content);
    }

    /**
     * An {@code assistant} message.
     *
     * @param content the text
     * @return the message
     */
    public static Message assistant(String content) {
        return new Message("assistant", content);
    }
}
