package io.github.phi3v.core.hub;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.github.phi3v.core.hub.HubException.Reason;

/**
 * The HTTP side of {@link HubClient}: a HEAD of a file's resolve URL read as {@link FileMetadata}, and one
 * ranged GET of it into a partial file. Redirects are followed by hand so that the token goes to the hub's
 * own origin only (and never over plain HTTP unless allowed); no wait is unbounded. Thread-safe.
 */
final class HubHttp {

    private static final int MAX_REDIRECTS = 10;

    private final HubConfig config;
    private final HttpClient http;
    private final DownloadSink.Writer writer;

    HubHttp(HubConfig config, DownloadSink.Writer writer) {
        this.config = config;
        this.writer = writer;
        this.http = HttpClient.newBuilder()
                .connectTimeout(config.connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER) // followed by hand: the token must not leave the hub
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    /** What a HEAD of the resolve URL says about a file. */
    record FileMetadata(boolean missing, String commit, String etag, long size, URI location) {
    }

    /** {@code {endpoint}/{repo}/resolve/{revision}/{file}}, each path segment encoded. */
    URI resolveUrl(ResolveSession s, String revision, String file) {
        StringBuilder path = new StringBuilder();
        for (String segment : file.split("/")) {
            path.append('/').append(encode(segment));
        }
        return URI.create(config.endpoint() + "/" + s.repoId + "/resolve/" + encode(revision) + path);
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private HttpRequest.Builder request(URI url) {
        HttpRequest.Builder b = HttpRequest.newBuilder(url)
                .timeout(config.readTimeout())
                .header("User-Agent", "phi3v-java")
                .header("Accept-Encoding", "identity"); // sizes and hashes are of the raw bytes
        // The token goes to the hub only, never to the storage host an LFS file redirects to.
        if (config.token() != null && sameOrigin(url, config.endpoint())) {
            if (!"https".equalsIgnoreCase(url.getScheme()) && !config.allowTokenOverHttp()) {
                // Refused before connecting: on plain HTTP anyone on the path can read the token.
                throw new HubException(Reason.TOKEN_OVER_HTTP, "refusing to send the hub token (HF_TOKEN / "
                        + "$HF_HOME/token) over plain HTTP to " + config.endpoint() + ": anyone on the network path "
                        + "could read it. Use an https:// endpoint (HF_ENDPOINT), remove the token, or allow it "
                        + "explicitly with HubConfig.withAllowTokenOverHttp(true) for a trusted mirror");
            }
            b.header("Authorization", "Bearer " + config.token());
        }
        return b;
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /**
     * HEAD of the resolve URL. Redirects to the same host (a renamed repository) are followed; the
     * redirect of an LFS file to its storage host is not — its headers already carry the metadata.
     */
    FileMetadata head(ResolveSession s, String file) {
        String revision = s.commit != null ? s.commit : s.revision;
        URI url = resolveUrl(s, revision, file);
        String commitSeen = null; // a redirect may carry X-Repo-Commit that the final answer lacks
        for (int redirects = 0; redirects <= MAX_REDIRECTS; redirects++) {
            HttpResponse<Void> r = sendWithRetries(s, file,
                    request(url).method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
            int status = r.statusCode();
            HttpHeaders h = r.headers();
            if (commitHeader(h) != null) {
                commitSeen = commitHeader(h);
            }
            if (status >= 300 && status < 400) {
                URI location = location(url, h, s, file);
                if (h.firstValue("X-Linked-Etag").isPresent() || !sameOrigin(location, config.endpoint())) {
                    return metadata(s, file, h, location, commitSeen);
                }
                url = location;
                continue;
            }
            if (status >= 200 && status < 300) {
                return metadata(s, file, h, null, commitSeen);
            }
            if (status == 404) {
                String code = h.firstValue("X-Error-Code").orElse("EntryNotFound");
                if (code.equals("EntryNotFound")) {
                    return new FileMetadata(true, commitHeader(h) != null ? commitHeader(h) : commitSeen, null, -1,
                            null);
                }
                throw new HubException(Reason.NOT_FOUND, (code.equals("RevisionNotFound")
                        ? "revision " + s.revision + " of " + s.repoId + " does not exist"
                        : "repository " + s.repoId + " does not exist") + " on " + config.endpoint()
                        + " (HTTP 404 " + code + ") while resolving " + file + tokenHint());
            }
            throw httpError(s, file, status, h);
        }
        throw new HubException(Reason.PROTOCOL, "more than " + MAX_REDIRECTS + " redirects resolving "
                + s.describe(file));
    }

    private String tokenHint() {
        return config.token() == null ? "; if it is private or gated, set HF_TOKEN" : "";
    }

    private HubException httpError(ResolveSession s, String file, int status, HttpHeaders h) {
        if (status == 401 || status == 403) {
            return new HubException(Reason.UNAUTHORIZED, "HTTP " + status + " for " + s.describe(file) + " on "
                    + config.endpoint() + ": " + (config.token() == null
                            ? "no token was sent; set HF_TOKEN (or save a token in $HF_HOME/token) to a token "
                                    + "with access to this repository"
                            : "the token from HF_TOKEN / $HF_HOME/token was refused; check that it is valid and "
                                    + "has access to this repository")
                    + ", and accept the model's license on the hub if it is gated"
                    + h.firstValue("X-Error-Message").map(m -> " (hub says: " + m + ")").orElse(""));
        }
        return new HubException(Reason.PROTOCOL, "HTTP " + status + " for " + s.describe(file) + " on "
                + config.endpoint() + h.firstValue("X-Error-Message").map(m -> " (hub says: " + m + ")").orElse(""));
    }

    private FileMetadata metadata(ResolveSession s, String file, HttpHeaders h, URI location, String commitSeen) {
        String commit = commitHeader(h) != null ? commitHeader(h) : commitSeen;
        if (commit == null) {
            if (s.commit == null) {
                throw new HubException(Reason.PROTOCOL, "hub response for " + s.describe(file) + " lacks a valid "
                        + "X-Repo-Commit header; is HF_ENDPOINT (" + config.endpoint() + ") a Hugging Face hub?");
            }
            commit = s.commit;
        }
        String etag = h.firstValue("X-Linked-Etag").or(() -> h.firstValue("ETag")).map(HubHttp::unquote)
                .orElseThrow(() -> new HubException(Reason.PROTOCOL, "hub response for " + s.describe(file)
                        + " lacks an ETag header; is HF_ENDPOINT (" + config.endpoint() + ") a Hugging Face hub?"));
        long size = h.firstValue("X-Linked-Size").or(() -> h.firstValue("Content-Length"))
                .map(HubHttp::parseLong).orElse(-1L);
        return new FileMetadata(false, commit, etag, size, location);
    }

    private static String commitHeader(HttpHeaders h) {
        return h.firstValue("X-Repo-Commit").map(String::strip).filter(c -> HubCache.COMMIT.matcher(c).matches())
                .orElse(null);
    }

    private static String unquote(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) {
            e = e.substring(1, e.length() - 1);
        }
        return e;
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private URI location(URI base, HttpHeaders h, ResolveSession s, String file) {
        String loc = h.firstValue("Location").orElseThrow(() -> new HubException(Reason.PROTOCOL,
                "redirect without a Location header for " + s.describe(file)));
        URI u = base.resolve(loc);
        if (!"http".equalsIgnoreCase(u.getScheme()) && !"https".equalsIgnoreCase(u.getScheme())) {
            throw new HubException(Reason.PROTOCOL, "redirect to a non-HTTP location '" + loc + "' for "
                    + s.describe(file));
        }
        return u;
    }

    /** Sends a bodiless request, retrying connection failures up to {@code maxAttempts} times. */
    private HttpResponse<Void> sendWithRetries(ResolveSession s, String file, HttpRequest req) {
        IOException last = null;
        for (int attempt = 1; attempt <= config.maxAttempts(); attempt++) {
            try {
                return http.send(req, HttpResponse.BodyHandlers.discarding());
            } catch (IOException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new HubException(Reason.NETWORK, "interrupted while resolving " + s.describe(file), e);
            }
        }
        throw new HubException(Reason.NETWORK, "cannot reach " + config.endpoint() + " for " + s.describe(file)
                + " after " + config.maxAttempts() + " attempts: " + last, last);
    }

    /**
     * One GET of {@code url} (redirects followed by hand) appending to {@code part} from byte {@code have}
     * with an HTTP Range. The body is written by a subscriber on the client's thread while this thread
     * watches for stalls: no wait is unbounded.
     */
    void transfer(ResolveSession s, String file, URI url, Path part, long have, long total) throws IOException {
        URI target = url;
        for (int redirects = 0; redirects <= MAX_REDIRECTS; redirects++) {
            HttpRequest.Builder b = request(target).GET();
            if (have > 0) {
                b.header("Range", "bytes=" + have + "-");
            }
            DownloadSink sink = new DownloadSink(part, have, total, file, s.listener, s.describe(file),
                    config.maxFileBytes(), writer);
            HttpResponse<Void> r = await(http.sendAsync(b.build(), sink::handle), sink);
            int status = r.statusCode();
            if (status >= 300 && status < 400) {
                target = location(target, r.headers(), s, file);
                continue;
            }
            if (status == 416) {
                Files.deleteIfExists(part); // our partial file does not fit the remote one: start over
                throw new IOException("HTTP 416: the partial download did not match; restarting");
            }
            if (status != 200 && status != 206) {
                throw httpError(s, file, status, r.headers());
            }
            sink.rethrow();
            return;
        }
        throw new HubException(Reason.PROTOCOL, "more than " + MAX_REDIRECTS + " redirects downloading "
                + s.describe(file));
    }

    private HttpResponse<Void> await(CompletableFuture<HttpResponse<Void>> future, DownloadSink sink)
            throws IOException {
        long limit = config.readTimeout().toNanos();
        try {
            while (true) {
                try {
                    return future.get(100, TimeUnit.MILLISECONDS);
                } catch (TimeoutException poll) {
                    HubException refused = sink.refusal();
                    if (refused != null) {
                        future.cancel(true);
                        sink.cancel();
                        throw refused;
                    }
                    IOException writeError = sink.error();
                    if (writeError != null) {
                        // The body was cancelled after a failed write: its future may never complete.
                        future.cancel(true);
                        sink.cancel();
                        throw writeError;
                    }
                    if (System.nanoTime() - sink.lastActivity() > limit) {
                        future.cancel(true);
                        sink.cancel();
                        throw new IOException("no data for " + config.readTimeout().toSeconds() + " s");
                    }
                }
            }
        } catch (ExecutionException e) {
            sink.cancel();
            HubException refused = sink.refusal();
            if (refused != null) {
                throw refused;
            }
            Throwable c = e.getCause();
            if (c instanceof HubException he) {
                throw he;
            }
            throw c instanceof IOException io ? io : new IOException(c);
        } catch (InterruptedException e) {
            future.cancel(true);
            sink.cancel();
            Thread.currentThread().interrupt();
            throw new HubException(Reason.NETWORK, "interrupted during the " + sink, e);
        } finally {
            sink.closeQuietly();
        }
    }
}
