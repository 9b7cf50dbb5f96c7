package io.github.phi3v.server;

import java.util.List;

import io.github.phi3v.core.LimitExceededException;
import io.github.phi3v.core.generate.ContextLengthExceededException;
import io.github.phi3v.image.ImageProcessingException;

/**
 * Maps what the core throws for a request to OpenAI's error statuses and codes. The core's messages are
 * written for users (they name the limit and the option), so they are passed on; image download failures
 * carry one uniform message by design (no port scanning through error texts).
 */
final class ErrorMapper {

    /**
     * {@code Retry-After} of transient refusals: a queued or running request's slot frees within a few
     * decode steps' to a few answers' time; clients back off further on repeated refusals.
     */
    static final int RETRY_AFTER_SECONDS = 1;

    private ErrorMapper() {
    }

    /**
     * The API error for an exception thrown while running a request.
     *
     * @param e what the backend threw
     * @param imageParams the JSON paths of the request's images, in order
     * @return the error to send, or null for an unexpected failure (500)
     */
    static ApiException map(RuntimeException e, List<String> imageParams) {
        if (e instanceof ApiException api) {
            return api;
        }
        if (e instanceof ContextLengthExceededException) {
            return new ApiException(400, "invalid_request_error", "messages", "context_length_exceeded",
                    e.getMessage());
        }
        if (e instanceof LimitExceededException lim) {
            if (lim.retryable()) {
                // Others hold the resource now: the same request may succeed later.
                return "kvCacheBytes".equals(lim.limit())
                        ? ApiException.retryLater(503, "server_error", "kv_cache_full", e.getMessage(),
                                RETRY_AFTER_SECONDS)
                        : ApiException.retryLater(429, "rate_limit_exceeded", "too_many_requests", e.getMessage(),
                                RETRY_AFTER_SECONDS);
            }
            switch (lim.limit()) {
                case "kvCacheBytes":
                    // Too big on its own: the request must change.
                    return new ApiException(400, "invalid_request_error", "max_tokens", "context_length_exceeded",
                            e.getMessage());
                case "maxPromptTokens":
                    return new ApiException(400, "invalid_request_error", "messages", "context_length_exceeded",
                            e.getMessage());
                case "maxImagesPerPrompt":
                    return new ApiException(400, "invalid_request_error", "messages", "too_many_images",
                            e.getMessage());
                default:
                    return new ApiException(400, "invalid_request_error", null, "limit_exceeded", e.getMessage());
            }
        }
        if (e instanceof ImageProcessingException img) {
            int index = img.imageIndex().orElse(imageParams.size() == 1 ? 0 : -1);
            String param = index >= 0 && index < imageParams.size() ? imageParams.get(index) : "messages";
            String code = img.reason() == ImageProcessingException.Reason.UNREADABLE
                    || img.reason() == ImageProcessingException.Reason.UNSUPPORTED_SOURCE
                    ? "invalid_image_url" : "invalid_image";
            return new ApiException(400, "invalid_request_error", param, code, e.getMessage());
        }
        if (e instanceof IllegalStateException) {
            // the model was closed under the request (shutdown)
            return new ApiException(503, "server_error", null, "shutting_down", "the model is not available: "
                    + e.getMessage());
        }
        if (e instanceof IllegalArgumentException) {
            return ApiException.invalid("messages", e.getMessage());
        }
        return null;
    }
}
