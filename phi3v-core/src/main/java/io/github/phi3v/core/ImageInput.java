package io.github.phi3v.core;

import java.awt.image.BufferedImage;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;

import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.RgbImage;

/**
 * An image of a {@link ChatRequest} message: where it comes from, not yet decoded. Decoding happens when
 * the request runs, through the model's {@link ImageLoader} and its limits (pixels, bytes, timeouts, the
 * private-address guard for URLs, {@code file:} permission), so an {@code ImageInput} built from untrusted
 * input costs nothing until then.
 *
 * <pre>{@code
 * ImageInput.of(Path.of("chart.png"));
 * ImageInput.of(URI.create("https://example.com/cat.jpg"));
 * ImageInput.ofDataUri("data:image/png;base64,iVBORw0KGgo...");
 * ImageInput.parse(reference);          // a path, an http(s) URL, base64 or a data: URI
 * }</pre>
 *
 * <p>Values are immutable and thread-safe. {@link #withNumCrops(int)} fixes this image's crop budget
 * (otherwise the request's {@code numCrops} applies).
 */
public final class ImageInput {

    /** Media types a {@code data:} URI may declare. */
    private static final Set<String> IMAGE_TYPES = Set.of("image/png", "image/jpeg", "image/jpg", "image/gif",
            "image/bmp", "image/webp", "image/x-png", "image/x-ms-bmp");

    private enum Kind { PATH, URI, BYTES, DECODED }

    private final Kind kind;
    private final Object source;
    private final String description;
    private final int numCrops;   // 0 = the request's

    private ImageInput(Kind kind, Object source, String description, int numCrops) {
        this.kind = kind;
        this.source = source;
        this.description = description;
        this.numCrops = numCrops;
    }

    /**
     * An image file.
     *
     * @param file a PNG, JPEG, GIF, BMP or WebP file (read when the request runs)
     * @return the input
     */
    public static ImageInput of(Path file) {
        Objects.requireNonNull(file, "file");
        return new ImageInput(Kind.PATH, file, "file " + file, 0);
    }

    /**
     * An image at a URL: {@code http}, {@code https}, {@code file} (if the loader allows it) or a
     * {@code data:} URI.
     *
     * @param uri the location
     * @return the input
     * @throws IllegalArgumentException for a {@code data:} URI that is not a base64 image (see
     *     {@link #ofDataUri(String)}) or a URI without scheme
     */
    public static ImageInput of(URI uri) {
        Objects.requireNonNull(uri, "uri");
        String scheme = uri.getScheme();
        if (scheme == null) {
            throw new IllegalArgumentException("image URI '" + abbreviate(uri.toString()) + "' has no scheme;"
                    + " expected http://, https://, file: or data:image/...;base64,");
        }
        if (scheme.equalsIgnoreCase("data")) {
            return ofDataUri(uri.toString());
        }
        return new ImageInput(Kind.URI, uri, "URL " + abbreviate(uri.toString()), 0);
    }

    /**
     * An encoded image in memory (PNG, JPEG, GIF, BMP or WebP bytes).
     *
     * @param encoded the file's bytes; copied
     * @return the input
     */
    public static ImageInput ofBytes(byte[] encoded) {
        Objects.requireNonNull(encoded, "encoded");
        return new ImageInput(Kind.BYTES, encoded.clone(), encoded.length + " encoded bytes", 0);
    }

    /**
     * An encoded image as base64 text (standard alphabet, padding optional, line breaks ignored).
     *
     * @param base64 the encoded file in base64
     * @return the input
     * @throws IllegalArgumentException if the text is not valid base64
     */
    public static ImageInput ofBase64(String base64) {
        Objects.requireNonNull(base64, "base64");
        return new ImageInput(Kind.BYTES, decodeBase64(base64, "base64 image"), "base64 image", 0);
    }

    /**
     * An image as a {@code data:} URI, as OpenAI's {@code image_url} content parts carry them:
     * {@code data:image/png;base64,....}.
     *
     * @param dataUri the URI
     * @return the input
     * @throws IllegalArgumentException if it is not {@code data:<image media type>;base64,<base64>}: the
     *     message names what is wrong (media type, missing {@code ;base64}, bad base64)
     */
    public static ImageInput ofDataUri(String dataUri) {
        Objects.requireNonNull(dataUri, "dataUri");
        if (!dataUri.regionMatches(true, 0, "data:", 0, 5)) {
            throw new IllegalArgumentException("image data URI must start with 'data:', got '"
                    + abbreviate(dataUri) + "'");
        }
        int comma = dataUri.indexOf(',');
        if (comma < 0) {
            throw new IllegalArgumentException("image data URI has no ',' before its data: expected"
                    + " data:image/png;base64,<base64>");
        }
        String header = dataUri.substring(5, comma).toLowerCase(Locale.ROOT);
        String[] params = header.split(";", -1);
        String mediaType = params[0].strip();
        if (!IMAGE_TYPES.contains(mediaType)) {
            throw new IllegalArgumentException("image data URI has media type '" + abbreviate(mediaType)
                    + "'; expected one of image/png, image/jpeg, image/gif, image/bmp, image/webp");
        }
        if (!params[params.length - 1].strip().equals("base64")) {
            throw new IllegalArgumentException("image data URI must be base64-encoded (data:" + mediaType
                    + ";base64,...), got parameters '" + abbreviate(header) + "'");
        }
        byte[] bytes = decodeBase64(dataUri.substring(comma + 1), "image data URI");
        return new ImageInput(Kind.BYTES, bytes, "data URI (" + mediaType + ", " + bytes.length + " bytes)", 0);
    }

    /**
     * A decoded image (converted like PIL {@code convert("RGB")}: alpha dropped).
     *
     * @param image the image; its pixels are copied now
     * @return the input
     */
    public static ImageInput of(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        RgbImage rgb = ImageLoader.defaults().fromBufferedImage(image);
        return of(rgb);
    }

    /**
     * A decoded image.
     *
     * @param image the pixels (immutable)
     * @return the input
     */
    public static ImageInput of(RgbImage image) {
        Objects.requireNonNull(image, "image");
        return new ImageInput(Kind.DECODED, image, image.width() + "x" + image.height() + " image", 0);
    }

    /**
     * Reads an image reference as users write them: a {@code data:} URI, an {@code http(s)://} or
     * {@code file:} URL, a path of an existing file, or base64 text of an encoded image. Meant for
     * trusted input (a path reads local files; a server maps its inputs with {@link #of(URI)} and
     * {@link #ofDataUri(String)} instead).
     *
     * @param reference the reference
     * @return the input
     * @throws IllegalArgumentException if it is none of the four forms (the message says which forms are
     *     accepted), or a malformed {@code data:} URI
     */
    public static ImageInput parse(String reference) {
        Objects.requireNonNull(reference, "reference");
        String r = reference.strip();
        if (r.regionMatches(true, 0, "data:", 0, 5)) {
            return ofDataUri(r);
        }
        for (String scheme : new String[] {"http://", "https://", "file:"}) {
            if (r.regionMatches(true, 0, scheme, 0, scheme.length())) {
                try {
                    return of(new URI(r));
                } catch (URISyntaxException e) {
                    throw new IllegalArgumentException("image reference '" + abbreviate(r) + "' is not a valid URL: "
                            + e.getMessage(), e);
                }
            }
        }
        if (!r.isEmpty() && isExistingFile(r)) {
            return of(Path.of(r));
        }
        byte[] decoded = tryBase64(r);
        if (decoded != null && looksLikeImage(decoded)) {
            return new ImageInput(Kind.BYTES, decoded, "base64 image", 0);
        }
        throw new IllegalArgumentException("image reference '" + abbreviate(r) + "' is not an existing file, an"
                + " http(s):// or file: URL, a data:image/...;base64, URI, or base64 of a PNG, JPEG, GIF, BMP or"
                + " WebP image");
    }

    /**
     * This image with its own crop budget, which then takes precedence over the request's
     * {@code numCrops} (a conversation keeps each image at the budget it was first sent with).
     *
     * @param n the crop budget, at least 1
     * @return a copy with the budget
     */
    public ImageInput withNumCrops(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("numCrops must be >= 1, got " + n);
        }
        return new ImageInput(kind, source, description, n);
    }

    /**
     * This image's own crop budget, if {@link #withNumCrops(int)} set one.
     *
     * @return the budget, or empty for the request's
     */
    public OptionalInt numCrops() {
        return numCrops == 0 ? OptionalInt.empty() : OptionalInt.of(numCrops);
    }

    /** Decodes the image with {@code loader}'s limits. */
    RgbImage load(ImageLoader loader) {
        return switch (kind) {
            case PATH -> loader.load((Path) source);
            case URI -> loader.load((URI) source);
            case BYTES -> loader.load((byte[]) source);
            case DECODED -> (RgbImage) source;
        };
    }

    /** Whether the pixels are already decoded (no loader work, nothing to refuse). */
    boolean isDecoded() {
        return kind == Kind.DECODED;
    }

    /**
     * Where the image comes from, without its data.
     *
     * @return a short description such as {@code file chart.png} or {@code data URI (image/png, 5120 bytes)}
     */
    @Override
    public String toString() {
        return "ImageInput[" + description + (numCrops == 0 ? "" : ", numCrops=" + numCrops) + "]";
    }

    private static byte[] decodeBase64(String text, String what) {
        byte[] bytes = tryBase64(text);
        if (bytes == null) {
            throw new IllegalArgumentException(what + " is not valid base64 (standard alphabet A-Z a-z 0-9 + /,"
                    + " optional '=' padding): '" + abbreviate(text) + "'");
        }
        if (bytes.length == 0) {
            throw new IllegalArgumentException(what + " is empty: expected the base64 of an encoded image");
        }
        return bytes;
    }

    private static byte[] tryBase64(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
                sb.append(c);
            }
        }
        try {
            return Base64.getDecoder().decode(sb.toString());
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Magic numbers of the formats the loader decodes. */
    private static boolean looksLikeImage(byte[] b) {
        return startsWith(b, 0x89, 'P', 'N', 'G') || startsWith(b, 0xFF, 0xD8, 0xFF) || startsWith(b, 'G', 'I', 'F', '8')
                || startsWith(b, 'B', 'M') || (startsWith(b, 'R', 'I', 'F', 'F') && b.length >= 12 && b[8] == 'W'
                && b[9] == 'E' && b[10] == 'B' && b[11] == 'P');
    }

    private static boolean startsWith(byte[] b, int... prefix) {
        if (b.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if ((b[i] & 0xFF) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static boolean isExistingFile(String s) {
        try {
            return Files.isRegularFile(Path.of(s));
        } catch (InvalidPathException e) {
            return false;
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
