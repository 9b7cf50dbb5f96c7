package io.github.phi3v.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

import io.github.phi3v.image.ImageProcessingException.Reason;

/**
 * The download half of {@link ImageLoader}: {@code http}/{@code https} GET with redirects followed here,
 * hop by hop, so that every hop's scheme and host are checked before anything connects to it.
 *
 * <p>Per hop: the scheme must be https (or http when allowed); unless the host (or host:port) is on the
 * allow-list or private addresses are allowed, the host name is resolved and refused if ANY of its
 * addresses is not globally routed ({@link AddressClassifier}). IP literals are classified without a
 * lookup. The HTTP client then resolves the name again; it gets the same answer from the JVM's address
 * cache ({@code networkaddress.cache.ttl}, 30 s by default) unless the entry expires in between, which
 * is the residual DNS-rebinding window documented on {@link ImageLoader}.
 *
 * <p>Every failure that depends on what a server did (connection refused, unknown host, TLS, an HTTP
 * status other than 200, a bad or refused redirect, too many redirects, timeout) has the one message
 * {@link #FAILED}; the detail is only in the exception's cause, so a caller that shows messages to the
 * requester does not turn the loader into a port scanner.
 */
final class HttpImageFetcher {

    /** The message of every network failure (see the class comment). */
    static final String FAILED = "image download failed: no image (HTTP 200) could be fetched from the URL "
            + "(network error, HTTP status, redirect or timeout); the exception's cause has the details";

    private final long maxBytes;
    private final Duration timeout;
    private final boolean allowHttp;
    private final boolean allowPrivateAddresses;
    private final Set<String> allowedHosts;
    private final int maxRedirects;
    /** Sees every URL just before a request is sent to it (tests: proves what was, and was not, contacted). */
    private final Consumer<URI> beforeSend;
    /**
     * Created on the first download only (an {@link HttpClient} owns a selector thread), then reused;
     * a cache, not state: every fetcher with the same settings behaves the same.
     */
    private volatile HttpClient httpClient;

    HttpImageFetcher(long maxBytes, Duration timeout, boolean allowHttp, boolean allowPrivateAddresses,
            Set<String> allowedHosts, int maxRedirects, Consumer<URI> beforeSend) {
        this.maxBytes = maxBytes;
        this.timeout = timeout;
        this.allowHttp = allowHttp;
        this.allowPrivateAddresses = allowPrivateAddresses;
        this.allowedHosts = allowedHosts;
        this.maxRedirects = maxRedirects;
        this.beforeSend = beforeSend;
    }

    /**
     * Downloads {@code uri}, whose scheme the caller has already accepted.
     *
     * @param uri an http or https URL
     * @return the body of the final 200 response
     */
    byte[] fetch(URI uri) {
        if (uri.getHost() == null) {
            throw new ImageProcessingException(Reason.UNSUPPORTED_SOURCE, "URL has no (valid) host name: " + uri
                    + "; expected e.g. https://example.org/image.png");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        URI current = uri;
        for (int redirects = 0;; redirects++) {
            checkHost(current, redirects > 0);
            HttpResponse<byte[]> response = send(current, deadline);
            int status = response.statusCode();
            if (status == 200) {
                return response.body();
            }
            if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
                throw failed(new IOException("HTTP " + status + " for " + current + " (expected 200)"));
            }
            if (redirects == maxRedirects) {
                throw failed(new IOException("more than " + maxRedirects + " redirects, the last from " + current
                        + " (ImageLoader.builder().maxRedirects(...))"));
            }
            current = nextHop(current, response);
        }
    }

    private URI nextHop(URI from, HttpResponse<?> response) {
        String location = response.headers().firstValue("Location").orElse(null);
        if (location == null) {
            throw failed(new IOException("HTTP " + response.statusCode() + " without Location from " + from));
        }
        URI next;
        try {
            next = from.resolve(location.trim()); // a relative Location is relative to the current URL
        } catch (IllegalArgumentException e) {
            throw failed(new IOException("invalid redirect Location '" + location + "' from " + from, e));
        }
        String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !(scheme.equals("http") && allowHttp)) {
            throw failed(new IOException("redirect from " + from + " to " + next + " refused: scheme '" + scheme
                    + "' is not allowed (https" + (allowHttp ? " or http" : "; http needs allowHttp(true)") + ")"));
        }
        if (next.getHost() == null) {
            throw failed(new IOException("redirect from " + from + " to " + next + " has no valid host name"));
        }
        return next;
    }

    /** Refuses a host with a non-public address before anything connects to it. */
    private void checkHost(URI uri, boolean redirected) {
        String host = uri.getHost().toLowerCase(Locale.ROOT);
        int port = uri.getPort() != -1 ? uri.getPort()
                : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
        if (allowPrivateAddresses || allowedHosts.contains(host) || allowedHosts.contains(host + ":" + port)) {
            return;
        }
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host); // a literal is parsed, not looked up
        } catch (UnknownHostException | SecurityException e) {
            throw failed(e);
        }
        for (InetAddress address : addresses) {
            String why = AddressClassifier.refusal(address);
            if (why != null) {
                // The kind of address, not the address itself: a requester learns no more of internal DNS.
                boolean literal = host.startsWith("[") || host.equals(address.getHostAddress());
                throw new ImageProcessingException(Reason.UNSUPPORTED_SOURCE, (redirected ? "redirect target " : "")
                        + "host " + host + (literal ? " is not a public address: " : " resolves to a non-public "
                        + "address: ") + why + "; refused before connecting, so "
                        + "that URLs from requests cannot reach internal services. If this host is meant to be "
                        + "reached: ImageLoader.builder().allowHosts(\"" + host + ":" + port
                        + "\") or .allowPrivateAddresses(true)");
            }
        }
    }

    private HttpResponse<byte[]> send(URI uri, long deadline) {
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0) {
            throw failed(new HttpTimeoutException("no time left for " + uri + " within the timeout of "
                    + timeout.toMillis() + " ms"));
        }
        HttpRequest request;
        try {
            request = HttpRequest.newBuilder(uri).timeout(Duration.ofNanos(remaining)).GET().build();
        } catch (IllegalArgumentException e) {
            throw failed(new IOException("not a URL the HTTP client accepts: " + uri, e));
        }
        beforeSend.accept(uri);
        CompletableFuture<HttpResponse<byte[]>> future =
                client().sendAsync(request, info -> new LimitedBody(info, maxBytes, uri));
        try {
            return future.get(remaining, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw failed(new HttpTimeoutException("no complete response from " + uri + " within the timeout of "
                    + timeout.toMillis() + " ms"));
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new ImageProcessingException(Reason.UNREADABLE, "interrupted while downloading an image", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            while (cause instanceof IOException && cause.getCause() instanceof ImageProcessingException) {
                cause = cause.getCause();
            }
            if (cause instanceof ImageProcessingException ipe) {
                throw new ImageProcessingException(ipe.reason(), ipe.getMessage(), ipe); // the byte limit
            }
            throw failed(cause);
        }
    }

    private static ImageProcessingException failed(Throwable cause) {
        return new ImageProcessingException(Reason.UNREADABLE, FAILED, cause);
    }

    private HttpClient client() {
        HttpClient c = httpClient;
        if (c == null) {
            synchronized (this) {
                c = httpClient;
                if (c == null) {
                    // NEVER: redirects are followed in fetch(), where each hop is checked.
                    c = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER)
                            .build();
                    httpClient = c;
                }
            }
        }
        return c;
    }

    /** Collects a 200 body, failing as soon as it exceeds the byte limit; any other body is not read. */
    private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        private final long limit;
        private final URI uri;
        private Flow.Subscription subscription;

        LimitedBody(HttpResponse.ResponseInfo info, long limit, URI uri) {
            this.limit = limit;
            this.uri = uri;
            long declared = info.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (info.statusCode() != 200) {
                result.complete(new byte[0]); // error and redirect bodies are never needed: do not wait for them
            } else if (declared > limit) {
                result.completeExceptionally(ImageLoader.tooManyBytes(declared, uri + " (Content-Length)", limit));
            }
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            this.subscription = s;
            if (result.isDone()) {
                s.cancel();
            } else {
                s.request(Long.MAX_VALUE);
            }
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (result.isDone()) {
                return;
            }
            for (ByteBuffer b : items) {
                if (buffer.size() + (long) b.remaining() > limit) {
                    result.completeExceptionally(ImageLoader.tooManyBytes(buffer.size() + (long) b.remaining(),
                            uri.toString(), limit));
                    subscription.cancel();
                    return;
                }
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                buffer.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(buffer.toByteArray());
        }
    }
}
