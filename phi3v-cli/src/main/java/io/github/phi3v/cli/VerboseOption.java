package io.github.phi3v.cli;

import picocli.CommandLine.Option;

/** The {@code --verbose} flag every command accepts (the handler in {@link Phi3vCli} reads it). */
final class VerboseOption {

    @Option(names = "--verbose",
            description = "Print stack traces of errors, and the library's INFO log records (e.g. the model load "
                    + "summary).")
    boolean verbose;
}
