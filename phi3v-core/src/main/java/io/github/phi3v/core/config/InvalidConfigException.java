package io.github.phi3v.core.config;

/**
 * A {@code config.json} that is not a Phi-3-V configuration this library can run. The message always
 * has the form {@code "<source>: <field>: expected ..., found ..."}, where {@code <source>} is the
 * file's path (or {@code config.json} for in-memory JSON) and {@code <field>} the JSON path of the
 * offending value, e.g. {@code rope_scaling.short_factor}.
 */
public class InvalidConfigException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a complete message.
     *
     * @param message "source: field: expected ..., found ..."
     */
    public InvalidConfigException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a complete message and the parse error that caused it.
     *
     * @param message "source: field: expected ..., found ..."
     * @param cause the underlying parse or I/O error
     */
    public InvalidConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
