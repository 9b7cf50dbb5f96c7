package io.github.phi3v.core.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The one door to libtorch: every entry point calls {@link #ensureInitialized()} before touching any
 * {@code org.bytedeco} class. It applies, once per JVM, the settings that were each measured to matter
 * with libtorch 2.10 through JavaCPP 1.5.13:
 *
 * <ol>
 *   <li>{@code org.bytedeco.javacpp.maxPhysicalBytes=0}: JavaCPP otherwise reads the process RSS on
 *       every allocation to enforce its limit, about 4 µs per tensor op. Must be set before the first
 *       {@code Pointer} class loads, hence this class touches no JavaCPP type in its static init.</li>
 *   <li>the pytorch natives are extracted to JavaCPP's cache ({@code Loader.cacheResources}) before
 *       {@code Loader.load}: on a cold cache the loader otherwise may resolve {@code libtorch_cpu.so}
 *       from the system (Debian ships libtorch 1.13) next to ours, and the JVM dies with SIGSEGV.</li>
 *   <li>OpenBLAS runs single-threaded: its pthread pool fights libtorch's OpenMP pool (fp32 attention
 *       went from 0.8 s to 31 s).</li>
 *   <li>libtorch's intra-op threads = available processors (JavaCPP's default here is 1), unless the
 *       system property {@code phi3v.threads} says otherwise.</li>
 * </ol>
 *
 * <p>Launchers should also export {@code OMP_WAIT_POLICY=PASSIVE}, {@code GOMP_SPINCOUNT=100000} and
 * {@code GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296}
 * (see the README); environment variables cannot be set from inside the JVM.
 */
public final class TorchRuntime {

    private static final Object LOCK = new Object();
    private static volatile boolean initialized;

    private TorchRuntime() {
    }

    /** Initialises the native runtime once; cheap after the first call. Thread-safe. */
    public static void ensureInitialized() {
        if (initialized) {
            return;
        }
        synchronized (LOCK) {
            if (initialized) {
                return;
            }
            if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null) {
                System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
            }
            if (System.getProperty("org.bytedeco.javacpp.maxBytes") == null) {
                System.setProperty("org.bytedeco.javacpp.maxBytes", "0");
            }
            Natives.load();
            Natives.setThreads(defaultThreads());
            initialized = true;
            LauncherSettings.warnIfMissing(System.getenv());   // once per process
        }
    }

    /**
     * Sets libtorch's intra-op thread count (process-wide: libtorch has one pool).
     *
     * @param threads the thread count (≥ 1)
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public static void setThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        ensureInitialized();
        Natives.setThreads(threads);
    }

    /**
     * libtorch's current intra-op thread count.
     *
     * @return the process-wide thread count (≥ 1)
     */
    public static int threads() {
        ensureInitialized();
        return Natives.threads();
    }

    static int defaultThreads() {
        String prop = System.getProperty("phi3v.threads");
        if (prop != null && !prop.isBlank()) {
            try {
                int n = Integer.parseInt(prop.trim());
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
            throw new IllegalArgumentException("system property phi3v.threads must be a positive integer, got '"
                    + prop + "'");
        }
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** Holder whose loading is deferred until after the system properties above are set. */
    private static final class Natives {
        static void load() {
            try {
                org.bytedeco.javacpp.Loader.cacheResources(org.bytedeco.pytorch.global.torch.class,
                        "/org/bytedeco/pytorch/" + org.bytedeco.javacpp.Loader.getPlatform() + "/");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot extract the libtorch natives to JavaCPP's cache ("
                        + "~/.javacpp/cache or -Dorg.bytedeco.javacpp.cachedir): " + e.getMessage(), e);
            }
            org.bytedeco.javacpp.Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
            org.bytedeco.openblas.global.openblas_nolapack.blas_set_num_threads(1);
            org.bytedeco.javacpp.Loader.load(org.bytedeco.pytorch.global.torch.class);
        }

        static void setThreads(int n) {
            org.bytedeco.pytorch.global.torch.set_num_threads(n);
        }

        static int threads() {
            return org.bytedeco.pytorch.global.torch.get_num_threads();
        }
    }
}
