package io.github.phi3v.cli;

/**
 * A usage error found while a command runs (an option value the library refuses, before any work):
 * reported in one line like every error, with exit code {@link Phi3vCli#EXIT_USAGE} instead of
 * {@link Phi3vCli#EXIT_ERROR}.
 */
final class UsageException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    UsageException(String message) {
        super(message);
    }
}
