package io.github.phi3v.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Routes the endpoints, checks the API key, reads bodies within the limit and writes every refusal as
 * OpenAI's error JSON. Blocking: each request runs on a Jetty pool thread, the chat endpoint generates on
 * it ({@link ChatEndpoint}).
 */
final class ApiHandler extends Handler.Abstract {

    static final String CHAT = "/v1/chat/completions";

    private final ServerOptions options;
    private final ChatEndpoint chat;
    private final ServerMetrics metrics;
    private final Admission admission;
    private final byte[] keyDigest;   // SHA-256 of the key: compared in constant time, length not leaked
    private final long createdSeconds = System.currentTimeMillis() / 1000;

    ApiHandler(ServerOptions options, ChatEndpoint chat, ServerMetrics metrics, Admission admission) {
        this.options = options;
        this.chat = chat;
        this.metrics = metrics;
        this.admission = admission;
        this.keyDigest = options.apiKey() == null ? null : sha256(options.apiKey());
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        String path = Request.getPathInContext(request);
        String method = request.getMethod();
        String endpoint = endpointLabel(path);
        int status;
        try {
            status = route(path, method, request, response, callback);
        } catch (ApiException e) {
            status = e.status();
            writeError(response, callback, e);
        } catch (RuntimeException | Error e) {
            status = 500;
            writeError(response, callback, new ApiException(500, "server_error", null, null,
                    "the server failed to process the request: " + e.getClass().getSimpleName()));
        }
        metrics.request(endpoint, status);
        return true;
    }

    private int route(String path, String method, Request request, Response response, Callback callback) {
        switch (path) {
            case "/health" -> {
                requireMethod(method, "GET");
                boolean up = !admission.isClosing();
                writeJson(response, callback, up ? 200 : 503, OpenAiJson.MAPPER.createObjectNode()
                        .put("status", up ? "ok" : "shutting_down").put("model", options.modelName())
                        .put("running", admission.running()).put("queued", admission.queued()));
                return up ? 200 : 503;
            }
            case "/metrics" -> {
                requireMethod(method, "GET");
                write(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render());
                return 200;
            }
            case "/v1/models" -> {
                requireMethod(method, "GET");
                authorize(request);
                writeJson(response, callback, 200, OpenAiJson.models(options.modelName(), createdSeconds));
                return 200;
            }
            case CHAT -> {
                requireMethod(method, "POST");
                authorize(request);
                if (admission.isClosing()) {
                    admission.enter();   // throws the 503 before the body is read
                }
                JsonNode body = readJson(request);
                return chat.handle(body, response, callback);
            }
            default -> {
                if (path.startsWith("/v1/models/")) {
                    requireMethod(method, "GET");
                    authorize(request);
                    String id = path.substring("/v1/models/".length());
                    if (!id.equals(options.modelName())) {
                        throw new ApiException(404, "invalid_request_error", "model", "model_not_found",
                                "The model '" + id + "' does not exist; this server serves '" + options.modelName()
                                        + "'");
                    }
                    writeJson(response, callback, 200, OpenAiJson.model(options.modelName(), createdSeconds));
                    return 200;
                }
                throw new ApiException(404, "invalid_request_error", null, "unknown_url", "Unknown request URL: "
                        + method + " " + path + " (endpoints: POST " + CHAT + ", GET /v1/models, /health, /metrics)");
            }
        }
    }

    private static void requireMethod(String method, String expected) {
        if (!expected.equals(method)) {
            throw new ApiException(405, "invalid_request_error", null, "method_not_allowed", "method " + method
                    + " is not allowed here; use " + expected);
        }
    }

    private void authorize(Request request) {
        if (keyDigest == null) {
            return;
        }
        String auth = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        String given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).trim() : "";
        if (!MessageDigest.isEqual(keyDigest, sha256(given))) {
            throw new ApiException(401, "invalid_request_error", null, "invalid_api_key", auth == null
                    ? "You didn't provide an API key: send it as 'Authorization: Bearer <key>'"
                    : "Incorrect API key provided");
        }
    }

    private JsonNode readJson(Request request) {
        long max = options.maxBodyBytes();
        long declared = request.getLength();
        if (declared > max) {
            discard(request, Math.min(declared, DRAIN_LIMIT));
            throw tooLarge(declared, max);
        }
        byte[] body;
        try (InputStream in = Content.Source.asInputStream(request)) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
        } catch (IOException e) {
            throw ApiException.invalid(null, "could not read the request body: " + e.getMessage());
        }
        if (body.length > max) {
            throw tooLarge(-1, max);
        }
        try {
            return OpenAiJson.MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(null, "We could not parse the JSON body of your request: "
                    + e.getOriginalMessage() + " (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ")");
        } catch (IOException e) {
            throw ApiException.invalid(null, "could not read the request body: " + e.getMessage());
        }
    }

    /** The most of a refused body read and dropped before the 413 is sent. */
    private static final long DRAIN_LIMIT = 16L << 20;

    /**
     * Reads and drops up to {@code bytes} of a refused body. A client still sending it when the 413 and the
     * connection's close arrive gets a reset instead of the answer (seen with java.net.http: "header parser
     * received no bytes"); a body beyond {@link #DRAIN_LIMIT} is not read, its client may see that reset.
     */
    private static void discard(Request request, long bytes) {
        try (InputStream in = Content.Source.asInputStream(request)) {
            byte[] buf = new byte[64 << 10];
            long left = bytes;
            while (left > 0) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) {
                    break;
                }
                left -= n;
            }
        } catch (IOException e) {
            // the client went away: nothing to answer
        }
    }

    private static ApiException tooLarge(long declared, long max) {
        return new ApiException(413, "invalid_request_error", null, "request_too_large", "the request body"
                + (declared >= 0 ? " has " + declared + " bytes, more than" : " exceeds") + " the limit of " + max
                + " bytes (maxBodyBytes); send smaller images or fewer of them");
    }

    static void writeError(Response response, Callback callback, ApiException e) {
        if (e.status() == 401) {
            response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
        }
        if (e.status() == 413) {
            // The unread body makes the connection unusable: say so, or a client may reuse it and fail.
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
        }
        if (e.retryAfterSeconds() > 0) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, e.retryAfterSeconds());
        }
        writeJson(response, callback, e.status(), OpenAiJson.error(e));
    }

    static void writeJson(Response response, Callback callback, int status, JsonNode json) {
        write(response, callback, status, "application/json", json.toString());
    }

    static void write(Response response, Callback callback, int status, String contentType, String body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
        try (OutputStream out = Content.Sink.asOutputStream(response)) {
            out.write(bytes);
        } catch (IOException e) {
            callback.failed(e);   // the client went away; nothing more to send
            return;
        }
        callback.succeeded();
    }

    private static String endpointLabel(String path) {
        return switch (path) {
            case CHAT -> "chat_completions";
            case "/v1/models" -> "models";
            case "/health" -> "health";
            case "/metrics" -> "metrics";
            default -> path.startsWith("/v1/models/") ? "models" : "other";
        };
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
