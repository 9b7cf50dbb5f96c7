package io.github.phi3v.core.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The three environment variables the README asks launchers to set before the JVM starts (the library
 * cannot set them from inside): without them the CPU path runs measurably slower, so their absence is
 * logged once per process as a WARNING, with what each one is worth and the line to set them.
 */
final class LauncherSettings {

    private static final System.Logger LOG = System.getLogger(LauncherSettings.class.getName());

    /** Each variable, the value the launchers use, and what it was measured to be worth (README, benchmarks.md). */
    private static final List<String[]> SETTINGS = List.of(
            new String[] {"OMP_WAIT_POLICY", "PASSIVE",
                "idle libgomp threads spinning without it took bf16 matrix-vector from 16 to 6 GB/s on a 2-vCPU VM"},
            new String[] {"GOMP_SPINCOUNT", "100000", "decode 10-30 % faster than PASSIVE alone"},
            new String[] {"GLIBC_TUNABLES",
                "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296",
                "huge pages and reused blocks: the official code's time to first token fell from 267 to 102 s with"
                        + " hugetlb; our 2000-token prefill 25 -> 23.6 s with the thresholds"});

    private LauncherSettings() {
    }

    /** The recommended variables that {@code env} lacks, each with what it is worth. */
    static List<String> missing(Map<String, String> env) {
        List<String> out = new ArrayList<>();
        for (String[] s : SETTINGS) {
            if (env.get(s[0]) == null || env.get(s[0]).isBlank()) {
                out.add(s[0] + " (" + s[2] + ")");
            }
        }
        return out;
    }

    /** Logs one WARNING naming the missing variables and the line that sets them; nothing if none is missing. */
    static void warnIfMissing(Map<String, String> env) {
        List<String> missing = missing(env);
        if (missing.isEmpty()) {
            return;
        }
        StringBuilder set = new StringBuilder();
        for (String[] s : SETTINGS) {
            set.append(" ").append(s[0]).append('=').append(s[1]);
        }
        LOG.log(System.Logger.Level.WARNING, "the process runs without the native settings phi3v recommends, so the"
                + " CPU path is slower: missing " + String.join("; ", missing) + ". Set them before the JVM starts"
                + " (the phi3v launcher does):" + set);
    }
}
