package io.github.phi3v.langchain4j;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

import dev.langchain4j.data.image.Image;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;

import io.github.phi3v.core.ChatMessage;
import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ContentPart;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.generate.GenerationConfig;

/**
 * Translates a LangChain4j chat request into the core's {@link ChatRequest}: messages one to one, request
 * parameters into a {@link GenerationConfig}. Everything Phi-3-Vision cannot do is refused here, before any
 * work, with {@link UnsupportedFeatureException} naming the feature, and out-of-range values with
 * {@link InvalidRequestException} naming the parameter. Stateless.
 */
final class RequestMapper {

    private RequestMapper() {
    }

    /**
     * The core request for {@code request}, whose parameters are already merged with the model's defaults
     * (LangChain4j's {@code chat} does that before {@code doChat}).
     */
    static ChatRequest toCore(dev.langchain4j.model.chat.request.ChatRequest request, boolean literalText) {
        ChatRequestParameters p = request.parameters();
        checkSupported(p);
        ChatRequest.Builder b = ChatRequest.builder().literalText(literalText).config(generationConfig(p));
        if (p instanceof Phi3VisionChatRequestParameters phi && phi.numCrops() != null) {
            if (phi.numCrops() < 1) {
                throw new InvalidRequestException("numCrops must be >= 1, got " + phi.numCrops());
            }
            b.numCrops(phi.numCrops());
        }
        List<dev.langchain4j.data.message.ChatMessage> messages = request.messages();
        for (int i = 0; i < messages.size(); i++) {
            b.message(message(messages.get(i), i));
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            // The core names the message index and the rule (system first, last message the user's).
            throw new InvalidRequestException(e.getMessage(), e);
        }
    }

    private static void checkSupported(ChatRequestParameters p) {
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("tools are not supported by Phi-3-Vision (the request has "
                    + p.toolSpecifications().size() + " tool specification(s)); remove the tools from the request"
                    + " or the AI service");
        }
        if (p.toolChoice() == ToolChoice.REQUIRED) {
            throw new UnsupportedFeatureException("toolChoice REQUIRED is not supported by Phi-3-Vision (no tools)");
        }
        if (p.responseFormat() != null && p.responseFormat().type() == ResponseFormatType.JSON) {
            throw new UnsupportedFeatureException("responseFormat JSON" + (p.responseFormat().jsonSchema() != null
                    ? " with a JSON schema" : "") + " is not supported by Phi-3-Vision (no constrained decoding);"
                    + " ask for JSON in the prompt instead (AI services do that when the model does not declare"
                    + " Capability.RESPONSE_FORMAT_JSON_SCHEMA)");
        }
        if (p.frequencyPenalty() != null) {
            throw new UnsupportedFeatureException("frequencyPenalty is not supported by Phi-3-Vision");
        }
        if (p.presencePenalty() != null) {
            throw new UnsupportedFeatureException("presencePenalty is not supported by Phi-3-Vision");
        }
    }

    /** Sampling iff temperature &gt; 0; greedy (the core's default) for null or 0. */
    static GenerationConfig generationConfig(ChatRequestParameters p) {
        GenerationConfig.Builder g = GenerationConfig.builder();
        Double temperature = p.temperature();
        if (temperature != null) {
            if (!(temperature >= 0) || temperature.isInfinite()) {
                throw new InvalidRequestException("temperature must be a finite value >= 0 (0 = greedy decoding),"
                        + " got " + temperature);
            }
            if (temperature > 0) {
                g.doSample(true).temperature(temperature.floatValue());
            }
        }
        if (p.topP() != null) {
            if (!(p.topP() > 0 && p.topP() <= 1)) {
                throw new InvalidRequestException("topP must be in (0, 1] (1 disables top-p), got " + p.topP());
            }
            g.topP(p.topP().floatValue());
        }
        if (p.topK() != null) {
            if (p.topK() < 0) {
                throw new InvalidRequestException("topK must be >= 0 (0 disables top-k), got " + p.topK());
            }
            g.topK(p.topK());
        }
        if (p.maxOutputTokens() != null) {
            if (p.maxOutputTokens() < 1) {
                throw new InvalidRequestException("maxOutputTokens must be >= 1, got " + p.maxOutputTokens());
            }
            g.maxNewTokens(p.maxOutputTokens());
        }
        if (p instanceof Phi3VisionChatRequestParameters phi && phi.seed() != null) {
            g.seed(phi.seed());
        }
        if (p.stopSequences() != null) {
            g.stopStrings(p.stopSequences());
        }
        try {
            return g.build();
        } catch (IllegalArgumentException | NullPointerException e) {
            // Only stop sequences can still be refused here (empty or null strings): say which parameter.
            throw new InvalidRequestException("stopSequences: " + e.getMessage(), e);
        }
    }

    private static ChatMessage message(dev.langchain4j.data.message.ChatMessage m, int index) {
        if (m instanceof SystemMessage s) {
            return ChatMessage.system(s.text());
        }
        if (m instanceof UserMessage u) {
            List<ContentPart> parts = new ArrayList<>(u.contents().size());
            for (Content c : u.contents()) {
                parts.add(part(c, index));
            }
            return ChatMessage.user(parts);
        }
        if (m instanceof AiMessage ai) {
            if (ai.hasToolExecutionRequests()) {
                throw new UnsupportedFeatureException("messages[" + index + "]: tool execution requests are not"
                        + " supported by Phi-3-Vision (no tools)");
            }
            if (ai.images() != null && !ai.images().isEmpty()) {
                throw new UnsupportedFeatureException("messages[" + index + "]: images in an AiMessage are not"
                        + " supported; Phi-3-Vision reads images only in user messages");
            }
            return ChatMessage.assistant(ai.text() == null ? "" : ai.text());
        }
        throw new UnsupportedFeatureException("messages[" + index + "]: " + m.type() + " messages are not supported by"
                + " Phi-3-Vision (supported: SYSTEM, USER, AI without tool calls)");
    }

    private static ContentPart part(Content c, int index) {
        if (c instanceof TextContent t) {
            return ContentPart.text(t.text());
        }
        if (c instanceof ImageContent ic) {
            return ContentPart.image(image(ic.image(), index));
        }
        throw new UnsupportedFeatureException("messages[" + index + "]: " + c.type() + " content is not supported by"
                + " Phi-3-Vision (supported: TEXT and IMAGE)");
    }

    /**
     * URL images are loaded when the request runs, through the model's image loader and its limits
     * (schemes, private addresses, size); base64 images must carry an image mime type.
     */
    private static ImageInput image(Image image, int index) {
        try {
            URI url = image.url();
            if (url != null) {
                return ImageInput.of(url);
            }
            if (image.base64Data() != null) {
                String mime = image.mimeType();
                if (mime == null || mime.isBlank()) {
                    throw new InvalidRequestException("messages[" + index + "]: a base64 ImageContent needs a mime"
                            + " type such as image/png or image/jpeg");
                }
                return ImageInput.ofDataUri("data:" + mime + ";base64," + image.base64Data());
            }
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException("messages[" + index + "]: " + e.getMessage(), e);
        }
        throw new InvalidRequestException("messages[" + index + "]: ImageContent has neither a URL nor base64 data");
    }
}
