package io.github.phi3v.tokenizer;

import java.util.Objects;

/**
 * One piece of a prompt given to {@link Phi3Tokenizer#encode(java.util.List, boolean)} or
 * {@link Phi3Tokenizer#encodeMultimodal(java.util.List, int[])}: either <em>template</em> text, in which
 * added tokens ({@code <|user|>}, {@code <|end|>}, ...) and image tags ({@code <|image_1|>}) are
 * recognised as in Hugging Face's default, or <em>literal</em> text, in which nothing is recognised:
 * {@code "<|end|>"} typed by a user stays the seven characters {@code <|end|>}, BPE-encoded like any
 * other text.
 *
 * <p>Use {@link #template(String)} only for text the application writes itself (the chat template's
 * role markers, tags for the images it actually passes) and {@link #literal(String)} for everything a
 * user or a document supplies, so that such text can neither end its turn nor invent an image.
 *
 * @param text the text of the piece, never null (may be empty)
 * @param literal true if no added token and no image tag may be recognised in it
 */
public record PromptPiece(String text, boolean literal) {

    /**
     * Checks the text.
     *
     * @throws NullPointerException if {@code text} is null
     */
    public PromptPiece {
        Objects.requireNonNull(text, "text");
    }

    /**
     * A piece whose added tokens and image tags are recognised (for text the application controls).
     *
     * @param text the text
     * @return the piece
     * @throws NullPointerException if {@code text} is null
     */
    public static PromptPiece template(String text) {
        return new PromptPiece(text, false);
    }

    /**
     * A piece in which nothing is recognised: every character is plain text (for user or document text).
     *
     * @param text the text
     * @return the piece
     * @throws NullPointerException if {@code text} is null
     */
    public static PromptPiece literal(String text) {
        return new PromptPiece(text, true);
    }

    @Override
    public String toString() {
        return (literal ? "literal(" : "template(") + '"' + text + "\")";
    }
}
