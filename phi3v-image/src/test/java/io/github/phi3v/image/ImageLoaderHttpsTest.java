package io.github.phi3v.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;

import io.github.phi3v.image.ImageProcessingException.Reason;

/**
 * The https → http downgrade on a redirect, against a loopback HTTPS server with a certificate made for
 * the test ({@code keytool}, CN/SAN localhost). The loader's HTTP client is built with the JVM's default
 * {@link SSLContext}, so the test makes its context the default while the loader builds its client and
 * restores the previous default afterwards (tests in this module run sequentially).
 */
class ImageLoaderHttpsTest {

    @TempDir
    Path dir;
    private HttpsServer https;
    private HttpServer http;
    private SSLContext testContext;
    private final AtomicInteger httpRequests = new AtomicInteger();
    private final List<URI> sent = new CopyOnWriteArrayList<>();
    private final byte[] png = ImageLoaderTest.resource("fixture_rgb.png");

    @BeforeEach
    void start() throws Exception {
        Path keystore = dir.resolve("localhost.p12");
        Process keytool = new ProcessBuilder("keytool", "-genkeypair", "-alias", "localhost", "-keyalg", "EC",
                "-groupname", "secp256r1", "-dname", "CN=localhost", "-ext", "SAN=dns:localhost", "-validity", "2",
                "-keystore", keystore.toString(), "-storetype", "PKCS12", "-storepass", "changeit")
                .redirectErrorStream(true).start();
        String out = new String(keytool.getInputStream().readAllBytes());
        assertEquals(0, keytool.waitFor(), out);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks); // the self-signed certificate is its own trust anchor
        testContext = SSLContext.getInstance("TLS");
        testContext.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);

        http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.createContext("/", ex -> {
            httpRequests.incrementAndGet();
            send(ex, 200, png);
        });
        http.start();
        https = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        https.setHttpsConfigurator(new HttpsConfigurator(testContext));
        https.createContext("/ok.png", ex -> send(ex, 200, png));
        https.createContext("/down", ex -> {
            ex.getResponseHeaders().add("Location", "http://localhost:" + http.getAddress().getPort() + "/ok.png");
            send(ex, 302, new byte[0]);
        });
        https.start();
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
        }
    }

    @AfterEach
    void stop() {
        https.stop(0);
        http.stop(0);
    }

    /** Loads with a fresh loader whose HTTP client is built while the test's SSL context is the default. */
    private <T> T withTestContext(Supplier<T> action) throws Exception {
        SSLContext previous = SSLContext.getDefault();
        SSLContext.setDefault(testContext);
        try {
            return action.get();
        } finally {
            SSLContext.setDefault(previous);
        }
    }

    private ImageLoader.Builder loopbackOnly() {
        return ImageLoader.builder().allowHosts("localhost").beforeSend(uri -> {
            sent.add(uri);
            if (!uri.getHost().equals("localhost")) {
                throw new AssertionError("test tried to contact " + uri);
            }
        });
    }

    @Test
    void httpsToHttpDowngradeOnlyWhenHttpIsAllowed() throws Exception {
        String base = "https://localhost:" + https.getAddress().getPort();
        ImageLoader httpsOnly = loopbackOnly().allowHttp(false).build();
        assertEquals(64, (int) withTestContext(() -> httpsOnly.load(URI.create(base + "/ok.png")).width()),
                "https itself works");
        ImageProcessingException e = withTestContext(() -> assertThrows(ImageProcessingException.class,
                () -> httpsOnly.load(URI.create(base + "/down"))));
        assertEquals(Reason.UNREADABLE, e.reason());
        assertEquals(HttpImageFetcher.FAILED, e.getMessage());
        assertTrue(e.getCause().getMessage().contains("scheme 'http' is not allowed (https; http needs "
                + "allowHttp(true))"), e.getCause().getMessage());
        assertEquals(0, httpRequests.get(), "the http target was never contacted");
        assertEquals(List.of(URI.create(base + "/ok.png"), URI.create(base + "/down")), sent);

        ImageLoader httpAllowed = loopbackOnly().build();
        assertEquals(64, (int) withTestContext(() -> httpAllowed.load(URI.create(base + "/down")).width()));
        assertEquals(1, httpRequests.get());
    }
}
