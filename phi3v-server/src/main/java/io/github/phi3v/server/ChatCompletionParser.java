package io.github.phi3v.server;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.databind.JsonNode;

import io.github.phi3v.core.ChatMessage;
import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ContentPart;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.generate.GenerationConfig;

/**
 * Turns the JSON body of {@code POST /v1/chat/completions} into a {@link ChatRequest}, once, at the
 * boundary: every field is type-checked and a wrong one is refused with 400 naming it in {@code param}
 * ({@code messages[1].content[0].image_url.url}); unknown fields are ignored, as OpenAI's API does. Text is
 * always encoded literally ({@link ChatRequest.Builder#literalText(boolean)}): a user cannot write special
 * tokens or image tags. Images may be {@code https}/{@code http} URLs (fetched later through the model's
 * image loader and its address guard) or {@code data:image/...;base64,} URIs; nothing else.
 */
final class ChatCompletionParser {

    /** OpenAI's limit on stop sequences. */
    static final int MAX_STOP = 4;

    private final String modelName;
    private final int maxImages;
    private final int defaultMaxTokens;

    ChatCompletionParser(String modelName, int maxImages, int defaultMaxTokens) {
        this.modelName = modelName;
        this.maxImages = maxImages;
        this.defaultMaxTokens = defaultMaxTokens;
    }

    /**
     * A parsed request.
     *
     * @param request the conversation and generation settings
     * @param stream whether to answer as server-sent events
     * @param includeUsage whether a stream ends with a usage chunk
     * @param imageParams the JSON path of every image, in prompt order (for error messages)
     */
    record ChatCall(ChatRequest request, boolean stream, boolean includeUsage, List<String> imageParams) {
    }

    ChatCall parse(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw ApiException.invalid(null, "the request body must be a JSON object");
        }
        JsonNode model = body.get("model");
        if (model == null || model.isNull()) {
            throw ApiException.invalid("model", "you must provide a model parameter (this server serves '"
                    + modelName + "')");
        }
        if (!model.isTextual()) {
            throw ApiException.invalid("model", "model must be a string, got " + kind(model));
        }
        if (!model.asText().equals(modelName)) {
            throw new ApiException(404, "invalid_request_error", "model", "model_not_found", "The model '"
                    + model.asText() + "' does not exist; this server serves '" + modelName + "'");
        }
        JsonNode n = body.get("n");
        if (present(n) && (!n.isIntegralNumber() || n.asLong() != 1)) {
            throw ApiException.invalid("n", "only n = 1 is supported (one answer per request), got " + n);
        }
        boolean stream = bool(body, "stream", false);
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (present(so)) {
            if (!so.isObject()) {
                throw ApiException.invalid("stream_options", "stream_options must be an object, got " + kind(so));
            }
            includeUsage = bool(so, "stream_options.include_usage", "include_usage", false);
        }
        List<String> imageParams = new ArrayList<>();
        ChatRequest.Builder b = ChatRequest.builder().literalText(true);
        b.messages(messages(body.get("messages"), imageParams));
        b.config(generationConfig(body));
        try {
            return new ChatCall(b.build(), stream, includeUsage, List.copyOf(imageParams));
        } catch (IllegalArgumentException e) {
            // ChatRequest's own checks name the message: "messages[2]: ..."
            String msg = e.getMessage();
            String param = msg != null && msg.startsWith("messages") ? msg.substring(0, msg.indexOf(':') < 0
                    ? msg.length() : msg.indexOf(':')) : "messages";
            throw ApiException.invalid(param, msg);
        }
    }

    private List<ChatMessage> messages(JsonNode messages, List<String> imageParams) {
        if (!present(messages)) {
            throw ApiException.invalid("messages", "you must provide messages (a non-empty array)");
        }
        if (!messages.isArray() || messages.isEmpty()) {
            throw ApiException.invalid("messages", "messages must be a non-empty array, got " + kind(messages));
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            String p = "messages[" + i + "]";
            JsonNode m = messages.get(i);
            if (!m.isObject()) {
                throw ApiException.invalid(p, p + " must be an object, got " + kind(m));
            }
            JsonNode role = m.get("role");
            if (!present(role) || !role.isTextual()) {
                throw ApiException.invalid(p + ".role", p + ".role must be one of system, developer, user, assistant");
            }
            JsonNode content = m.get("content");
            String r = role.asText();
            switch (r) {
                case "system", "developer" -> out.add(ChatMessage.system(textOnly(content, p + ".content")));
                case "assistant" -> out.add(ChatMessage.assistant(textOnly(content, p + ".content")));
                case "user" -> out.add(ChatMessage.user(userParts(content, p + ".content", imageParams)));
                default -> throw ApiException.invalid(p + ".role", p + ".role '" + r + "' is not supported (this"
                        + " model takes system, developer, user and assistant messages; no tools)");
            }
        }
        return out;
    }

    /** System and assistant content: a string, or an array of text parts (joined). */
    private static String textOnly(JsonNode content, String p) {
        if (present(content) && content.isTextual()) {
            return content.asText();
        }
        if (present(content) && content.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j < content.size(); j++) {
                JsonNode part = content.get(j);
                String pp = p + "[" + j + "]";
                if (!part.isObject() || !"text".equals(part.path("type").asText())) {
                    throw ApiException.invalid(pp, pp + " must be a text part ({\"type\":\"text\",\"text\":...});"
                            + " only user messages can hold images");
                }
                sb.append(text(part, pp));
            }
            return sb.toString();
        }
        throw ApiException.invalid(p, p + " must be a string or an array of text parts, got " + kind(content));
    }

    private List<ContentPart> userParts(JsonNode content, String p, List<String> imageParams) {
        if (present(content) && content.isTextual()) {
            return List.of(ContentPart.text(content.asText()));
        }
        if (!present(content) || !content.isArray() || content.isEmpty()) {
            throw ApiException.invalid(p, p + " must be a string or a non-empty array of content parts, got "
                    + kind(content));
        }
        List<ContentPart> parts = new ArrayList<>();
        for (int j = 0; j < content.size(); j++) {
            JsonNode part = content.get(j);
            String pp = p + "[" + j + "]";
            if (!part.isObject() || !part.path("type").isTextual()) {
                throw ApiException.invalid(pp + ".type", pp + " must be an object with a type (text or image_url)");
            }
            String type = part.get("type").asText();
            switch (type) {
                case "text" -> parts.add(ContentPart.text(text(part, pp)));
                case "image_url" -> {
                    if (imageParams.size() >= maxImages) {
                        throw ApiException.invalid(pp, "too_many_images", "the request has more than "
                                + maxImages + " images (maxImagesPerRequest " + maxImages + ")");
                    }
                    String urlParam = pp + ".image_url.url";
                    parts.add(ContentPart.image(image(part.get("image_url"), urlParam)));
                    imageParams.add(urlParam);
                }
                default -> throw ApiException.invalid(pp + ".type", pp + ".type '" + type + "' is not supported"
                        + " (text and image_url are)");
            }
        }
        return parts;
    }

    private static String text(JsonNode part, String pp) {
        JsonNode t = part.get("text");
        if (!present(t) || !t.isTextual()) {
            throw ApiException.invalid(pp + ".text", pp + ".text must be a string, got " + kind(t));
        }
        return t.asText();
    }

    private static ImageInput image(JsonNode imageUrl, String urlParam) {
        JsonNode url = present(imageUrl) && imageUrl.isObject() ? imageUrl.get("url") : imageUrl;
        if (!present(url) || !url.isTextual()) {
            throw ApiException.invalid(urlParam, urlParam + " must be a string (an https URL or a data:image/...;"
                    + "base64, URI), got " + kind(url));
        }
        String s = url.asText().trim();
        String scheme = s.contains(":") ? s.substring(0, s.indexOf(':')).toLowerCase(Locale.ROOT) : "";
        try {
            switch (scheme) {
                case "data":
                    return ImageInput.ofDataUri(s);
                case "http":
                case "https":
                    return ImageInput.of(new URI(s));
                default:
                    throw ApiException.invalid(urlParam, "invalid_image_url", urlParam + " must be an https or http"
                            + " URL or a data:image/...;base64, URI, got scheme '" + scheme + "'");
            }
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw ApiException.invalid(urlParam, "invalid_image_url", urlParam + ": " + e.getMessage());
        }
    }

    private GenerationConfig generationConfig(JsonNode body) {
        GenerationConfig.Builder g = GenerationConfig.builder().maxNewTokens(defaultMaxTokens);
        Integer maxTokens = positiveInt(body, "max_completion_tokens");
        if (maxTokens == null) {
            maxTokens = positiveInt(body, "max_tokens");
        }
        if (maxTokens != null) {
            g.maxNewTokens(maxTokens);
        }
        Double temperature = number(body, "temperature", 0, 2);
        Double topP = number(body, "top_p", 0, 1);
        // Greedy unless the request asks for sampling: Phi-3-Vision's recommended decoding, and what
        // Phi3Vision.chat does for the same conversation. OpenAI's sampling has no top-k: turn HF's 50 off.
        boolean sample = temperature != null ? temperature > 0 : topP != null && topP < 1;
        if (sample) {
            g.doSample(true).topK(0).temperature(temperature != null ? temperature.floatValue() : 1f);
            if (topP != null) {
                g.topP(topP.floatValue());
            }
        }
        JsonNode seed = body.get("seed");
        if (present(seed)) {
            if (!seed.isIntegralNumber() || !seed.canConvertToLong()) {
                throw ApiException.invalid("seed", "seed must be an integer, got " + kind(seed));
            }
            g.seed(seed.asLong());
        }
        JsonNode stop = body.get("stop");
        if (present(stop)) {
            List<String> stops = new ArrayList<>();
            if (stop.isTextual()) {
                stops.add(stop.asText());
            } else if (stop.isArray() && stop.size() <= MAX_STOP) {
                for (JsonNode s : stop) {
                    if (!s.isTextual()) {
                        throw ApiException.invalid("stop", "stop must be a string or an array of strings, got an"
                                + " element " + kind(s));
                    }
                    stops.add(s.asText());
                }
            } else {
                throw ApiException.invalid("stop", "stop must be a string or an array of up to " + MAX_STOP
                        + " strings, got " + kind(stop) + (stop.isArray() ? " of " + stop.size() : ""));
            }
            try {
                g.stopStrings(stops);
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid("stop", "stop: " + e.getMessage());
            }
        }
        try {
            return g.build();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
    }

    private static Integer positiveInt(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (!present(v)) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 1) {
            throw ApiException.invalid(field, field + " must be an integer >= 1, got " + v);
        }
        return v.asInt();
    }

    private static Double number(JsonNode body, String field, double min, double max) {
        JsonNode v = body.get(field);
        if (!present(v)) {
            return null;
        }
        if (!v.isNumber() || !(v.asDouble() >= min && v.asDouble() <= max)) {
            throw ApiException.invalid(field, field + " must be a number from " + min + " to " + max + ", got " + v);
        }
        return v.asDouble();
    }

    private static boolean bool(JsonNode obj, String field, boolean dflt) {
        return bool(obj, field, field, dflt);
    }

    private static boolean bool(JsonNode obj, String param, String field, boolean dflt) {
        JsonNode v = obj.get(field);
        if (!present(v)) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw ApiException.invalid(param, param + " must be a boolean, got " + kind(v));
        }
        return v.asBoolean();
    }

    private static boolean present(JsonNode v) {
        return v != null && !v.isNull();
    }

    private static String kind(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            return "nothing";
        }
        String value = v.toString();
        // a wrong-typed field may be megabytes (a data URI in the wrong place): quote only its start
        return v.getNodeType().name().toLowerCase(Locale.ROOT) + (v.isValueNode() ? " "
                + (value.length() > 60 ? value.substring(0, 60) + "..." : value) : "");
    }
}
