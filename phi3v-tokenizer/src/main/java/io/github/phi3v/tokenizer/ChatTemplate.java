package io.github.phi3v.tokenizer;

import java.util.List;
import java.util.Objects;

/**
 * The Phi-3 chat template, rendered without a template engine. It produces exactly what this Jinja
 * template from {@code tokenizer_config.json} produces:
 *
 * <pre>{@code
 * {% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + message['content'] + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}{{- '<|assistant|>\n' -}}{% endif %}
 * }</pre>
 *
 * <p>It adds no {@code <s>} (the tokenizer does) and has no special case for system messages.
 */
public final class ChatTemplate {

    /** The Jinja source this class implements, verbatim from Phi-3-vision's tokenizer_config.json. */
    public static final String PHI3_JINJA = "{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n'"
            + " + message['content'] + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt and messages[-1]['role']"
            + " != 'assistant' %}{{- '<|assistant|>\n' -}}{% endif %}";

    private ChatTemplate() {
    }

    /**
     * Renders messages as {@code <|role|>\n{content}<|end|>\n} each, followed by {@code <|assistant|>\n}
     * when {@code addGenerationPrompt} is set and the last message is not the assistant's.
     *
     * @param messages the conversation, oldest first
     * @param addGenerationPrompt whether to open an assistant turn
     * @return the prompt text (to be encoded with BOS, e.g. by {@link Phi3Tokenizer#encodeMultimodal})
     * @throws IllegalArgumentException if {@code messages} is empty and {@code addGenerationPrompt} is
     *     set (the template reads {@code messages[-1]}, which Jinja cannot do on an empty list)
     */
    public static String render(List<Message> messages, boolean addGenerationPrompt) {
        Objects.requireNonNull(messages, "messages");
        StringBuilder sb = new StringBuilder();
        for (Message m : messages) {
            Objects.requireNonNull(m, "message");
            sb.append("<|").append(m.role()).append("|>\n").append(m.content()).append("<|end|>\n");
        }
        if (addGenerationPrompt) {
            if (messages.isEmpty()) {
                throw new IllegalArgumentException("cannot add a generation prompt to an empty conversation:"
                        + " the chat template reads the last message's role");
            }
            if (!messages.get(messages.size() - 1).role().equals("assistant")) {
                sb.append("<|assistant|>\n");
            }
        }
        return sb.toString();
    }

    /**
     * Whether a template string from {@code tokenizer_config.json} is the one {@link #render} implements.
     *
     * @param jinja the {@code chat_template} value, may be null
     * @return true if it is {@link #PHI3_JINJA}, ignoring leading/trailing whitespace
     */
    public static boolean isPhi3Template(String jinja) {
        return jinja != null && jinja.strip().equals(PHI3_JINJA);
    }
}
