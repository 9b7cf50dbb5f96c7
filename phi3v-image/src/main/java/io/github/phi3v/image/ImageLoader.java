package io.github.phi3v.image;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

import io.github.phi3v.image.ImageProcessingException.Reason;

/**
 * Reads images from files, URLs, bytes, streams or {@link BufferedImage}s and converts them to 8-bit
 * RGB exactly like PIL's {@code Image.open(...).convert("RGB")}: stored samples without colour
 * management; grey replicated; palette expanded; alpha dropped (or composited on white, see
 * {@link AlphaMode}); 16-bit samples reduced to their high byte, except 16-bit grey without alpha, which
 * PIL clamps to 0..255. CMYK and other colour spaces fall back to Java's sRGB conversion (not
 * bit-exact with PIL).
 *
 * <p>Formats: PNG, JPEG, GIF (first frame), BMP and WebP (through the TwelveMonkeys ImageIO plugin);
 * anything else an installed ImageIO reader can decode (e.g. TIFF) is accepted too, without a
 * conformance guarantee. EXIF orientation is ignored, as PIL's {@code Image.open} ignores it.
 *
 * <p>Safety limits, checked before any pixel is decoded: {@link Builder#maxPixels(long)} (dimensions read
 * from the header; guards against decompression bombs) and {@link Builder#maxBytes(long)} (encoded
 * size; also enforced while downloading and reading files). Files: regular files only.
 *
 * <p>URLs ({@link #load(URI)}), meant to be safe for URLs taken from requests: {@code https}, and
 * {@code http} unless {@link Builder#allowHttp(boolean) allowHttp(false)}; {@code file:} only with
 * {@link Builder#allowFileUrls(boolean)}. Redirects are followed here, at most
 * {@link Builder#maxRedirects(int)}, and every hop is checked like the first URL (scheme, so no
 * https-to-http downgrade unless http is allowed; host). A host is resolved and refused, before anything
 * connects to it, if any of its addresses is loopback, private (10/8, 172.16/12, 192.168/16), shared
 * (100.64/10), link-local (169.254/16 — cloud metadata — and fe80::/10), unique-local (fc00::/7),
 * multicast, unspecified, broadcast or reserved, also in IPv6 forms that carry such an IPv4 address
 * (::ffff:a.b.c.d, NAT64, 6to4), unless {@link Builder#allowPrivateAddresses(boolean)} or
 * {@link Builder#allowHosts(String...)} allows it. Every network failure (unknown host, connection
 * refused, TLS, HTTP status, redirects, timeout) has one and the same message, the detail is only in the
 * exception's cause, so that a service showing error messages cannot be used to scan ports.
 * {@link #forUntrustedInput()} is the preset for servers.
 *
 * <p>Residual risk, DNS rebinding: the HTTP client ({@code java.net.http}) cannot be told which checked
 * address to connect to; it resolves the host again and gets the checked answer from the JVM's address
 * cache ({@code networkaddress.cache.ttl}, 30 s by default), unless that entry expires between the check
 * and the connection (or the cache is disabled). A name whose DNS answer flips to an internal address at
 * that moment is then reached. Over {@code https} (the {@link #forUntrustedInput()} preset) such a
 * connection fails the certificate check, as the internal service holds no certificate for the
 * attacker's name, so nothing is read from it; over {@code http} it can be. With an HTTP proxy configured
 * (system properties), the proxy connects and the check applies to the local resolution of the name.
 * Network-level egress rules are the complete defence.
 *
 * <p>Immutable and thread-safe.
 */
public final class ImageLoader {

    /**
     * Default pixel limit: 50 000 000 (50 Mpx). The largest images real uses produce fit: a 50-megapixel
     * camera frame (8160 x 6120 = 49.9 Mpx), a 48-MP phone photo (8000 x 6000), an A4 page scanned at
     * 600 dpi (4961 x 7016 = 34.8 Mpx). Larger inputs (the 108/200-MP full-resolution modes of some
     * phones, A3 at 600 dpi) carry no more information for the model: the HD transform scales every
     * image to at most {@code num_crops} x 336² pixels (1.8 Mpx at 16 crops). One decoded 8-bit RGB image
     * at the limit holds 150 MB (3 bytes per pixel), and a PNG header declaring that size without pixel
     * data still makes the decoder allocate that one raster (measured in {@code ImageLimitsTest}). Earlier
     * snapshots used PIL's {@code MAX_IMAGE_PIXELS}, 89 478 485 (268 MB decoded).
     */
    public static final long DEFAULT_MAX_PIXELS = 50_000_000L;
    /** Default limit on the encoded size: 100 MiB. */
    public static final long DEFAULT_MAX_BYTES = 100L * 1024 * 1024;
    /** Default total timeout of an HTTP(S) download, all redirects included: 30 s. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    /** Default number of redirects followed: 5. */
    public static final int DEFAULT_MAX_REDIRECTS = 5;
    /** Largest accepted {@link Builder#maxRedirects(int)}. */
    public static final int MAX_REDIRECTS_LIMIT = 20;
    /** Formats covered by the conformance tests, for error messages. */
    static final String SUPPORTED = "PNG, JPEG, GIF, BMP, WebP";

    private static final ImageLoader DEFAULTS = new Builder().build();
    private static final ImageLoader UNTRUSTED = new Builder().allowHttp(false).build();

    private final long maxPixels;
    private final long maxBytes;
    private final Duration timeout;
    private final boolean allowFileUrls;
    private final boolean allowHttp;
    private final boolean allowPrivateAddresses;
    private final Set<String> allowedHosts;
    private final int maxRedirects;
    private final AlphaMode alphaMode;
    private final ImageDecoder decoder;
    private final HttpImageFetcher fetcher;
    private final Consumer<URI> beforeSend;

    /** What happens to an alpha channel. */
    public enum AlphaMode {
        /**
         * Alpha is discarded and the stored colour of every pixel kept, even where it is fully
         * transparent: what PIL {@code convert("RGB")} and therefore the official processor do.
         */
        DROP,
        /**
         * The image is composited over white: {@code round((c * a + 255 * (255 - a)) / 255)}. Not what the
         * official processor does; use it when transparent areas hold garbage colours.
         */
        COMPOSITE_ON_WHITE
    }

    private ImageLoader(Builder b) {
        this.maxPixels = b.maxPixels;
        this.maxBytes = b.maxBytes;
        this.timeout = b.timeout;
        this.allowFileUrls = b.allowFileUrls;
        this.allowHttp = b.allowHttp;
        this.allowPrivateAddresses = b.allowPrivateAddresses;
        this.allowedHosts = Collections.unmodifiableSet(new LinkedHashSet<>(b.allowedHosts));
        this.maxRedirects = b.maxRedirects;
        this.alphaMode = b.alphaMode;
        this.beforeSend = b.beforeSend;
        this.decoder = new ImageDecoder(maxPixels, alphaMode);
        this.fetcher = new HttpImageFetcher(maxBytes, timeout, allowHttp, allowPrivateAddresses, allowedHosts,
                maxRedirects, b.beforeSend);
    }

    /**
     * A loader with the default limits, alpha dropped, {@code file:} URLs refused, {@code http} and
     * {@code https} allowed, hosts with non-public addresses refused.
     *
     * @return the shared default loader
     */
    public static ImageLoader defaults() {
        return DEFAULTS;
    }

    /**
     * The preset for URLs and files that come from requests (servers): the default limits, {@code https}
     * only, hosts with non-public addresses refused, {@code file:} URLs refused. Adjust with
     * {@link #toBuilder()}, e.g. to allow an internal image store by name with
     * {@link Builder#allowHosts(String...)}.
     *
     * @return the shared preset loader
     */
    public static ImageLoader forUntrustedInput() {
        return UNTRUSTED;
    }

    /**
     * A builder starting from the defaults.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder holding this loader's settings.
     *
     * @return a new builder
     */
    public Builder toBuilder() {
        return new Builder().maxPixels(maxPixels).maxBytes(maxBytes).timeout(timeout)
                .allowFileUrls(allowFileUrls).allowHttp(allowHttp).allowPrivateAddresses(allowPrivateAddresses)
                .allowHosts(allowedHosts.toArray(new String[0])).maxRedirects(maxRedirects).alphaMode(alphaMode)
                .beforeSend(beforeSend);
    }

    /**
     * The pixel limit.
     *
     * @return the largest accepted {@code width * height}
     */
    public long maxPixels() {
        return maxPixels;
    }

    /**
     * The encoded-size limit.
     *
     * @return the largest accepted input in bytes
     */
    public long maxBytes() {
        return maxBytes;
    }

    /**
     * The total timeout of an HTTP(S) download, all redirects included.
     *
     * @return the timeout
     */
    public Duration timeout() {
        return timeout;
    }

    /**
     * Whether {@code file:} URLs are accepted by {@link #load(URI)}.
     *
     * @return true if allowed
     */
    public boolean allowFileUrls() {
        return allowFileUrls;
    }

    /**
     * Whether {@code http:} URLs (and redirects to them) are accepted; {@code https} always is.
     *
     * @return true if allowed
     */
    public boolean allowHttp() {
        return allowHttp;
    }

    /**
     * Whether hosts with loopback, private, link-local and other non-public addresses may be fetched.
     *
     * @return true if allowed (no address check at all)
     */
    public boolean allowPrivateAddresses() {
        return allowPrivateAddresses;
    }

    /**
     * Hosts fetched without the address check, as {@code host} or {@code host:port} in lower case.
     *
     * @return the allow-list (unmodifiable, possibly empty)
     */
    public Set<String> allowedHosts() {
        return allowedHosts;
    }

    /**
     * How many redirects a download follows.
     *
     * @return 0 to {@link #MAX_REDIRECTS_LIMIT}
     */
    public int maxRedirects() {
        return maxRedirects;
    }

    /**
     * What happens to an alpha channel.
     *
     * @return the alpha mode
     */
    public AlphaMode alphaMode() {
        return alphaMode;
    }

    // ---------------------------------------------------------------------------------------------
    // Sources

    /**
     * Reads and decodes an image file: a regular file (or a link to one) only, checked before it is opened,
     * so that a FIFO, device or directory is refused instead of blocking or reading without end; read
     * through a stream cut off after {@link #maxBytes()} (a file may grow, or report size 0 like
     * {@code /proc} files).
     *
     * @param file the file
     * @return the RGB image
     * @throws ImageProcessingException if it is not a regular file ({@code UNSUPPORTED_SOURCE}), cannot be
     *         read, is too large, or is not a decodable image
     */
    public RgbImage load(Path file) {
        return decoder.decode(readFile(file), file.toString());
    }

    /**
     * Downloads ({@code https}; {@code http} unless refused) or reads ({@code file}, if allowed) and decodes
     * an image. Redirects are followed up to {@link #maxRedirects()}, each hop checked like the first URL;
     * hosts with a non-public address are refused before connecting unless allowed (see the class comment).
     *
     * @param uri the location
     * @return the RGB image
     * @throws ImageProcessingException {@code UNSUPPORTED_SOURCE} for a refused scheme or address (the message
     *         names the option that allows it); {@code UNREADABLE} with the one message of every network
     *         failure (details in the cause); {@code TOO_MANY_BYTES}; or a decoding failure
     */
    public RgbImage load(URI uri) {
        return decoder.decode(readUri(uri), uri.toString());
    }

    /**
     * Same as {@link #load(URI)}.
     *
     * @param url the location
     * @return the RGB image
     * @throws ImageProcessingException as {@link #load(URI)}
     */
    public RgbImage load(URL url) {
        try {
            return load(url.toURI());
        } catch (URISyntaxException e) {
            throw new ImageProcessingException(Reason.UNSUPPORTED_SOURCE, "not a valid URI: " + url, e);
        }
    }

    /**
     * Decodes an encoded image (PNG, JPEG, ... file content).
     *
     * @param encoded the bytes (not modified)
     * @return the RGB image
     * @throws ImageProcessingException if the bytes are not a decodable image or exceed a limit
     */
    public RgbImage load(byte[] encoded) {
        if (encoded.length > maxBytes) {
            throw tooManyBytes(encoded.length, "input");
        }
        return decoder.decode(encoded, "input");
    }

    /**
     * Reads a stream to its end (not closing it) and decodes it.
     *
     * @param in the encoded image
     * @return the RGB image
     * @throws ImageProcessingException if reading fails, the stream exceeds {@link #maxBytes()} or the
     *         bytes are not a decodable image
     */
    public RgbImage load(InputStream in) {
        try {
            return decoder.decode(readLimited(in, "stream"), "stream");
        } catch (IOException e) {
            throw new ImageProcessingException(Reason.UNREADABLE, "cannot read image stream: " + e, e);
        }
    }

    /**
     * Converts an already decoded image like PIL {@code convert("RGB")}; the pixel limit is applied too.
     *
     * @param image the image (not modified)
     * @return the RGB image
     */
    public RgbImage fromBufferedImage(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        decoder.checkDimensions(image.getWidth(), image.getHeight(), "image");
        return PilRgbConversion.toRgb(image, alphaMode, false);
    }

    /**
     * Reads only the header of an encoded image: format and size, without decoding pixels (e.g. to plan
     * {@link Phi3ImageProcessor#numImageTokens(int, int, int)}).
     *
     * @param encoded the bytes
     * @return format name and dimensions
     * @throws ImageProcessingException if the header is not readable
     */
    public ImageHeader readHeader(byte[] encoded) {
        return decoder.withReader(encoded, "input", (reader, w, h) -> new ImageHeader(reader.getFormatName(), w, h));
    }

    /**
     * Reads only the header of an image file.
     *
     * @param file the file
     * @return format name and dimensions
     * @throws ImageProcessingException if the file or its header is not readable
     */
    public ImageHeader readHeader(Path file) {
        return decoder.withReader(readFile(file), file.toString(),
                (reader, w, h) -> new ImageHeader(reader.getFormatName(), w, h));
    }

    /**
     * Format and size of an encoded image, read from its header.
     *
     * @param format lower-case format name as reported by the ImageIO reader (e.g. {@code png}, {@code jpeg})
     * @param width  width in pixels
     * @param height height in pixels
     */
    public record ImageHeader(String format, int width, int height) {
    }

    private byte[] readFile(Path file) {
        try {
            // Attributes first (following links): opening a FIFO would block until a writer comes, and a
            // device such as /dev/zero never ends.
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            if (!attributes.isRegularFile()) {
                String kind = attributes.isDirectory() ? "a directory"
                        : "not a regular file (a FIFO, socket or device)";
                throw new ImageProcessingException(Reason.UNSUPPORTED_SOURCE, file + " is " + kind
                        + "; expected an image file");
            }
            if (attributes.size() > maxBytes) {
                throw tooManyBytes(attributes.size(), file.toString());
            }
            try (InputStream in = Files.newInputStream(file)) {
                return readLimited(in, file.toString());
            }
        } catch (NoSuchFileException e) {
            throw new ImageProcessingException(Reason.UNREADABLE, "image file not found: " + file, e);
        } catch (AccessDeniedException e) {
            throw new ImageProcessingException(Reason.UNREADABLE, "image file not readable (access denied): " + file, e);
        } catch (IOException e) {
            throw new ImageProcessingException(Reason.UNREADABLE, "cannot read image file " + file + ": " + e, e);
        }
    }

    private byte[] readUri(URI uri) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        String expected = "; expected https" + (allowHttp ? " or http" : "") + (allowFileUrls ? " or file" : "");
        switch (scheme) {
            case "http":
                if (!allowHttp) {
                    throw new ImageProcessingException(Reason.UNSUPPORTED_SOURCE, "http: URLs are refused (" + uri
                            + "); use https, or enable ImageLoader.builder().allowHttp(true)");
                }
                return fetcher.fetch(uri);
            case "https":
                return fetcher.fetch(uri);
            case "file":
                if (!allowFileUrls) {
                    throw new ImageProcessingException(Reason.UNSUPPORTED_SOURCE, "file: URLs are refused (" + uri
                            + "); pass a Path, or enable ImageLoader.builder().allowFileUrls(true)");
                }
                return readFile(Path.of(uri));
            default:
                throw new ImageProcessingException(Reason.UNSUPPORTED_SOURCE, "unsupported URL scheme '" + scheme
                        + "' in " + uri + expected);
        }
    }

    private byte[] readLimited(InputStream in, String source) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        for (int n; (n = in.read(buf)) > 0;) {
            total += n;
            if (total > maxBytes) {
                throw tooManyBytes(total, source);
            }
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    private ImageProcessingException tooManyBytes(long size, String source) {
        return tooManyBytes(size, source, maxBytes);
    }

    static ImageProcessingException tooManyBytes(long size, String source, long limit) {
        return new ImageProcessingException(Reason.TOO_MANY_BYTES, source + " has " + (size >= 0 ? "at least " : "")
                + size + " bytes, more than the limit of " + limit + " (ImageLoader.builder().maxBytes(...))");
    }

    @Override
    public String toString() {
        return "ImageLoader[maxPixels=" + maxPixels + ", maxBytes=" + maxBytes + ", timeout=" + timeout
                + ", allowFileUrls=" + allowFileUrls + ", allowHttp=" + allowHttp + ", allowPrivateAddresses="
                + allowPrivateAddresses + ", allowedHosts=" + allowedHosts + ", maxRedirects=" + maxRedirects
                + ", alphaMode=" + alphaMode + "]";
    }

    /** Builder for {@link ImageLoader}. */
    public static final class Builder {
        private long maxPixels = DEFAULT_MAX_PIXELS;
        private long maxBytes = DEFAULT_MAX_BYTES;
        private Duration timeout = DEFAULT_TIMEOUT;
        private boolean allowFileUrls;
        private boolean allowHttp = true;
        private boolean allowPrivateAddresses;
        private Set<String> allowedHosts = Set.of();
        private int maxRedirects = DEFAULT_MAX_REDIRECTS;
        private AlphaMode alphaMode = AlphaMode.DROP;
        private Consumer<URI> beforeSend = uri -> { };

        private Builder() {
        }

        /**
         * Test seam (package-private): called with every URL just before a request is sent to it; may throw
         * to stop the request. Lets tests prove which hosts were contacted, and that none other was.
         */
        Builder beforeSend(Consumer<URI> observer) {
            this.beforeSend = Objects.requireNonNull(observer, "observer");
            return this;
        }

        /**
         * Largest accepted {@code width * height}, checked from the header before decoding
         * ({@link #DEFAULT_MAX_PIXELS} by default, which says why that figure).
         *
         * @param maxPixels at least 1
         * @return this builder
         */
        public Builder maxPixels(long maxPixels) {
            if (maxPixels < 1) {
                throw new IllegalArgumentException("maxPixels must be >= 1, found " + maxPixels);
            }
            this.maxPixels = maxPixels;
            return this;
        }

        /**
         * Largest accepted encoded size (files, streams, downloads, byte arrays).
         *
         * @param maxBytes at least 1
         * @return this builder
         */
        public Builder maxBytes(long maxBytes) {
            if (maxBytes < 1) {
                throw new IllegalArgumentException("maxBytes must be >= 1, found " + maxBytes);
            }
            this.maxBytes = maxBytes;
            return this;
        }

        /**
         * Total time allowed for an HTTP(S) download (connect, headers and body of every hop, redirects
         * included). Name resolution uses the system resolver and its own timeouts.
         *
         * @param timeout positive duration
         * @return this builder
         */
        public Builder timeout(Duration timeout) {
            if (timeout == null || timeout.isZero() || timeout.isNegative()) {
                throw new IllegalArgumentException("timeout must be positive, found " + timeout);
            }
            this.timeout = timeout;
            return this;
        }

        /**
         * Whether {@link ImageLoader#load(URI)} may read {@code file:} URLs (off by default, so that
         * URLs taken from untrusted requests cannot read local files).
         *
         * @param allow true to allow
         * @return this builder
         */
        public Builder allowFileUrls(boolean allow) {
            this.allowFileUrls = allow;
            return this;
        }

        /**
         * Whether {@code http:} URLs and redirects to {@code http:} (also from {@code https}) are followed;
         * on by default, off in {@link ImageLoader#forUntrustedInput()}. Over {@code https} a DNS answer that
         * changes after the address check cannot make the loader read an internal service (see the class
         * comment).
         *
         * @param allow true to allow
         * @return this builder
         */
        public Builder allowHttp(boolean allow) {
            this.allowHttp = allow;
            return this;
        }

        /**
         * Whether URLs may reach hosts with loopback, private, link-local and other non-public addresses
         * (off by default: a URL from a request could otherwise make the loader fetch internal pages or
         * cloud metadata). Turning it on removes the address check for every host; prefer
         * {@link #allowHosts(String...)} for the few internal hosts that are meant to be reached.
         *
         * @param allow true to allow
         * @return this builder
         */
        public Builder allowPrivateAddresses(boolean allow) {
            this.allowPrivateAddresses = allow;
            return this;
        }

        /**
         * Hosts fetched without the address check, replacing the previous list: {@code "host"} (any port)
         * or {@code "host:port"}, IPv6 literals in brackets ({@code "[::1]:8080"}); names are compared
         * with the URL's host in lower case, as written (no resolution), for the first URL and for
         * redirects. Empty by default.
         *
         * @param hosts the host names or literals, optionally with a port
         * @return this builder
         * @throws IllegalArgumentException for an entry that is not a host or host:port
         */
        public Builder allowHosts(String... hosts) {
            Objects.requireNonNull(hosts, "hosts");
            Set<String> set = new LinkedHashSet<>();
            for (String h : Arrays.asList(hosts)) {
                set.add(normalizeHost(h));
            }
            this.allowedHosts = set;
            return this;
        }

        private static String normalizeHost(String entry) {
            Objects.requireNonNull(entry, "allowHosts entry");
            String e = entry.trim().toLowerCase(Locale.ROOT);
            URI u;
            try {
                u = new URI("http://" + e);
            } catch (URISyntaxException ex) {
                u = null;
            }
            if (e.isEmpty() || u == null || u.getHost() == null || u.getRawUserInfo() != null
                    || !u.getRawPath().isEmpty() || u.getRawQuery() != null || u.getRawFragment() != null) {
                throw new IllegalArgumentException("allowHosts entry '" + entry + "' is not a host or host:port "
                        + "(e.g. images.example.org, localhost:8080, [::1]:8080)");
            }
            return u.getPort() == -1 ? u.getHost() : u.getHost() + ":" + u.getPort();
        }

        /**
         * How many redirects a download follows ({@link #DEFAULT_MAX_REDIRECTS} by default); one more
         * fails the download.
         *
         * @param maxRedirects 0 (no redirects) to {@link #MAX_REDIRECTS_LIMIT}
         * @return this builder
         */
        public Builder maxRedirects(int maxRedirects) {
            if (maxRedirects < 0 || maxRedirects > MAX_REDIRECTS_LIMIT) {
                throw new IllegalArgumentException("maxRedirects must be in 0.." + MAX_REDIRECTS_LIMIT + ", found "
                        + maxRedirects);
            }
            this.maxRedirects = maxRedirects;
            return this;
        }

        /**
         * What to do with an alpha channel; {@link AlphaMode#DROP} (the official behaviour) by default.
         *
         * @param mode the alpha mode
         * @return this builder
         */
        public Builder alphaMode(AlphaMode mode) {
            this.alphaMode = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /**
         * Builds the immutable loader.
         *
         * @return the loader
         */
        public ImageLoader build() {
            return new ImageLoader(this);
        }
    }
}
