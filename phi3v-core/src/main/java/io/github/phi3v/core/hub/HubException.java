package io.github.phi3v.core.hub;

/**
 * A model or file could not be obtained from the hub or the cache. {@link #reason()} classifies the
 * failure (for exit codes and retry decisions); the message says what was requested, what happened and
 * what to do.
 */
public class HubException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Why the request failed. */
    public enum Reason {
        /** {@code HF_HUB_OFFLINE} is set and the file is not in the cache. */
        OFFLINE_NOT_CACHED,
        /** HTTP 401/403: missing, invalid or insufficient token, or a gated model. */
        UNAUTHORIZED,
        /** The repository, revision or file does not exist (HTTP 404). */
        NOT_FOUND,
        /** The downloaded bytes do not match the expected size or sha256. */
        INTEGRITY,
        /** Connection failure, timeout or an interrupted transfer (the partial file is kept to resume). */
        NETWORK,
        /** Any other unexpected HTTP status or malformed hub response. */
        PROTOCOL,
        /** The local cache could not be read or written. */
        CACHE,
        /** The file is larger than {@link HubConfig#maxFileBytes()} (announced by the hub or while streaming). */
        TOO_LARGE,
        /**
         * The disk holding the cache is full (or the user's quota is exhausted): reported at once, without
         * retries, with the folder and the bytes needed; the partial download is deleted.
         */
        DISK_FULL,
        /**
         * A token would have been sent to an {@code http://} endpoint; refused before connecting unless
         * {@link HubConfig#withAllowTokenOverHttp(boolean)} allows it.
         */
        TOKEN_OVER_HTTP
    }

    /** The classification of the failure. */
    private final Reason reason;

    /**
     * Creates the exception.
     *
     * @param reason the classification
     * @param message what was requested, what happened and what to do
     */
    public HubException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    /**
     * Creates the exception with a cause.
     *
     * @param reason the classification
     * @param message what was requested, what happened and what to do
     * @param cause the underlying error
     */
    public HubException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    /**
     * The classification of the failure.
     *
     * @return the reason given at construction
     */
    public Reason reason() {
        return reason;
    }
}
