package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CpuFeatures}: the flags of the first {@code flags} (x86) or {@code Features} (ARM) line of a
 * {@code /proc/cpuinfo}, and no flag at all when the file is missing or has no such line, which every caller
 * reads as "take the portable path".
 */
class CpuFeaturesTest {

    @TempDir
    Path dir;

    @Test
    void readsTheFirstFlagsLine() throws IOException {
        Path f = dir.resolve("cpuinfo");
        Files.writeString(f, "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 fma  avx512f AVX512_VNNI\n"
                + "\nprocessor\t: 1\nflags\t\t: fpu sse2\n");
        assertEquals(Set.of("fpu", "avx2", "fma", "avx512f", "avx512_vnni"), CpuFeatures.read(f));
    }

    @Test
    void readsArmFeatures() throws IOException {
        Path f = dir.resolve("cpuinfo");
        Files.writeString(f, "processor\t: 0\nFeatures\t: fp asimd bf16\n");
        assertEquals(Set.of("fp", "asimd", "bf16"), CpuFeatures.read(f));
    }

    @Test
    void missingFileOrLineMeansNoFlags() throws IOException {
        assertEquals(Set.of(), CpuFeatures.read(dir.resolve("absent")));
        Path f = dir.resolve("cpuinfo");
        Files.writeString(f, "processor\t: 0\nflagsx without a colon\n");
        assertEquals(Set.of(), CpuFeatures.read(f));
    }

    @Test
    void thisMachinesFlagsAgreeWithTheDerivedChecks() {
        assertEquals(CpuFeatures.has("avx512_vnni"), CpuFeatures.exactFbgemmInt8());
        assertEquals(CpuFeatures.has("avx_ne_convert") || CpuFeatures.has("avx512bw", "avx512vl", "avx512dq"),
                CpuFeatures.oneDnnBf16Packing());
        assertTrue(CpuFeatures.has(), "no flags asked: all of them are there");
        assertTrue(!CpuFeatures.has("no_such_flag_anywhere"));
    }
}
