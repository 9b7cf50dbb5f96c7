package io.github.phi3v.core.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The instruction-set flags of this machine's CPU as Linux lists them in {@code /proc/cpuinfo}
 * ({@code avx512_vnni}, {@code avx512bw}, ...), read once. Kernels whose results or support depend on the
 * CPU choose by these flags: fbgemm's int8 products are exact only with AVX-512 VNNI, oneDNN packs bf16
 * weights only with AVX-512 BW/VL/DQ or AVX-NE-CONVERT, the project's native kernels need AVX-512 with VNNI.
 * On other systems, or when the file cannot be read, no flag is present, which every caller reads as "use
 * the portable path".
 *
 * <p>Thread-safe and immutable.
 */
public final class CpuFeatures {

    private static final Set<String> FLAGS = read(Path.of("/proc/cpuinfo"));

    private CpuFeatures() {
    }

    /**
     * Whether the CPU lists every one of these flags.
     *
     * @param flags flag names as {@code /proc/cpuinfo} spells them (lower case)
     * @return true if all are listed; false if one is not, or the flags are unknown
     */
    public static boolean has(String... flags) {
        return Arrays.stream(flags).allMatch(FLAGS::contains);
    }

    /**
     * Whether fbgemm's int8 products are exact on this CPU: with AVX-512 VNNI it adds four u8·s8 products
     * into 32 bits; without, it adds pairs into 16 bits with saturation ({@code vpmaddubsw}), which clips
     * wherever two products of a uint8 activation and an int8 weight exceed 32767 (weights beyond ±64).
     *
     * @return true if {@code avx512_vnni} is listed
     */
    public static boolean exactFbgemmInt8() {
        return has("avx512_vnni");
    }

    /**
     * Whether oneDNN packs bf16 linear weights on this CPU ({@code mkldnn::_reorder_linear_weight} refuses
     * otherwise, with "bf16 path needs the cpu support avx_ne_convert or avx512bw, avx512vl and avx512dq").
     *
     * @return true if AVX-NE-CONVERT, or AVX-512 BW, VL and DQ, are listed
     */
    public static boolean oneDnnBf16Packing() {
        return has("avx_ne_convert") || has("avx512bw", "avx512vl", "avx512dq");
    }

    /**
     * The flags of the first {@code flags}/{@code Features} line (every core of a machine lists the same),
     * empty when the file is missing or unreadable.
     */
    static Set<String> read(Path cpuinfo) {
        try {
            if (!Files.isReadable(cpuinfo)) {
                return Set.of();
            }
            for (String line : Files.readAllLines(cpuinfo)) {
                String l = line.toLowerCase(Locale.ROOT);
                if ((l.startsWith("flags") || l.startsWith("features")) && l.indexOf(':') > 0) {
                    return Arrays.stream(l.substring(l.indexOf(':') + 1).trim().split("\\s+"))
                            .filter(f -> !f.isEmpty()).collect(Collectors.toUnmodifiableSet());
                }
            }
            return Set.of();
        } catch (IOException | RuntimeException e) {
            return Set.of();
        }
    }
}
