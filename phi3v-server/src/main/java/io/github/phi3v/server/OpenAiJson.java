package io.github.phi3v.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.FinishReason;
import io.github.phi3v.core.generate.Usage;

/**
 * OpenAI's response shapes, field for field: {@code chat.completion}, {@code chat.completion.chunk},
 * {@code list} of {@code model}, and the error object. Fields OpenAI sends as {@code null} when they do
 * not apply ({@code refusal}, {@code logprobs}, {@code system_fingerprint}) are sent as {@code null} too,
 * since some clients expect them present.
 */
final class OpenAiJson {

    static final ObjectMapper MAPPER = new ObjectMapper();

    /** The id, creation time and model name shared by all chunks of one answer. */
    record Head(String id, long created, String model) {
    }

    private OpenAiJson() {
    }

    static ObjectNode completion(Head h, Answer a) {
        ObjectNode root = head(h, "chat.completion");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode message = choice.putObject("message");
        message.put("role", "assistant");
        message.put("content", a.text());
        message.putNull("refusal");
        message.putArray("annotations");
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason(a.finishReason()));
        root.set("usage", usage(a.usage()));
        root.put("service_tier", "default");
        root.putNull("system_fingerprint");
        return root;
    }

    /** A streamed chunk of the one choice; {@code finishReason} null until the last. */
    static ObjectNode chunk(Head h, ObjectNode delta, String finishReason, boolean withUsageField) {
        ObjectNode root = head(h, "chat.completion.chunk");
        root.put("service_tier", "default");
        root.putNull("system_fingerprint");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        choice.set("delta", delta);
        choice.putNull("logprobs");
        if (finishReason == null) {
            choice.putNull("finish_reason");
        } else {
            choice.put("finish_reason", finishReason);
        }
        if (withUsageField) {
            root.putNull("usage");   // every chunk carries "usage": null when the last one has the usage
        }
        return root;
    }

    static ObjectNode roleDelta() {
        ObjectNode d = MAPPER.createObjectNode();
        d.put("role", "assistant");
        d.put("content", "");
        d.putNull("refusal");
        return d;
    }

    static ObjectNode contentDelta(String text) {
        ObjectNode d = MAPPER.createObjectNode();
        d.put("content", text);
        return d;
    }

    /** The last chunk of a stream with {@code include_usage}: no choices, the usage. */
    static ObjectNode usageChunk(Head h, Usage u) {
        ObjectNode root = head(h, "chat.completion.chunk");
        root.put("service_tier", "default");
        root.putNull("system_fingerprint");
        root.putArray("choices");
        root.set("usage", usage(u));
        return root;
    }

    static ObjectNode usage(Usage u) {
        ObjectNode usage = MAPPER.createObjectNode();
        usage.put("prompt_tokens", u.promptTokens());
        usage.put("completion_tokens", u.generatedTokens());
        usage.put("total_tokens", u.promptTokens() + u.generatedTokens());
        ObjectNode pd = usage.putObject("prompt_tokens_details");
        pd.put("cached_tokens", u.cachedPromptTokens());
        pd.put("audio_tokens", 0);
        ObjectNode cd = usage.putObject("completion_tokens_details");
        cd.put("reasoning_tokens", 0);
        cd.put("audio_tokens", 0);
        cd.put("accepted_prediction_tokens", 0);
        cd.put("rejected_prediction_tokens", 0);
        return usage;
    }

    static String finishReason(FinishReason r) {
        // CANCELLED only happens when the client left (nobody reads it) or at a forced shutdown: the text ends.
        return r == FinishReason.LENGTH ? "length" : "stop";
    }

    static ObjectNode error(ApiException e) {
        ObjectNode root = MAPPER.createObjectNode();
        ObjectNode err = root.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type());
        if (e.param() == null) {
            err.putNull("param");
        } else {
            err.put("param", e.param());
        }
        if (e.code() == null) {
            err.putNull("code");
        } else {
            err.put("code", e.code());
        }
        return root;
    }

    static ObjectNode models(String model, long created) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("object", "list");
        ArrayNode data = root.putArray("data");
        data.add(model(model, created));
        return root;
    }

    static ObjectNode model(String model, long created) {
        ObjectNode m = MAPPER.createObjectNode();
        m.put("id", model);
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "phi3v-java");
        return m;
    }

    private static ObjectNode head(Head h, String object) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("id", h.id());
        root.put("object", object);
        root.put("created", h.created());
        root.put("model", h.model());
        return root;
    }
}
