package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The gate of the tests that compare a native kernel with libtorch: on a CPU that lists AVX-512 F, BW, VL and
 * VNNI the kernels must load and run (a missing or broken library fails the test); on one that lacks them
 * {@link NativeKernels#available()} must say so, and the comparisons cannot run: they are aborted, with the
 * reason, after that assertion. The model tests then run the ATen fallbacks these kernels replace.
 */
public final class NativeKernelsOnThisCpu {

    private NativeKernelsOnThisCpu() {
    }

    /** Asserts the detection agrees with /proc/cpuinfo, then continues only where the kernels run. */
    public static void require() {
        TorchRuntime.ensureInitialized();
        boolean capable = CpuFeatures.has("avx512f", "avx512bw", "avx512vl", "avx512_vnni");
        assertEquals(capable, NativeKernels.available(), "native kernels available exactly where /proc/cpuinfo lists "
                + "AVX-512 F/BW/VL/VNNI; unavailable because: " + NativeKernels.unavailableReason());
        assumeTrue(capable, "this CPU lacks AVX-512 F/BW/VL/VNNI (" + NativeKernels.unavailableReason()
                + "): the native kernels cannot run here");
    }

    /**
     * The same for the int4 kernel, which also runs with AVX2 and FMA ({@link NativeInt4Kernel#available()}).
     *
     * @return whether the AVX-512 VNNI kernel (rather than its AVX2 twin) runs here
     */
    public static boolean requireInt4() {
        TorchRuntime.ensureInitialized();
        boolean vnni = CpuFeatures.has("avx512f", "avx512bw", "avx512vl", "avx512_vnni");
        boolean capable = vnni || CpuFeatures.has("avx2", "fma");
        assertEquals(capable, NativeInt4Kernel.available(), "native int4 kernel available exactly where /proc/cpuinfo"
                + " lists AVX-512 F/BW/VL/VNNI or AVX2 and FMA; unavailable because: " + NativeKernels.unavailableReason());
        assertEquals(vnni, NativeKernels.available(), "AVX-512 kernels: " + NativeKernels.unavailableReason());
        assumeTrue(capable, "this CPU lacks AVX2 and FMA: the native int4 kernel cannot run here");
        return vnni;
    }
}
