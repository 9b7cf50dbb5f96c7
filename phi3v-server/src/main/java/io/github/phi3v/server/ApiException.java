package io.github.phi3v.server;

import java.util.Objects;

/**
 * A request refused with an HTTP status and OpenAI's error body
 * {@code {"error":{"message","type","param","code"}}}. Thrown by the parsing and admission steps and mapped
 * from the core's exceptions by {@link ErrorMapper}; the handler writes it as the response.
 */
final class ApiException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int status;
    private final String type;
    private final String param;
    private final String code;
    /** Seconds for the {@code Retry-After} header of a transient refusal; 0 for none. */
    private final int retryAfterSeconds;

    ApiException(int status, String type, String param, String code, String message) {
        this(status, type, param, code, message, 0);
    }

    private ApiException(int status, String type, String param, String code, String message, int retryAfterSeconds) {
        super(Objects.requireNonNull(message, "message"));
        this.status = status;
        this.type = Objects.requireNonNull(type, "type");
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /**
     * A transient refusal (429 busy, 503 out of KV memory): the same request may succeed later, and the
     * response tells clients when to retry (the OpenAI SDKs honour {@code Retry-After}).
     */
    static ApiException retryLater(int status, String type, String code, String message, int retryAfterSeconds) {
        return new ApiException(status, type, null, code, message, retryAfterSeconds);
    }

    /** 400 {@code invalid_request_error} naming the offending field. */
    static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, null, message);
    }

    /** 400 {@code invalid_request_error} with a machine-readable code. */
    static ApiException invalid(String param, String code, String message) {
        return new ApiException(400, "invalid_request_error", param, code, message);
    }

    int status() {
        return status;
    }

    String type() {
        return type;
    }

    String param() {
        return param;
    }

    String code() {
        return code;
    }

    /** Seconds for {@code Retry-After}, 0 when the request should not simply be retried here. */
    int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
