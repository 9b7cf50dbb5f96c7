package io.github.phi3v.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/** {@code phi3v download} against a loopback imitation of the hub's resolve endpoint. */
class DownloadCommandTest {

    private static final String COMMIT = "89abcdef0123456789abcdef0123456789abcdef";
    private static final Pattern RESOLVE = Pattern.compile("/acme/tiny/resolve/([^/]+)/(.+)");

    @TempDir
    Path cache;

    private HttpServer server;
    private final AtomicInteger requests = new AtomicInteger();
    private final byte[] weights = new byte[300_000];
    private Map<String, byte[]> files;

    @BeforeEach
    void start() throws IOException {
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (byte) (i * 31);
        }
        files = Map.of("config.json", bytes("{}"), "tokenizer.json", bytes("{\"t\":1}"),
                "tokenizer_config.json", bytes("{}"), "preprocessor_config.json", bytes("{\"num_crops\":4}"),
                "model.safetensors", weights);
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            requests.incrementAndGet();
            Matcher m = RESOLVE.matcher(ex.getRequestURI().getRawPath());
            if (!m.matches()) {
                ex.getResponseHeaders().add("X-Error-Code", "RepoNotFound");
                ex.sendResponseHeaders(404, -1);
                return;
            }
            ex.getResponseHeaders().add("X-Repo-Commit", COMMIT);
            byte[] content = files.get(URLDecoder.decode(m.group(2), StandardCharsets.UTF_8));
            if (content == null) {
                ex.getResponseHeaders().add("X-Error-Code", "EntryNotFound");
                ex.sendResponseHeaders(404, -1);
                return;
            }
            ex.getResponseHeaders().add("ETag", "\"" + gitBlobId(content) + "\"");
            if (ex.getRequestMethod().equals("HEAD")) {
                ex.getResponseHeaders().add("Content-Length", Integer.toString(content.length));
                ex.sendResponseHeaders(200, -1);
                return;
            }
            ex.sendResponseHeaders(200, content.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(content);
            }
        }
    }

    private static String gitBlobId(byte[] b) {
        try {
            MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
            sha1.update(("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(sha1.digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private String endpoint() {
        return "http://" + server.getAddress().getHostString() + ":" + server.getAddress().getPort();
    }

    @Test
    void downloadsWithProgressThenServesFromTheCacheOffline() throws IOException {
        CliTest.Result r = CliTest.run("download", "acme/tiny", "--endpoint", endpoint(), "--cache-dir",
                cache.toString());
        assertEquals(0, r.code(), r.err());
        Path snapshot = Path.of(r.out().strip());
        assertEquals(cache.resolve("models--acme--tiny/snapshots/" + COMMIT), snapshot);
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertTrue(r.err().contains("model.safetensors"), "progress mentions the file: " + r.err());
        assertTrue(r.err().contains("300 kB") || r.err().contains("0.30"), r.err());

        int before = requests.get();
        CliTest.Result again = CliTest.run("download", "acme/tiny", "--endpoint", endpoint(), "--cache-dir",
                cache.toString(), "--offline");
        assertEquals(0, again.code(), again.err());
        assertEquals(snapshot.toString(), again.out().strip());
        assertEquals(before, requests.get(), "offline: no request");
    }

    @Test
    void offlineWithoutCacheIsAOneLineErrorNamingTheFile() {
        CliTest.Result r = CliTest.run("download", "acme/tiny", "--cache-dir", cache.toString(), "--offline");
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("config.json"), r.err());
        assertEquals(0, requests.get());
    }

    @Test
    void unknownRepositoryFails() {
        CliTest.Result r = CliTest.run("download", "acme/other", "--endpoint", endpoint(), "--cache-dir",
                cache.toString());
        assertEquals(1, r.code(), r.out());
        assertTrue(r.err().startsWith("phi3v download: error: "), r.err());
    }
}
