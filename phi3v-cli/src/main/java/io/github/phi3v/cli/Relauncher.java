package io.github.phi3v.cli;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Makes the CLI run with the environment libtorch wants. {@code OMP_WAIT_POLICY=PASSIVE} (bf16
 * matrix-vector 6 to 16 GB/s on a 2-vCPU VM) with {@code GOMP_SPINCOUNT} ({@link #GOMP_SPINCOUNT}) and
 * {@code GLIBC_TUNABLES} ({@link #GLIBC_TUNABLES}: millions fewer minor page faults) are read by native code
 * at process start, so a JVM cannot set them for
 * itself: when they are missing, the CLI starts itself again once with them set, the same JVM, the same
 * options and arguments, and passes its exit code through. {@code PHI3V_NO_RELAUNCH=1} turns this off.
 */
final class Relauncher {

    /**
     * glibc's malloc settings: 2 MiB pages for large blocks (millions fewer minor page faults), a fixed
     * 32 MiB mmap threshold and no trimming below 4 GiB, so freed blocks up to 32 MiB are reused instead of
     * being returned to the kernel and faulted in again (2000-token prefill 24.9-25.4 s -> 23.6 s, system
     * time 4.7-5.5 s -> 3.2 s, resident memory after it 10.64-10.68 -> 10.39 GB, same run).
     */
    static final String GLIBC_TUNABLES =
            "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296";

    /**
     * How long an idle libgomp thread spins before it sleeps, in libgomp's spin iterations (~1 ms here). With
     * {@code PASSIVE} alone it sleeps at once, and a decode step, which alternates ~60 small serial libtorch
     * calls per layer with four parallel GEMVs, pays a futex wake-up for nearly every parallel region:
     * at 16 positions decode went 220-280 -> 176-218 ms/token (bf16) and 130-155 -> 80-112 ms/token (int8),
     * at 2000 positions 375-389 -> 338-368 (bf16) and 244-256 -> 232-257 (int8), 2000-token prefill
     * 25.6-26.6 -> 22.7-24.6 s (interleaved runs on the 2-vCPU VM). Spinning without a bound (libgomp's
     * default without {@code PASSIVE} is 300 000 iterations, ~3 ms) is what made {@code PASSIVE} necessary.
     */
    static final String GOMP_SPINCOUNT = "100000";

    /** Environment the native runtime should see. */
    static final Map<String, String> WANTED = Map.of(
            "OMP_WAIT_POLICY", "PASSIVE",
            "GOMP_SPINCOUNT", GOMP_SPINCOUNT,
            "GLIBC_TUNABLES", GLIBC_TUNABLES);

    private static final String GUARD = "PHI3V_RELAUNCHED";

    private Relauncher() {
    }

    /** Help, version, download and the cache commands never touch libtorch: not worth a second JVM start. */
    static boolean runsModel(String[] args) {
        if (args.length == 0 || args[0].equals("download") || args[0].equals("help")
                || args[0].equals("models") || args[0].equals("rm")) {
            return false;
        }
        for (String a : args) {
            if (a.equals("--help") || a.equals("-h") || a.equals("--version") || a.equals("-V")) {
                return false;
            }
        }
        return true;
    }

    /**
     * Re-runs this program with {@link #WANTED} in the environment if needed.
     *
     * @return the child's exit code, or -1 if this process should carry on itself
     */
    static int relaunchIfNeeded(String[] args) {
        Map<String, String> env = System.getenv();
        if (env.containsKey(GUARD) || "1".equals(env.get("PHI3V_NO_RELAUNCH")) || !runsModel(args)) {
            return -1;
        }
        boolean missing = WANTED.keySet().stream().anyMatch(k -> !env.containsKey(k));
        if (!missing) {
            return -1;
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Phi3vCli.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        WANTED.forEach((k, v) -> pb.environment().putIfAbsent(k, v));
        pb.environment().put(GUARD, "1");
        try {
            Process p = pb.start();
            Runtime.getRuntime().addShutdownHook(new Thread(p::destroy));
            return p.waitFor();
        } catch (IOException e) {
            return -1; // cannot start a child: run here, with the environment we have
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }
}
