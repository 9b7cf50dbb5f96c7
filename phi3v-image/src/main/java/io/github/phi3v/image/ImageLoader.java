package io.github.phi3v.image;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

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
 * size; also enforced while downloading). Remote URLs: {@code http}/{@code https} only, with
 * {@link Builder#timeout(Duration)}; {@code file:} URLs only if {@link Builder#allowFileUrls(boolean)}.
 *
 * <p>Immutable and thread-safe.
 */
public final class ImageLoader {

    /**
     * Default pixel limit: PIL's {@code Image.MAX_IMAGE_PIXELS} ({@code 1024 * 1024 * 1024 / 4 / 3}), about
     * 9459 x 9459.
     */
    public static final long DEFAULT_MAX_PIXELS = 1024L * 1024 * 1024 / 4 / 3;
    /** Default limit on the encoded size: 100 MiB. */
    public static final long DEFAULT_MAX_BYTES = 100L * 1024 * 1024;
    /** Default total timeout of an HTTP(S) download: 30 s. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    /** Formats covered by the conformance tests, for error messages. */
    static final String SUPPORTED = "PNG, JPEG, GIF, BMP, WebP";

    private static final ImageLoader DEFAULTS = new Builder().build();

    private final long maxPixels;
    private final long maxBytes;
    private final Duration timeout;
    private final boolean allowFileUrls;
    private final AlphaMode alphaMode;
    /**
     * Created on the first download only (an {@link HttpClient} owns a selector thread), then reused;
     * a cache, not state: every loader with the same settings behaves the same.
     */
    private volatile HttpClient httpClient;

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
        this.alphaMode = b.alphaMode;
    }

    /**
     * A loader with the default limits, alpha dropped, {@code file:} URLs refused.
     *
     * @return the shared default loader
     */
    public static ImageLoader defaults() {
        return DEFAULTS;
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
                .allowFileUrls(allowFileUrls).alphaMode(alphaMode);
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
     * The total timeout of an HTTP(S) download.
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
     * Reads and decodes an image file.
     *
     * @param file the file
     * @return the RGB image
     * @throws ImageProcessingException if it cannot be read, is too large, or is not a decodable image
     */
    public RgbImage load(Path file) {
        return decode(readFile(file), file.toString());
    }

    /**
     * Downloads ({@code http}, {@code https}) or reads ({@code file}, if allowed) and decodes an image.
     *
     * @param uri the location
     * @return the RGB image
     * @throws ImageProcessingException for a refused scheme, an HTTP error, a timeout, a size limit or
     *         undecodable data
     */
    public RgbImage load(URI uri) {
        return decode(readUri(uri), uri.toString());
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
        return decode(encoded, "input");
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
            return decode(readLimited(in, "stream"), "stream");
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
        checkDimensions(image.getWidth(), image.getHeight(), "image");
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
        return withReader(encoded, "input", (reader, w, h) -> new ImageHeader(reader.getFormatName(), w, h));
    }

    /**
     * Reads only the header of an image file.
     *
     * @param file the file
     * @return format name and dimensions
     * @throws ImageProcessingException if the file or its header is not readable
     */
    public ImageHeader readHeader(Path file) {
        return withReader(readFile(file), file.toString(),
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
            long size = Files.size(file);
            if (size > maxBytes) {
                throw tooManyBytes(size, file.toString());
            }
            return Files.readAllBytes(file);
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
        switch (scheme) {
            case "http":
            case "https":
                return download(uri);
            case "file":
                if (!allowFileUrls) {
                    throw new ImageProcessingException(Reason.UNSUPPORTED_SOURCE, "file: URLs are refused (" + uri
                            + "); pass a Path, or enable ImageLoader.builder().allowFileUrls(true)");
                }
                return readFile(Path.of(uri));
            default:
                throw new ImageProcessingException(Reason.UNSUPPORTED_SOURCE, "unsupported URL scheme '" + scheme
                        + "' in " + uri + "; expected http or https" + (allowFileUrls ? " or file" : ""));
        }
    }

    private HttpClient httpClient() {
        HttpClient c = httpClient;
        if (c == null) {
            synchronized (this) {
                c = httpClient;
                if (c == null) {
                    // NORMAL redirects: never from https to http.
                    c = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NORMAL)
                            .build();
                    httpClient = c;
                }
            }
        }
        return c;
    }

    private byte[] download(URI uri) {
        HttpClient client = httpClient();
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout).GET().build();
        CompletableFuture<HttpResponse<byte[]>> future =
                client.sendAsync(request, info -> new LimitedBody(info, maxBytes, uri));
        try {
            HttpResponse<byte[]> response = future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (response.statusCode() != 200) {
                throw new ImageProcessingException(Reason.UNREADABLE,
                        "HTTP " + response.statusCode() + " for " + uri + " (expected 200)");
            }
            return response.body();
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new ImageProcessingException(Reason.UNREADABLE,
                    "timed out: download of " + uri + " did not finish within " + timeout.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new ImageProcessingException(Reason.UNREADABLE, "interrupted while downloading " + uri, e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            while (cause instanceof IOException && cause.getCause() instanceof ImageProcessingException) {
                cause = cause.getCause();
            }
            if (cause instanceof ImageProcessingException ipe) {
                throw new ImageProcessingException(ipe.reason(), ipe.getMessage(), ipe);
            }
            throw new ImageProcessingException(Reason.UNREADABLE, "cannot download " + uri + ": " + cause, cause);
        }
    }

    /** Collects a response body, failing as soon as it exceeds the byte limit. */
    private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        private final long limit;
        private final URI uri;
        private final boolean ok;
        private Flow.Subscription subscription;

        LimitedBody(HttpResponse.ResponseInfo info, long limit, URI uri) {
            this.limit = limit;
            this.uri = uri;
            this.ok = info.statusCode() == 200;
            long declared = info.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (ok && declared > limit) {
                result.completeExceptionally(tooManyBytes(declared, uri + " (Content-Length)", limit));
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
                if (!ok) {
                    continue; // error bodies are discarded; the status is reported
                }
                if (buffer.size() + (long) b.remaining() > limit) {
                    result.completeExceptionally(tooManyBytes(buffer.size() + (long) b.remaining(), uri.toString(),
                            limit));
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

    private static ImageProcessingException tooManyBytes(long size, String source, long limit) {
        return new ImageProcessingException(Reason.TOO_MANY_BYTES, source + " has " + (size >= 0 ? "at least " : "")
                + size + " bytes, more than the limit of " + limit + " (ImageLoader.builder().maxBytes(...))");
    }

    // ---------------------------------------------------------------------------------------------
    // Decoding

    private interface ReaderAction<T> {
        T apply(ImageReader reader, int width, int height) throws IOException;
    }

    private RgbImage decode(byte[] encoded, String source) {
        return withReader(encoded, source, (reader, w, h) -> {
            checkDimensions(w, h, source);
            List<String> warnings = new ArrayList<>();
            IIOReadWarningListener listener = (r, warning) -> warnings.add(warning);
            reader.addIIOReadWarningListener(listener);
            BufferedImage image = reader.read(0, rgbOrderDestination(reader, w, h));
            for (String warning : warnings) {
                String lower = warning.toLowerCase(Locale.ROOT);
                // PIL refuses truncated files ("image file is truncated"); libjpeg only warns about them.
                if (lower.contains("premature end") || lower.contains("truncat")) {
                    throw new ImageProcessingException(Reason.CORRUPT, source + " is truncated ("
                            + reader.getFormatName() + " decoder: " + warning + ")");
                }
            }
            return PilRgbConversion.toRgb(image, alphaMode, true); // freshly decoded: adopt its raster
        });
    }

    /**
     * For a JPEG the JDK reader would decode into a {@code TYPE_3BYTE_BGR} image, a read parameter
     * with an R, G, B ordered sRGB destination instead; otherwise null (the reader's default).
     *
     * <p>Why: the reader hands over each decoded line as R, G, B bytes and copies it into the
     * destination; into B, G, R the JDK copies byte by byte in Java (about a third of the whole
     * decode time of a 1920x1080 JPEG), into R, G, B it is one {@code System.arraycopy} per line.
     * The bytes are the same: the destination has the same sRGB colour space as the default one, so
     * the reader applies the same (usually no) colour conversion; only the byte order differs, which
     * {@link RgbImage} records.
     */
    private static javax.imageio.ImageReadParam rgbOrderDestination(ImageReader reader, int w, int h)
            throws IOException {
        if (!"jpeg".equalsIgnoreCase(reader.getFormatName()) || (long) w * h * 3 > Integer.MAX_VALUE - 8) {
            return null; // (too large for one byte array: leave the failure to the reader, as before)
        }
        Iterator<javax.imageio.ImageTypeSpecifier> types = reader.getImageTypes(0);
        if (types == null || !types.hasNext()) {
            return null;
        }
        BufferedImage probe = types.next().createBufferedImage(1, 1);
        if (probe.getType() != BufferedImage.TYPE_3BYTE_BGR) {
            return null; // grey, CMYK, an embedded ICC profile's colour space ...: keep the default
        }
        java.awt.image.WritableRaster raster = java.awt.image.Raster.createInterleavedRaster(
                java.awt.image.DataBuffer.TYPE_BYTE, w, h, w * 3, 3, new int[] {0, 1, 2}, null);
        java.awt.image.ColorModel cm = new java.awt.image.ComponentColorModel(
                java.awt.color.ColorSpace.getInstance(java.awt.color.ColorSpace.CS_sRGB), false, false,
                java.awt.Transparency.OPAQUE, java.awt.image.DataBuffer.TYPE_BYTE);
        javax.imageio.ImageReadParam param = reader.getDefaultReadParam();
        param.setDestination(new BufferedImage(cm, raster, false, null));
        return param;
    }

    private <T> T withReader(byte[] encoded, String source, ReaderAction<T> action) {
        if (encoded.length == 0) {
            throw new ImageProcessingException(Reason.EMPTY, source + " is empty (0 bytes); expected an image in one of: "
                    + SUPPORTED);
        }
        String sniffed = sniffFormat(encoded);
        try (ImageInputStream iis = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(iis);
            if (!readers.hasNext()) {
                throw new ImageProcessingException(Reason.UNSUPPORTED_FORMAT, source + " is not a supported image"
                        + (sniffed == null ? "" : " (looks like " + sniffed + ")") + "; supported formats: "
                        + SUPPORTED);
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(iis, true, true);
                int w;
                int h;
                try {
                    w = reader.getWidth(0);
                    h = reader.getHeight(0);
                } catch (IOException | RuntimeException e) {
                    throw corrupt(source, reader, "unreadable header", e);
                }
                try {
                    return action.apply(reader, w, h);
                } catch (ImageProcessingException e) {
                    throw e;
                } catch (IOException | RuntimeException e) {
                    if (String.valueOf(e.getMessage()).contains("Unsupported Image Type")) {
                        // The JDK's JPEG reader has no CMYK / YCCK conversion.
                        throw new ImageProcessingException(Reason.UNSUPPORTED_FORMAT, source + ": this "
                                + formatName(reader) + " uses a colour model the decoder cannot convert (e.g. CMYK or "
                                + "YCCK JPEG); save it as RGB. Supported: " + SUPPORTED + " in RGB, grey or palette", e);
                    }
                    // ImageIO readers signal bad data with IIOException but also with runtime exceptions.
                    throw corrupt(source, reader, "cannot decode pixels", e);
                }
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("in-memory image stream failed", e); // not expected for byte arrays
        }
    }

    private static String formatName(ImageReader reader) {
        try {
            return reader.getFormatName().toUpperCase(Locale.ROOT);
        } catch (IOException ignored) {
            return "image";
        }
    }

    private static ImageProcessingException corrupt(String source, ImageReader reader, String what, Exception e) {
        String format = formatName(reader);
        String detail = e instanceof IIOException || e.getMessage() != null ? e.getMessage() : e.toString();
        return new ImageProcessingException(Reason.CORRUPT, source + ": corrupt or truncated " + format + " data ("
                + what + ": " + detail + ")", e);
    }

    private void checkDimensions(int w, int h, String source) {
        if (w <= 0 || h <= 0) {
            throw new ImageProcessingException(Reason.ZERO_SIZE, source + " declares size " + w + "x" + h
                    + "; expected at least 1x1");
        }
        long pixels = (long) w * h;
        if (pixels > maxPixels) {
            throw new ImageProcessingException(Reason.TOO_MANY_PIXELS, source + " declares " + w + "x" + h + " = "
                    + pixels + " pixels, more than the limit of " + maxPixels
                    + " (possible decompression bomb; raise ImageLoader.builder().maxPixels(...) if intended)");
        }
    }

    /** Names a few well-known formats from their magic bytes, for error messages only. */
    static String sniffFormat(byte[] b) {
        if (startsWith(b, 0, 0x89, 'P', 'N', 'G')) {
            return "PNG";
        }
        if (startsWith(b, 0, 0xFF, 0xD8, 0xFF)) {
            return "JPEG";
        }
        if (startsWith(b, 0, 'G', 'I', 'F', '8')) {
            return "GIF";
        }
        if (startsWith(b, 0, 'B', 'M')) {
            return "BMP";
        }
        if (startsWith(b, 0, 'R', 'I', 'F', 'F') && startsWith(b, 8, 'W', 'E', 'B', 'P')) {
            return "WebP";
        }
        if (startsWith(b, 0, 'I', 'I', 42, 0) || startsWith(b, 0, 'M', 'M', 0, 42)) {
            return "TIFF";
        }
        if (startsWith(b, 4, 'f', 't', 'y', 'p')) {
            String brand = b.length >= 12 ? new String(b, 8, 4, java.nio.charset.StandardCharsets.US_ASCII) : "";
            return brand.startsWith("avi") ? "AVIF" : brand.startsWith("hei") || brand.startsWith("mif")
                    ? "HEIF/HEIC" : "ISO media (" + brand.trim() + ")";
        }
        if (startsWith(b, 0, '%', 'P', 'D', 'F')) {
            return "PDF";
        }
        if (startsWith(b, 0, 0x00, 0x00, 0x00, 0x0C, 'j', 'P')) {
            return "JPEG 2000";
        }
        String head = new String(b, 0, Math.min(b.length, 256), java.nio.charset.StandardCharsets.ISO_8859_1)
                .stripLeading().toLowerCase(Locale.ROOT);
        if (head.startsWith("<svg") || (head.startsWith("<?xml") && head.contains("<svg"))) {
            return "SVG";
        }
        if (head.startsWith("<!doctype html") || head.startsWith("<html")) {
            return "HTML (an error page instead of an image?)";
        }
        return null;
    }

    private static boolean startsWith(byte[] b, int offset, int... magic) {
        if (b.length < offset + magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if ((b[offset + i] & 0xff) != magic[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "ImageLoader[maxPixels=" + maxPixels + ", maxBytes=" + maxBytes + ", timeout=" + timeout
                + ", allowFileUrls=" + allowFileUrls + ", alphaMode=" + alphaMode + "]";
    }

    /** Builder for {@link ImageLoader}. */
    public static final class Builder {
        private long maxPixels = DEFAULT_MAX_PIXELS;
        private long maxBytes = DEFAULT_MAX_BYTES;
        private Duration timeout = DEFAULT_TIMEOUT;
        private boolean allowFileUrls;
        private AlphaMode alphaMode = AlphaMode.DROP;

        private Builder() {
        }

        /**
         * Largest accepted {@code width * height}, checked from the header before decoding.
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
         * Total time allowed for an HTTP(S) download (connect, headers and body).
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
