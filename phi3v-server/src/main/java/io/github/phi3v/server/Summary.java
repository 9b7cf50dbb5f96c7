package io.github.phi3v.server;

import java.util.Arrays;
import java.util.Locale;

/**
 * A Prometheus summary: count and sum of every observation, and the 0.5 / 0.9 / 0.99 quantiles of the
 * last {@value #WINDOW} (a sliding window, so a slow hour long ago does not hide a fast present).
 * Thread-safe (observations are rare next to the work they measure, so one lock is fine).
 */
final class Summary {

    static final int WINDOW = 1024;
    private static final double[] QUANTILES = {0.5, 0.9, 0.99};

    private final String name;
    private final String help;
    private final double[] window = new double[WINDOW];
    private long count;
    private double sum;

    Summary(String name, String help) {
        this.name = name;
        this.help = help;
    }

    synchronized void observe(double value) {
        window[(int) (count % WINDOW)] = value;
        count++;
        sum += value;
    }

    synchronized long count() {
        return count;
    }

    void render(StringBuilder out) {
        double[] recent;
        long c;
        double s;
        synchronized (this) {
            c = count;
            s = sum;
            recent = Arrays.copyOf(window, (int) Math.min(c, WINDOW));
        }
        Arrays.sort(recent);
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" summary\n");
        for (double q : QUANTILES) {
            double v = recent.length == 0 ? Double.NaN
                    : recent[(int) Math.min(recent.length - 1, Math.ceil(q * recent.length) - 1)];
            out.append(name).append("{quantile=\"").append(q).append("\"} ").append(format(v)).append('\n');
        }
        out.append(name).append("_sum ").append(format(s)).append('\n');
        out.append(name).append("_count ").append(c).append('\n');
    }

    static String format(double v) {
        return Double.isNaN(v) ? "NaN" : String.format(Locale.ROOT, "%.6g", v);
    }
}
