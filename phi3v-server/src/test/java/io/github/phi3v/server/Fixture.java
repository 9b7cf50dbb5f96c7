package io.github.phi3v.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.image.ImageLoader;

/**
 * What the server tests share in one JVM: the tiny model (loading takes seconds on a busy machine, so once)
 * and a loopback image server. The model's loader is the server preset ({@link ImageLoader#forUntrustedInput()})
 * plus {@code http} and this one loopback image server, so every other private address stays refused.
 */
final class Fixture {

    static final String MODEL = "phi3v-tiny";
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private static HttpServer images;
    private static Phi3Vision model;

    private Fixture() {
    }

    static synchronized Phi3Vision model() {
        if (model == null) {
            ImageLoader loader = ImageLoader.forUntrustedInput().toBuilder().allowHttp(true)
                    .allowHosts("127.0.0.1:" + imageServer().getAddress().getPort()).build();
            model = TinyModel.builder(loader).build();
        }
        return model;
    }

    /** Serves {@code /a01.png} (an image) and {@code /text.png} (not one) on a free loopback port. */
    static synchronized HttpServer imageServer() {
        if (images == null) {
            try {
                images = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            byte[] png = TinyModel.imageBytes("a01_rgb_500x300.png");
            images.createContext("/a01.png", ex -> {
                ex.getResponseHeaders().add("Content-Type", "image/png");
                ex.sendResponseHeaders(200, png.length);
                ex.getResponseBody().write(png);
                ex.close();
            });
            images.start();
        }
        return images;
    }

    static String imageUrl() {
        return "http://127.0.0.1:" + imageServer().getAddress().getPort() + "/a01.png";
    }

    /** A response: status and parsed JSON body (null if not JSON). */
    record Reply(int status, JsonNode json, String body) {
        JsonNode error() {
            return json.get("error");
        }
    }

    static Reply post(Phi3vServer server, String path, String body, String key) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return send(b.build());
    }

    static Reply get(Phi3vServer server, String path, String key) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(60)).GET();
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return send(b.build());
    }

    static Reply send(HttpRequest request) {
        try {
            HttpResponse<String> r = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            JsonNode json;
            try {
                json = JSON.readTree(r.body());
            } catch (IOException e) {
                json = null;
            }
            return new Reply(r.statusCode(), json, r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A chat request body with one user message of an image and a question. */
    /**
     * Writes a streamed chat request as raw HTTP/1.1 on {@code socket} (a client whose reading and
     * disconnecting the test controls) and returns the response stream.
     */
    static InputStream postStreamingRaw(Socket socket, String body) throws IOException {
        String streamed = body.replaceFirst("\\{", "{\"stream\":true,");
        byte[] b = streamed.getBytes(StandardCharsets.UTF_8);
        OutputStream out = socket.getOutputStream();
        out.write(("POST " + ApiHandler.CHAT + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(b);
        out.flush();
        return socket.getInputStream();
    }

    static String imageRequest(String url, int maxTokens) {
        return "{\"model\":\"" + MODEL + "\",\"max_tokens\":" + maxTokens + ",\"messages\":[{\"role\":\"user\","
                + "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + url + "\"}},"
                + "{\"type\":\"text\",\"text\":\"What is shown?\"}]}]}";
    }

    static String textRequest(String text, int maxTokens) {
        return "{\"model\":\"" + MODEL + "\",\"max_tokens\":" + maxTokens + ",\"messages\":[{\"role\":\"user\","
                + "\"content\":" + JSON.valueToTree(text) + "}]}";
    }
}
