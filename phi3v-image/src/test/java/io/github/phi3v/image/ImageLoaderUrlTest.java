package io.github.phi3v.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.github.phi3v.image.ImageProcessingException.Reason;

/**
 * {@link ImageLoader#load(URI)} against local HTTP servers (127.0.0.1 only): success, errors, limits,
 * timeouts, schemes, redirects and the address check.
 *
 * <p>No test may send traffic to a non-loopback address, even if the address check broke: every loader
 * here has a {@code beforeSend} guard that records each URL about to be requested and fails the request
 * (before any connection) unless its host is 127.0.0.1 or localhost.
 */
class ImageLoaderUrlTest {

    private HttpServer server;
    private HttpServer other;
    private int port;
    private int otherPort;
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicInteger otherRequests = new AtomicInteger();
    private final List<URI> sent = new CopyOnWriteArrayList<>();
    private final byte[] png = ImageLoaderTest.resource("fixture_rgb.png");

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            requests.incrementAndGet();
            handle(ex);
        });
        start(server);
        port = server.getAddress().getPort();
        // The redirect target that must never be contacted.
        other = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        other.createContext("/", ex -> {
            otherRequests.incrementAndGet();
            send(ex, 200, png);
        });
        start(other);
        otherPort = other.getAddress().getPort();
    }

    private static void start(HttpServer s) {
        s.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "test-http");
            t.setDaemon(true);
            return t;
        }));
        s.start();
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        String query = ex.getRequestURI().getQuery();
        switch (path) {
            case "/ok.png" -> send(ex, 200, png);
            case "/chunked.png" -> {
                ex.sendResponseHeaders(200, 0); // chunked: no Content-Length
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(png);
                }
            }
            case "/slow.png" -> {
                try {
                    Thread.sleep(3000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                try {
                    send(ex, 200, png);
                } catch (IOException ignored) {
                    // the client gave up
                }
            }
            case "/redirect" -> { // /redirect?<Location>
                ex.getResponseHeaders().add("Location", query);
                send(ex, 302, new byte[0]);
            }
            case "/relative" -> {
                ex.getResponseHeaders().add("Location", "ok.png");
                send(ex, 301, new byte[0]);
            }
            case "/loop" -> {
                ex.getResponseHeaders().add("Location", "/loop");
                send(ex, 307, new byte[0]);
            }
            default -> send(ex, 404, "not here".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    @AfterEach
    void stop() {
        server.stop(0);
        other.stop(0);
    }

    /** A builder whose loader refuses (before connecting) any request to a host other than loopback. */
    private ImageLoader.Builder guarded() {
        return ImageLoader.builder().beforeSend(uri -> {
            sent.add(uri);
            if (!uri.getHost().equals("127.0.0.1") && !uri.getHost().equals("localhost")) {
                throw new AssertionError("test tried to contact " + uri);
            }
        });
    }

    /** Reachable only through the allow-listed name localhost:PORT, as a trusted internal service would be. */
    private ImageLoader localhostAllowed() {
        return guarded().allowHosts("localhost:" + port).build();
    }

    private String local() {
        return "http://localhost:" + port;
    }

    private static ImageProcessingException fails(Reason reason, Runnable r) {
        ImageProcessingException e = assertThrows(ImageProcessingException.class, r::run);
        assertEquals(reason, e.reason(), () -> "message: " + e.getMessage());
        return e;
    }

    @Test
    void downloadsAnImageFromAnAllowedHost() throws Exception {
        byte[] expected = ImageLoader.defaults().load(png).rgb();
        ImageLoader loader = localhostAllowed();
        assertArrayEquals(expected, loader.load(URI.create(local() + "/ok.png")).rgb());
        assertArrayEquals(expected, loader.load(URI.create(local() + "/chunked.png").toURL()).rgb());
        // Allowed without a port, and with the address check switched off as a whole.
        assertEquals(64, guarded().allowHosts("LOCALHOST").build().load(URI.create(local() + "/ok.png")).width());
        assertEquals(64, guarded().allowPrivateAddresses(true).build()
                .load(URI.create("http://127.0.0.1:" + port + "/ok.png")).width());
        assertEquals(4, requests.get());
    }

    @Test
    void loopbackIsRefusedByDefaultBeforeConnecting() {
        ImageLoader loader = guarded().build();
        ImageProcessingException literal = fails(Reason.UNSUPPORTED_SOURCE,
                () -> loader.load(URI.create("http://127.0.0.1:" + port + "/ok.png")));
        assertTrue(literal.getMessage().startsWith("host 127.0.0.1 is not a public address: loopback "
                + "(127.0.0.0/8); refused before connecting"), literal.getMessage());
        assertTrue(literal.getMessage().contains("allowHosts(\"127.0.0.1:" + port + "\") or .allowPrivateAddresses(true)"),
                literal.getMessage());
        ImageProcessingException name = fails(Reason.UNSUPPORTED_SOURCE,
                () -> loader.load(URI.create(local() + "/ok.png")));
        assertTrue(name.getMessage().startsWith("host localhost resolves to a non-public address: loopback "
                + "(127.0.0.0/8); refused before connecting"), name.getMessage());
        // Allow-listed for another port only: still refused.
        fails(Reason.UNSUPPORTED_SOURCE, () -> guarded().allowHosts("localhost:" + (port == 1 ? 2 : 1)).build()
                .load(URI.create(local() + "/ok.png")));
        // The library default (no guard) refuses the same way.
        fails(Reason.UNSUPPORTED_SOURCE, () -> ImageLoader.defaults().load(URI.create(local() + "/ok.png")));
        assertEquals(List.of(), sent);
        assertEquals(0, requests.get());
    }

    /**
     * An allowed server redirects to loopback (another port), link-local (cloud metadata), IPv6 loopback and
     * a private address: every hop is refused before connecting; only the first server saw requests.
     */
    @Test
    void redirectsToPrivateAddressesAreRefusedBeforeConnecting() {
        ImageLoader loader = localhostAllowed();
        String[][] cases = {
            {"http://127.0.0.1:" + otherPort + "/ok.png", "redirect target host 127.0.0.1 is not a public address: loopback (127.0.0.0/8)"},
            {"http://169.254.169.254/latest/meta-data/", "redirect target host 169.254.169.254 is not a public address: link-local (169.254.0.0/16"},
            {"http://[::1]:" + otherPort + "/ok.png", "redirect target host [::1] is not a public address: loopback (::1)"},
            {"http://10.0.0.1/x.png", "redirect target host 10.0.0.1 is not a public address: private (10.0.0.0/8)"},
            {"https://[::ffff:10.0.0.1]/x.png", "redirect target host [::ffff:10.0.0.1] is not a public address: "
                + "private (10.0.0.0/8)"},
            {"http://[fe80::1]/x.png", "redirect target host [fe80::1] is not a public address: link-local (fe80::/10)"},
            {"http://0.0.0.0:" + otherPort + "/ok.png", "redirect target host 0.0.0.0 is not a public address: unspecified (0.0.0.0/8)"},
        };
        for (String[] c : cases) {
            sent.clear();
            ImageProcessingException e = fails(Reason.UNSUPPORTED_SOURCE,
                    () -> loader.load(URI.create(local() + "/redirect?" + c[0])));
            assertTrue(e.getMessage().startsWith(c[1]), c[0] + ": " + e.getMessage());
            assertTrue(e.getMessage().contains("refused before connecting"), e.getMessage());
            assertEquals(List.of(URI.create(local() + "/redirect?" + c[0])), sent, "only the first hop was sent");
        }
        assertEquals(cases.length, requests.get());
        assertEquals(0, otherRequests.get(), "the redirect target was never contacted");
        // Allowing the target by name lets the same kind of chain through (it is then checked as allowed).
        ImageLoader both = guarded().allowHosts("localhost:" + port, "127.0.0.1:" + otherPort).build();
        assertEquals(64, both.load(URI.create(local() + "/redirect?http://127.0.0.1:" + otherPort + "/ok.png")).width());
        assertEquals(1, otherRequests.get());
    }

    @Test
    void relativeRedirectsAreResolvedAndCounted() {
        ImageLoader loader = localhostAllowed();
        assertEquals(64, loader.load(URI.create(local() + "/relative")).width());
        assertEquals(List.of(URI.create(local() + "/relative"), URI.create(local() + "/ok.png")), sent);

        requests.set(0);
        ImageLoader three = localhostAllowed().toBuilder().maxRedirects(3).build();
        ImageProcessingException loop = fails(Reason.UNREADABLE, () -> three.load(URI.create(local() + "/loop")));
        assertEquals(HttpImageFetcher.FAILED, loop.getMessage());
        assertTrue(loop.getCause().getMessage().startsWith("more than 3 redirects"), loop.getCause().getMessage());
        assertEquals(4, requests.get(), "the first request and 3 redirects");

        ImageLoader none = localhostAllowed().toBuilder().maxRedirects(0).build();
        assertEquals(HttpImageFetcher.FAILED,
                fails(Reason.UNREADABLE, () -> none.load(URI.create(local() + "/relative"))).getMessage());
        assertThrows(IllegalArgumentException.class, () -> ImageLoader.builder().maxRedirects(-1));
        assertThrows(IllegalArgumentException.class,
                () -> ImageLoader.builder().maxRedirects(ImageLoader.MAX_REDIRECTS_LIMIT + 1));
    }

    @Test
    void redirectToARefusedSchemeFails() {
        ImageProcessingException e = fails(Reason.UNREADABLE,
                () -> localhostAllowed().load(URI.create(local() + "/redirect?ftp://localhost/x.png")));
        assertEquals(HttpImageFetcher.FAILED, e.getMessage());
        assertTrue(e.getCause().getMessage().contains("scheme 'ftp' is not allowed"), e.getCause().getMessage());
        // https -> http would be refused in the same way under allowHttp(false); here http -> http is
        // refused at the first URL already.
        ImageLoader httpsOnly = localhostAllowed().toBuilder().allowHttp(false).build();
        ImageProcessingException first = fails(Reason.UNSUPPORTED_SOURCE,
                () -> httpsOnly.load(URI.create(local() + "/ok.png")));
        assertTrue(first.getMessage().contains("allowHttp(true)"), first.getMessage());
        assertEquals(1, requests.get());
    }

    /**
     * Connection refused, HTTP 404, a server that never answers and too many redirects all give the same
     * message; what happened is only in the cause.
     */
    @Test
    void everyNetworkFailureHasTheSameMessage() throws IOException {
        // A generous timeout where an answer comes (a loaded machine must not turn a 404 into a timeout), a
        // short one for the server that never answers.
        ImageLoader loader = guarded().allowPrivateAddresses(true).timeout(Duration.ofSeconds(10)).build();
        ImageLoader impatient = loader.toBuilder().timeout(Duration.ofMillis(500)).build();
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        ImageProcessingException refused = fails(Reason.UNREADABLE,
                () -> loader.load(URI.create("http://127.0.0.1:" + closedPort + "/x.png")));
        ImageProcessingException notFound = fails(Reason.UNREADABLE,
                () -> loader.load(URI.create("http://127.0.0.1:" + port + "/missing.png")));
        ImageProcessingException silent;
        try (ServerSocket mute = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            // Never accepts: the kernel completes the connection, nobody ever answers.
            silent = fails(Reason.UNREADABLE,
                    () -> impatient.load(URI.create("http://127.0.0.1:" + mute.getLocalPort() + "/x.png")));
        }
        ImageProcessingException loop = fails(Reason.UNREADABLE,
                () -> loader.load(URI.create("http://127.0.0.1:" + port + "/loop")));
        assertEquals(HttpImageFetcher.FAILED, refused.getMessage());
        assertEquals(refused.getMessage(), notFound.getMessage());
        assertEquals(refused.getMessage(), silent.getMessage());
        assertEquals(refused.getMessage(), loop.getMessage());
        assertFalse(refused.getMessage().contains(String.valueOf(closedPort)));
        // The causes tell them apart, for the operator's log.
        assertTrue(hasCause(refused, java.net.ConnectException.class), refused.getCause().toString());
        assertEquals("HTTP 404 for http://127.0.0.1:" + port + "/missing.png (expected 200)",
                notFound.getCause().getMessage());
        assertInstanceOf(HttpTimeoutException.class, silent.getCause());
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }

    @Test
    void sizeLimitWithAndWithoutContentLength() {
        ImageLoader small = localhostAllowed().toBuilder().maxBytes(png.length - 1).build();
        fails(Reason.TOO_MANY_BYTES, () -> small.load(URI.create(local() + "/ok.png")));
        fails(Reason.TOO_MANY_BYTES, () -> small.load(URI.create(local() + "/chunked.png")));
    }

    @Test
    void timeout() {
        ImageLoader impatient = localhostAllowed().toBuilder().timeout(Duration.ofMillis(300)).build();
        long t0 = System.nanoTime();
        ImageProcessingException e = fails(Reason.UNREADABLE, () -> impatient.load(URI.create(local() + "/slow.png")));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 2500, "gave up after " + ms + " ms");
        assertEquals(HttpImageFetcher.FAILED, e.getMessage());
        assertInstanceOf(HttpTimeoutException.class, e.getCause(), e.getCause().toString());
    }

    @Test
    void untrustedInputPreset() {
        ImageLoader u = ImageLoader.forUntrustedInput();
        assertFalse(u.allowHttp());
        assertFalse(u.allowPrivateAddresses());
        assertFalse(u.allowFileUrls());
        assertEquals(List.of(), List.copyOf(u.allowedHosts()));
        assertEquals(ImageLoader.DEFAULT_MAX_PIXELS, u.maxPixels());
        assertEquals(ImageLoader.DEFAULT_MAX_BYTES, u.maxBytes());
        assertEquals(ImageLoader.DEFAULT_TIMEOUT, u.timeout());
        ImageProcessingException http = fails(Reason.UNSUPPORTED_SOURCE, () -> u.load(URI.create(local() + "/ok.png")));
        assertTrue(http.getMessage().startsWith("http: URLs are refused"), http.getMessage());
        ImageLoader guardedPreset = u.toBuilder().beforeSend(uri -> {
            throw new AssertionError("contacted " + uri);
        }).build();
        ImageProcessingException https = fails(Reason.UNSUPPORTED_SOURCE,
                () -> guardedPreset.load(URI.create("https://127.0.0.1:" + port + "/ok.png")));
        assertTrue(https.getMessage().contains("loopback"), https.getMessage());
        assertEquals(0, requests.get());
    }

    @Test
    void allowHostsValidatesEntries() {
        for (String bad : new String[] {"", " ", "http://x.org", "x.org/path", "user@x.org", "x.org?q", "a b"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ImageLoader.builder().allowHosts(bad), bad);
            assertTrue(e.getMessage().contains("allowHosts"), e.getMessage());
        }
        assertEquals(List.of("images.example.org", "localhost:8080", "[::1]:8080"), List.copyOf(ImageLoader.builder()
                .allowHosts("Images.Example.org", "localhost:8080", "[::1]:8080").build().allowedHosts()));
        assertThrows(NullPointerException.class, () -> ImageLoader.builder().allowHosts((String) null));
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
        ImageProcessingException noHost = fails(Reason.UNSUPPORTED_SOURCE,
                () -> ImageLoader.defaults().load(URI.create("http://bad_host/x.png")));
        assertTrue(noHost.getMessage().startsWith("URL has no (valid) host name"), noHost.getMessage());
    }
}
