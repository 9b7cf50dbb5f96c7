package io.github.phi3v.testsupport;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;

import com.sun.net.httpserver.HttpServer;

/**
 * A real HTTP server on the loopback address for tests that load images by URL: it serves one image file
 * at {@value #PATH} (with its media type) and answers 404 to every other path.
 *
 * <pre>{@code
 * try (LoopbackImageServer server = new LoopbackImageServer(SharedData.tinyA().resolve("images/a01.png"))) {
 *     URI url = server.url(LoopbackImageServer.PATH);
 * }
 * }</pre>
 */
public final class LoopbackImageServer implements AutoCloseable {

    /** The path the image is served at. */
    public static final String PATH = "/image.png";

    private final HttpServer server;

    /**
     * Starts the server on 127.0.0.1 and a free port.
     *
     * @param png the PNG file to serve
     * @throws IOException if the file cannot be read or the server cannot bind
     */
    public LoopbackImageServer(Path png) throws IOException {
        byte[] image = Files.readAllBytes(png);
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            boolean found = exchange.getRequestURI().getPath().equals(PATH);
            byte[] body = found ? image : "not found".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", found ? "image/png" : "text/plain");
            exchange.sendResponseHeaders(found ? 200 : 404, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
    }

    /**
     * The URL of {@code path} on this server.
     *
     * @param path an absolute path such as {@value #PATH}
     * @return {@code http://127.0.0.1:PORT/path}
     */
    public URI url(String path) {
        return URI.create("http://127.0.0.1:" + port() + path);
    }

    /**
     * The port the server listens on.
     *
     * @return the port
     */
    public int port() {
        return server.getAddress().getPort();
    }

    /** Stops the server at once. */
    @Override
    public void close() {
        server.stop(0);
    }
}
