package io.github.phi3v.core.runtime;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.ResourceBundle;
import java.util.function.Supplier;

/**
 * A {@link System.LoggerFinder} test double (registered in this module's test resources): every
 * {@code System.Logger} of the test JVM records into memory instead of printing, so tests can assert what
 * the library logs, and nothing reaches stdout/stderr.
 */
public final class RecordingLoggerFinder extends System.LoggerFinder {

    /** One log call. */
    public record Entry(String logger, System.Logger.Level level, String message, Throwable thrown) {
    }

    private static final int CAPACITY = 20_000;
    private static final Deque<Entry> RECORDS = new ArrayDeque<>();

    /** Required by the service loader. */
    public RecordingLoggerFinder() {
    }

    /** The records so far, oldest first (at most the last 20 000). */
    public static List<Entry> records() {
        synchronized (RECORDS) {
            return new ArrayList<>(RECORDS);
        }
    }

    /** Forgets the records so far. */
    public static void clear() {
        synchronized (RECORDS) {
            RECORDS.clear();
        }
    }

    @Override
    public System.Logger getLogger(String name, Module module) {
        return new Recording(name);
    }

    private static void add(Entry e) {
        synchronized (RECORDS) {
            if (RECORDS.size() == CAPACITY) {
                RECORDS.removeFirst();
            }
            RECORDS.addLast(e);
        }
    }

    private record Recording(String name) implements System.Logger {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public boolean isLoggable(Level level) {
            return level != Level.OFF;
        }

        @Override
        public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {
            add(new Entry(name, level, msg, thrown));
        }

        @Override
        public void log(Level level, ResourceBundle bundle, String format, Object... params) {
            add(new Entry(name, level, params == null || params.length == 0 ? format
                    : java.text.MessageFormat.format(format, params), null));
        }

        @Override
        public void log(Level level, Supplier<String> msgSupplier) {
            add(new Entry(name, level, msgSupplier.get(), null));
        }
    }
}
