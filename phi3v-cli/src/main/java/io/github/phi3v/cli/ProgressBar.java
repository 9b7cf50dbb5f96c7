package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.LongSupplier;

import io.github.phi3v.core.hub.ProgressListener;

/**
 * A console progress bar for hub downloads, one line per file on stderr:
 * {@code model-00001-of-00002.safetensors [=========>      ] 2.10/4.97 GB  48.3 MB/s  ETA 0:59}.
 * On a terminal the line is redrawn in place at most ten times a second; otherwise (a log file) a line
 * is printed at start, every 10 % and at the end. Thread-safe: the hub may report from its HTTP threads.
 */
final class ProgressBar implements ProgressListener {

    private static final int WIDTH = 24;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintWriter out;
    private final boolean interactive;
    private final LongSupplier clock;
    private String file;
    private long total;
    private long resumedFrom;
    private long startNanos;
    private long lastDraw;
    private int lastDecile;

    ProgressBar(PrintWriter out) {
        this(out, System.console() != null, System::nanoTime);
    }

    ProgressBar(PrintWriter out, boolean interactive, LongSupplier clock) {
        this.out = out;
        this.interactive = interactive;
        this.clock = clock;
    }

    @Override
    public synchronized void started(String name, long bytesTotal, long resumeFrom) {
        this.file = name;
        this.total = bytesTotal;
        this.resumedFrom = resumeFrom;
        this.startNanos = clock.getAsLong();
        this.lastDraw = 0;
        this.lastDecile = -1;
        if (!interactive) {
            out.println("downloading " + name + " (" + (bytesTotal >= 0 ? bytes(bytesTotal) : "size unknown")
                    + (resumeFrom > 0 ? ", resuming at " + bytes(resumeFrom) : "") + ")");
            out.flush();
        }
    }

    @Override
    public synchronized void progress(String name, long done, long bytesTotal) {
        if (!name.equals(file)) {
            started(name, bytesTotal, 0);
        }
        total = bytesTotal;
        long now = clock.getAsLong();
        if (interactive) {
            if (now - lastDraw >= REDRAW_NANOS || done == bytesTotal) {
                lastDraw = now;
                out.print("\r" + line(done, now) + "   ");
                out.flush();
            }
        } else if (bytesTotal > 0) {
            int decile = (int) (done * 10 / bytesTotal);
            if (decile > lastDecile) {
                lastDecile = decile;
                out.println(line(done, now));
                out.flush();
            }
        }
    }

    @Override
    public synchronized void completed(String name, Path path, boolean fromCache) {
        if (fromCache) {
            return;    // nothing was downloaded: stay quiet
        }
        if (interactive && name.equals(file)) {
            out.print("\r" + line(Math.max(total, 0), clock.getAsLong()) + "   \n");
        } else {
            out.println(name + " done");
        }
        out.flush();
        file = null;
    }

    /** The status line for {@code done} bytes at time {@code now}. */
    synchronized String line(long done, long now) {
        double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
        double rate = (done - resumedFrom) / seconds;
        StringBuilder sb = new StringBuilder(file == null ? "" : file).append(' ');
        if (total > 0) {
            int filled = (int) Math.min(WIDTH, done * WIDTH / total);
            sb.append('[').append("=".repeat(filled));
            if (filled < WIDTH) {
                sb.append('>').append(" ".repeat(WIDTH - filled - 1));
            }
            sb.append("] ").append(bytesPair(done, total));
        } else {
            sb.append(bytes(done));
        }
        sb.append(String.format(Locale.ROOT, "  %s/s", bytes((long) rate)));
        if (total > 0 && rate > 0 && done < total) {
            sb.append("  ETA ").append(duration((long) ((total - done) / rate)));
        }
        return sb.toString();
    }

    static String bytes(long n) {
        if (n < 1000) {
            return n + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = n;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
    }

    private static String bytesPair(long done, long total) {
        String t = bytes(total);
        String unit = t.substring(t.indexOf(' ') + 1);
        double div = switch (unit) {
            case "kB" -> 1e3;
            case "MB" -> 1e6;
            case "GB" -> 1e9;
            case "TB" -> 1e12;
            default -> 1;
        };
        String d = div == 1 ? Long.toString(done) : String.format(Locale.ROOT, "%.2f", done / div);
        return d + "/" + t;
    }

    static String duration(long seconds) {
        long h = seconds / 3600;
        long m = seconds % 3600 / 60;
        long s = seconds % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, s) : String.format(Locale.ROOT, "%d:%02d", m, s);
    }
}
