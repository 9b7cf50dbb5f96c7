package io.github.phi3v.springai;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import com.sun.net.httpserver.HttpServer;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.testsupport.SharedData;

/**
 * The golden tiny-a model (float32) and its images for the adapter tests, plus a loopback HTTP server that
 * serves one image and answers 404 for everything else.
 */
final class TinyModel {

    static final String IMAGE = "a01_rgb_500x300.png";

    private TinyModel() {
    }

    static Path image(String file) {
        return SharedData.tinyA().resolve("images/" + file);
    }

    /** The model, with an image loader that may reach the tests' own loopback server. */
    static Phi3Vision load() {
        return builder().build();
    }

    static io.github.phi3v.core.Phi3VisionBuilder builder() {
        return Phi3Vision.builder().modelDir(SharedData.tinyA().resolve("model-f32")).dtype("float32")
                .imageLoader(ImageLoader.builder().allowHosts("127.0.0.1").timeout(Duration.ofSeconds(10)).build());
    }

    /** A server on 127.0.0.1 serving {@link #IMAGE} at {@code /image.png}; anything else is a 404. */
    static final class ImageServer implements AutoCloseable {
        private final HttpServer server;

        ImageServer() throws IOException {
            byte[] png = Files.readAllBytes(image(IMAGE));
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", exchange -> {
                boolean found = exchange.getRequestURI().getPath().equals("/image.png");
                byte[] body = found ? png : "not found".getBytes();
                exchange.getResponseHeaders().add("Content-Type", found ? "image/png" : "text/plain");
                exchange.sendResponseHeaders(found ? 200 : 404, body.length);
                exchange.getResponseBody().write(body);
                exchange.close();
            });
            server.start();
        }

        URI url(String path) {
            return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }
}
