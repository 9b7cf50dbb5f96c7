package io.github.phi3v.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpServer;

import io.github.phi3v.image.ImageProcessingException.Reason;

/** {@link ImageLoader#load(URI)} against a local HTTP server: success, errors, limits, timeouts, schemes. */
class ImageLoaderUrlTest {

    private HttpServer server;
    private String base;
    private final byte[] png = ImageLoaderTest.resource("fixture_rgb.png");

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/ok.png", ex -> {
            ex.sendResponseHeaders(200, png.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(png);
            }
        });
        server.createContext("/chunked.png", ex -> {
            ex.sendResponseHeaders(200, 0); // chunked: no Content-Length
            try (OutputStream out = ex.getResponseBody()) {
                out.write(png);
            }
        });
        server.createContext("/missing.png", ex -> {
            byte[] body = "not here".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            ex.sendResponseHeaders(404, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        });
        server.createContext("/slow.png", ex -> {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.sendResponseHeaders(200, png.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(png);
            } catch (IOException ignored) {
                // the client gave up
            }
        });
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "test-http");
            t.setDaemon(true);
            return t;
        }));
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private static ImageProcessingException fails(Reason reason, Runnable r) {
        ImageProcessingException e = assertThrows(ImageProcessingException.class, r::run);
        assertEquals(reason, e.reason(), () -> "message: " + e.getMessage());
        return e;
    }

    @Test
    void downloadsAnImage() throws Exception {
        byte[] expected = ImageLoader.defaults().load(png).rgb();
        assertArrayEquals(expected, ImageLoader.defaults().load(URI.create(base + "/ok.png")).rgb());
        assertArrayEquals(expected, ImageLoader.defaults().load(URI.create(base + "/chunked.png").toURL()).rgb());
    }

    @Test
    void httpErrorStatus() {
        ImageProcessingException e = fails(Reason.UNREADABLE,
                () -> ImageLoader.defaults().load(URI.create(base + "/missing.png")));
        assertTrue(e.getMessage().contains("HTTP 404"), e.getMessage());
    }

    @Test
    void sizeLimitWithAndWithoutContentLength() {
        ImageLoader small = ImageLoader.builder().maxBytes(png.length - 1).build();
        fails(Reason.TOO_MANY_BYTES, () -> small.load(URI.create(base + "/ok.png")));
        fails(Reason.TOO_MANY_BYTES, () -> small.load(URI.create(base + "/chunked.png")));
    }

    @Test
    void timeout() {
        ImageLoader impatient = ImageLoader.builder().timeout(Duration.ofMillis(300)).build();
        long t0 = System.nanoTime();
        ImageProcessingException e = fails(Reason.UNREADABLE, () -> impatient.load(URI.create(base + "/slow.png")));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 2500, "gave up after " + ms + " ms");
        assertTrue(e.getMessage().toLowerCase().contains("time"), e.getMessage());
    }

    @Test
    void schemes(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("x.png");
        Files.write(file, png);
        ImageProcessingException e = fails(Reason.UNSUPPORTED_SOURCE, () -> ImageLoader.defaults().load(file.toUri()));
        assertTrue(e.getMessage().contains("allowFileUrls"), e.getMessage());
        ImageLoader local = ImageLoader.builder().allowFileUrls(true).build();
        assertEquals(64, local.load(file.toUri()).width());
        fails(Reason.UNSUPPORTED_SOURCE, () -> ImageLoader.defaults().load(URI.create("ftp://example.org/x.png")));
    }
}
