package io.github.phi3v.springai;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.content.Media;

import io.github.phi3v.core.ChatMessage;
import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.generate.GenerationConfig;

/**
 * Translates a Spring AI {@link Prompt} into the core's {@link ChatRequest}. Features Phi-3-Vision lacks (tools,
 * tool messages, non-image media, penalties) throw {@link UnsupportedOperationException} naming them; values out
 * of range throw {@link IllegalArgumentException} naming the option. Stateless.
 */
final class PromptMapper {

    private PromptMapper() {
    }

    static ChatRequest toCore(Prompt prompt, Phi3VisionChatOptions defaults, boolean literalText) {
        Phi3VisionChatOptions o = Phi3VisionChatOptions.merge(prompt.getOptions(), defaults);
        checkSupported(o);
        ChatRequest.Builder b = ChatRequest.builder().literalText(literalText).config(generationConfig(o));
        if (o.getNumCrops() != null) {
            if (o.getNumCrops() < 1) {
                throw new IllegalArgumentException("numCrops must be >= 1, got " + o.getNumCrops());
            }
            b.numCrops(o.getNumCrops());
        }
        List<Message> messages = prompt.getInstructions();
        for (int i = 0; i < messages.size(); i++) {
            b.message(message(messages.get(i), i));
        }
        return b.build();
    }

    private static void checkSupported(Phi3VisionChatOptions o) {
        if (!o.getToolCallbacks().isEmpty() || !o.getToolNames().isEmpty()) {
            throw new UnsupportedOperationException("tools are not supported by Phi-3-Vision (the request has "
                    + (o.getToolCallbacks().size() + o.getToolNames().size()) + " tool(s)); remove them from the"
                    + " ChatClient or the options");
        }
        if (o.getFrequencyPenalty() != null) {
            throw new UnsupportedOperationException("frequencyPenalty is not supported by Phi-3-Vision");
        }
        if (o.getPresencePenalty() != null) {
            throw new UnsupportedOperationException("presencePenalty is not supported by Phi-3-Vision");
        }
    }

    /** Sampling iff temperature &gt; 0; greedy (the core's default) for null or 0. */
    static GenerationConfig generationConfig(Phi3VisionChatOptions o) {
        GenerationConfig.Builder g = GenerationConfig.builder();
        Double temperature = o.getTemperature();
        if (temperature != null) {
            if (!(temperature >= 0) || temperature.isInfinite()) {
                throw new IllegalArgumentException("temperature must be a finite value >= 0 (0 = greedy decoding), got "
                        + temperature);
            }
            if (temperature > 0) {
                g.doSample(true).temperature(temperature.floatValue());
            }
        }
        if (o.getTopP() != null) {
            if (!(o.getTopP() > 0 && o.getTopP() <= 1)) {
                throw new IllegalArgumentException("topP must be in (0, 1] (1 disables top-p), got " + o.getTopP());
            }
            g.topP(o.getTopP().floatValue());
        }
        if (o.getTopK() != null) {
            if (o.getTopK() < 0) {
                throw new IllegalArgumentException("topK must be >= 0 (0 disables top-k), got " + o.getTopK());
            }
            g.topK(o.getTopK());
        }
        if (o.getMaxTokens() != null) {
            if (o.getMaxTokens() < 1) {
                throw new IllegalArgumentException("maxTokens must be >= 1, got " + o.getMaxTokens());
            }
            g.maxNewTokens(o.getMaxTokens());
        }
        if (o.getSeed() != null) {
            g.seed(o.getSeed());
        }
        if (o.getStopSequences() != null) {
            g.stopStrings(o.getStopSequences());
        }
        try {
            return g.build();
        } catch (IllegalArgumentException | NullPointerException e) {
            // Only stop sequences can still be refused here (empty or null strings): say which option.
            throw new IllegalArgumentException("stopSequences: " + e.getMessage(), e);
        }
    }

    private static ChatMessage message(Message m, int index) {
        if (m instanceof SystemMessage s) {
            return ChatMessage.system(s.getText());
        }
        if (m instanceof UserMessage u) {
            List<ImageInput> images = new ArrayList<>();
            for (Media media : u.getMedia()) {
                images.add(image(media, index));
            }
            // Images before the text: how Phi-3-Vision was trained to see them.
            return ChatMessage.user(u.getText() == null ? "" : u.getText(), images.toArray(new ImageInput[0]));
        }
        if (m instanceof AssistantMessage a) {
            if (a.hasToolCalls()) {
                throw new UnsupportedOperationException("messages[" + index + "]: tool calls are not supported by"
                        + " Phi-3-Vision (no tools)");
            }
            if (!a.getMedia().isEmpty()) {
                throw new UnsupportedOperationException("messages[" + index + "]: media in an assistant message is"
                        + " not supported; Phi-3-Vision reads images only in user messages");
            }
            return ChatMessage.assistant(a.getText() == null ? "" : a.getText());
        }
        throw new UnsupportedOperationException("messages[" + index + "]: " + m.getMessageType() + " messages are not"
                + " supported by Phi-3-Vision (supported: SYSTEM, USER, ASSISTANT without tool calls)");
    }

    /**
     * Bytes and {@code data:} URIs are decoded when the request runs; URLs are fetched then, through the model's
     * image loader and its limits (schemes, private addresses, size).
     */
    private static ImageInput image(Media media, int index) {
        String mime = media.getMimeType().getType();
        if (!"image".equalsIgnoreCase(mime)) {
            throw new UnsupportedOperationException("messages[" + index + "]: media type " + media.getMimeType()
                    + " is not supported by Phi-3-Vision (images only: image/png, image/jpeg, image/gif, image/bmp,"
                    + " image/webp)");
        }
        Object data = media.getData();
        try {
            if (data instanceof byte[] bytes) {
                return ImageInput.ofBytes(bytes);
            }
            if (data instanceof String s) {
                return s.regionMatches(true, 0, "data:", 0, 5) ? ImageInput.ofDataUri(s) : ImageInput.of(new URI(s));
            }
            if (data instanceof URI uri) {
                return ImageInput.of(uri);
            }
        } catch (java.net.URISyntaxException | IllegalArgumentException e) {
            throw new IllegalArgumentException("messages[" + index + "]: image " + media.getName() + ": "
                    + e.getMessage(), e);
        }
        throw new IllegalArgumentException("messages[" + index + "]: image data of type "
                + (data == null ? "null" : data.getClass().getName()) + " is not supported; use bytes, a Resource or"
                + " a URL");
    }
}
