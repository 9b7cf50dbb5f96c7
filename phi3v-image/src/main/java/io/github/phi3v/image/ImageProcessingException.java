package io.github.phi3v.image;

import java.util.Objects;

/**
 * An image could not be loaded or turned into model input.
 *
 * <p>Thrown by {@link ImageLoader} (reading, decoding, size limits) and {@link Phi3ImageProcessor}
 * (geometry). The {@link #reason()} says what kind of problem it was, so callers can map it to an
 * HTTP status or a user message without parsing text; the message says what was expected and what
 * was found.
 *
 * <p>Unchecked because images usually come from user input deep inside fluent call chains; I/O
 * failures keep their {@link java.io.IOException} as the cause.
 */
public final class ImageProcessingException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Reason {
        /** The input has no bytes at all. */
        EMPTY,
        /** The bytes could not be read (missing file, I/O error, HTTP error status, timeout). */
        UNREADABLE,
        /** The bytes are not a decodable image of any supported format. */
        UNSUPPORTED_FORMAT,
        /** The format was recognised but the data is corrupt or truncated. */
        CORRUPT,
        /** The image header declares a width or height of zero. */
        ZERO_SIZE,
        /** The header declares more pixels than the configured limit (decompression-bomb guard). */
        TOO_MANY_PIXELS,
        /** The encoded input is larger than the configured byte limit. */
        TOO_MANY_BYTES,
        /** The source kind is not allowed (e.g. a {@code file:} or {@code ftp:} URL). */
        UNSUPPORTED_SOURCE,
        /** The image cannot be mapped to an HD grid (aspect ratio so extreme that a side rounds to 0). */
        INVALID_GEOMETRY
    }

    private final Reason reason;
    /** Which image of a request failed (0-based), -1 when not known. */
    private final int imageIndex;

    /**
     * Creates an exception.
     *
     * @param reason  what kind of problem it is
     * @param message what was expected and what was found
     */
    public ImageProcessingException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
        this.imageIndex = -1;
    }

    /**
     * Creates an exception with a cause.
     *
     * @param reason  what kind of problem it is
     * @param message what was expected and what was found
     * @param cause   the underlying error
     */
    public ImageProcessingException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
        this.imageIndex = -1;
    }

    private ImageProcessingException(ImageProcessingException e, int index, int count) {
        super("image " + (index + 1) + " of " + count + ": " + e.getMessage(), e);
        this.reason = e.reason;
        this.imageIndex = index;
    }

    /**
     * This failure as the failure of one image among several of a request: same reason, the message starts
     * with {@code image N of M: }, and {@link #imageIndex()} tells which.
     *
     * @param index the failed image's position in the request, 0-based
     * @param count the request's number of images
     * @return the new exception (this one as its cause)
     */
    public ImageProcessingException forImage(int index, int count) {
        if (index < 0 || index >= count) {
            throw new IllegalArgumentException("image index " + index + " outside 0.." + (count - 1));
        }
        return new ImageProcessingException(this, index, count);
    }

    /**
     * Which image of a request failed, when the request had several (see {@link #forImage(int, int)}).
     *
     * @return the 0-based index, or empty when not known
     */
    public java.util.OptionalInt imageIndex() {
        return imageIndex < 0 ? java.util.OptionalInt.empty() : java.util.OptionalInt.of(imageIndex);
    }

    /**
     * What kind of problem this is.
     *
     * @return the reason, never {@code null}
     */
    public Reason reason() {
        return reason;
    }
}
