package io.github.phi3v.core.hub;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A loopback imitation of the hub's file endpoints, enough for the client: {@code HEAD/GET
 * /{org}/{name}/resolve/{revision}/{file}} with {@code X-Repo-Commit} and {@code ETag} (git blob id)
 * for small files, a 302 to a separate "storage" server with {@code X-Linked-Etag} (sha256) and
 * {@code X-Linked-Size} for LFS files, HTTP Range on storage, 404s with {@code X-Error-Code}, and a
 * token check. Faults are switched on per test: interrupt a transfer halfway, corrupt a blob.
 */
final class MockHub implements AutoCloseable {

    /** One request as the servers saw it. */
    record Request(String server, String method, String path, String range, String authorization) {
    }

    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    static final String REPO = "acme/tiny-vision";

    private final HttpServer hub;
    private final HttpServer storage;
    private final ExecutorService executor = Executors.newFixedThreadPool(4);
    private final Map<String, byte[]> files = new LinkedHashMap<>();
    private final Map<String, Boolean> lfs = new LinkedHashMap<>();
    private final List<Request> requests = new ArrayList<>();
    private volatile String requiredToken;
    private volatile int interruptions;
    private volatile boolean corrupt;
    private volatile int stalls;
    private volatile boolean slow;
    private volatile boolean ignoreRange;
    private volatile boolean hideLinkedSize;
    private volatile boolean chunkedStorage;
    private volatile long announcedSize = -1;

    /**
     * A hub serving one small model: the four JSON files and {@code weights} as an LFS
     * {@code model.safetensors}.
     */
    static MockHub smallModel(byte[] weights) throws IOException {
        return new MockHub()
                .text("config.json", "{\"model_type\": \"phi3_v\"}")
                .text("tokenizer.json", "{\"version\": \"1.0\"}")
                .text("tokenizer_config.json", "{}")
                .text("preprocessor_config.json", "{\"num_crops\": 16}")
                .file("model.safetensors", weights, true);
    }

    MockHub() throws IOException {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        hub = HttpServer.create(new InetSocketAddress(loopback, 0), 0);
        storage = HttpServer.create(new InetSocketAddress(loopback, 0), 0);
        hub.createContext("/", this::handleHub);
        storage.createContext("/", this::handleStorage);
        hub.setExecutor(executor);
        storage.setExecutor(executor);
        hub.start();
        storage.start();
    }

    URI endpoint() {
        return URI.create("http://" + hub.getAddress().getHostString() + ":" + hub.getAddress().getPort());
    }

    MockHub file(String name, byte[] content, boolean isLfs) {
        files.put(name, content);
        lfs.put(name, isLfs);
        return this;
    }

    MockHub text(String name, String content) {
        return file(name, content.getBytes(StandardCharsets.UTF_8), false);
    }

    byte[] content(String name) {
        return files.get(name);
    }

    /** The next {@code n} storage downloads stop after half of their bytes. */
    void interruptNext(int n) {
        interruptions = n;
    }

    /** The next {@code n} storage downloads send half of their bytes, then go silent for 5 s. */
    void stallNext(int n) {
        stalls = n;
    }

    /** Storage sends bodies in 10 pieces, 50 ms apart, so that concurrent clients overlap. */
    void slowStorage(boolean on) {
        slow = on;
    }

    /** Storage answers every GET with the whole file (200), as servers without Range support do. */
    void ignoreRange(boolean on) {
        ignoreRange = on;
    }

    /** The hub's answer for LFS files lacks {@code X-Linked-Size}, as a misconfigured mirror's might. */
    void hideLinkedSize(boolean on) {
        hideLinkedSize = on;
    }

    /** The hub announces this {@code X-Linked-Size} for LFS files instead of their real size (-1: real). */
    void announceSize(long bytes) {
        announcedSize = bytes;
    }

    /** Storage sends bodies chunked, without {@code Content-Length}: the size is known only at the end. */
    void chunkedStorage(boolean on) {
        chunkedStorage = on;
    }

    void corruptBlobs(boolean on) {
        corrupt = on;
    }

    void requireToken(String token) {
        requiredToken = token;
    }

    synchronized List<Request> requests() {
        return List.copyOf(requests);
    }

    synchronized void clearRequests() {
        requests.clear();
    }

    private synchronized void record(String server, HttpExchange ex) {
        Headers h = ex.getRequestHeaders();
        requests.add(new Request(server, ex.getRequestMethod(), ex.getRequestURI().getRawPath(), h.getFirst("Range"),
                h.getFirst("Authorization")));
    }

    static String sha256(byte[] b) {
        return hex("SHA-256", b);
    }

    /** The git blob id the hub uses as the ETag of a non-LFS file. */
    static String gitBlobId(byte[] b) {
        byte[] prefix = ("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[prefix.length + b.length];
        System.arraycopy(prefix, 0, all, 0, prefix.length);
        System.arraycopy(b, 0, all, prefix.length, b.length);
        return hex("SHA-1", all);
    }

    private static String hex(String algorithm, byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final Pattern RESOLVE = Pattern.compile("/([^/]+/[^/]+)/resolve/([^/]+)/(.+)");

    private void handleHub(HttpExchange ex) throws IOException {
        try (ex) {
            record("hub", ex);
            Headers out = ex.getResponseHeaders();
            String token = requiredToken;
            if (token != null && !("Bearer " + token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                out.add("X-Error-Message", "Invalid credentials in Authorization header");
                ex.sendResponseHeaders(401, -1);
                return;
            }
            Matcher m = RESOLVE.matcher(ex.getRequestURI().getRawPath());
            if (!m.matches() || !m.group(1).equals(REPO)) {
                out.add("X-Error-Code", "RepoNotFound");
                ex.sendResponseHeaders(404, -1);
                return;
            }
            String revision = java.net.URLDecoder.decode(m.group(2), StandardCharsets.UTF_8);
            if (!revision.equals("main") && !revision.equals(COMMIT)) {
                out.add("X-Error-Code", "RevisionNotFound");
                ex.sendResponseHeaders(404, -1);
                return;
            }
            String name = java.net.URLDecoder.decode(m.group(3), StandardCharsets.UTF_8);
            out.add("X-Repo-Commit", COMMIT);
            byte[] content = files.get(name);
            if (content == null) {
                out.add("X-Error-Code", "EntryNotFound");
                ex.sendResponseHeaders(404, -1);
                return;
            }
            if (lfs.get(name)) {
                String sha = sha256(content);
                out.add("X-Linked-Etag", "\"" + sha + "\"");
                if (!hideLinkedSize) {
                    out.add("X-Linked-Size", Long.toString(announcedSize >= 0 ? announcedSize : content.length));
                }
                out.add("ETag", "\"" + gitBlobId(sha.getBytes(StandardCharsets.US_ASCII)) + "\"");
                out.add("Location", "http://" + storage.getAddress().getHostString() + ":"
                        + storage.getAddress().getPort() + "/lfs/" + sha + "?signature=xyz");
                ex.sendResponseHeaders(302, -1);
                return;
            }
            out.add("ETag", "\"" + gitBlobId(content) + "\"");
            if (ex.getRequestMethod().equals("HEAD")) {
                out.add("Content-Length", Integer.toString(content.length));
                ex.sendResponseHeaders(200, -1);
                return;
            }
            ex.sendResponseHeaders(200, content.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(content);
            }
        }
    }

    private void handleStorage(HttpExchange ex) throws IOException {
        record("storage", ex);
        String path = ex.getRequestURI().getRawPath();
        byte[] content = null;
        for (byte[] c : files.values()) {
            if (path.equals("/lfs/" + sha256(c))) {
                content = c;
            }
        }
        if (content == null) {
            ex.sendResponseHeaders(404, -1);
            ex.close();
            return;
        }
        if (corrupt) {
            content = content.clone();
            content[content.length / 3] ^= 0x5a;
        }
        long start = 0;
        String range = ex.getRequestHeaders().getFirst("Range");
        if (range != null && !ignoreRange) {
            Matcher m = Pattern.compile("bytes=(\\d+)-").matcher(range);
            if (m.matches()) {
                start = Long.parseLong(m.group(1));
            }
        }
        if (start >= content.length) {
            ex.getResponseHeaders().add("Content-Range", "bytes */" + content.length);
            ex.sendResponseHeaders(416, -1);
            ex.close();
            return;
        }
        int from = (int) start;
        int length = content.length - from;
        if (from > 0) {
            ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/"
                    + content.length);
        }
        ex.sendResponseHeaders(from > 0 ? 206 : 200, chunkedStorage ? 0 : length);
        OutputStream os = ex.getResponseBody();
        if (interruptions > 0) {
            interruptions--;
            os.write(content, from, length / 2);
            os.flush();
            // Drop the connection mid-body, like a network failure: closing the exchange with bytes of
            // the fixed length missing makes the server close the socket.
            ex.close();
            return;
        }
        if (stalls > 0) {
            stalls--;
            os.write(content, from, length / 2);
            os.flush();
            try {
                Thread.sleep(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.close();
            return;
        }
        if (slow) {
            int piece = (length + 9) / 10;
            for (int off = 0; off < length; off += piece) {
                os.write(content, from + off, Math.min(piece, length - off));
                os.flush();
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            os.close();
            return;
        }
        os.write(content, from, length);
        os.close();
    }

    @Override
    public void close() {
        hub.stop(0);
        storage.stop(0);
        executor.shutdownNow();
    }
}
