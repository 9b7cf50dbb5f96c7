package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;

/**
 * Prints the library's log records on the command's standard error, one line each
 * ({@code [WARNING] the process runs without ...}), instead of java.util.logging's default two-line
 * format with a timestamp and the logging method.
 */
final class LogLineHandler extends Handler {

    private static final Formatter MESSAGE = new SimpleFormatter();

    private final PrintWriter err;

    LogLineHandler(PrintWriter err) {
        this.err = err;
    }

    @Override
    public void publish(LogRecord r) {
        if (!isLoggable(r)) {
            return;
        }
        String text = "[" + label(r.getLevel()) + "] " + MESSAGE.formatMessage(r);
        if (r.getThrown() != null) {
            text += ": " + Phi3vCli.oneLine(r.getThrown());
        }
        synchronized (err) {
            err.println(text);
            err.flush();
        }
    }

    /** System.Logger's level names (DEBUG rather than java.util.logging's FINE). */
    private static String label(Level level) {
        int v = level.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return "ERROR";
        }
        if (v >= Level.WARNING.intValue()) {
            return "WARNING";
        }
        if (v >= Level.INFO.intValue()) {
            return "INFO";
        }
        return v >= Level.FINE.intValue() ? "DEBUG" : "TRACE";
    }

    @Override
    public void flush() {
        err.flush();
    }

    @Override
    public void close() {
        flush();
    }
}
