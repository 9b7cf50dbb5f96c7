package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/** How the native library gets from the jar to a file the JVM can load. */
class NativeKernelsTest {

    private static final String RESOURCE = "linux-x86_64/libphi3v_kernels.so";

    @TempDir
    Path cache;

    /**
     * The copy is found by content: the same bytes reuse the file, a copy of the same size with other bytes
     * (what a stale build looks like to JavaCPP's size-and-timestamp check) is replaced, and nothing
     * temporary is left in the folder.
     */
    @Test
    @EnabledOnOs(value = OS.LINUX, architectures = "amd64")   // the only platform the build compiles it for
    void theLibraryIsCachedByItsBytes() throws IOException {
        byte[] shipped;
        try (InputStream in = NativeKernels.class.getResourceAsStream(RESOURCE)) {
            assertNotNull(in, "the build puts " + RESOURCE + " into the jar on Linux x86-64 (gcc required)");
            shipped = in.readAllBytes();
        }
        Path lib = NativeKernels.extract(RESOURCE, cache);
        assertTrue(lib.startsWith(cache.resolve("phi3v-kernels")), lib.toString());
        assertArrayEquals(shipped, Files.readAllBytes(lib));
        assertEquals(lib, NativeKernels.extract(RESOURCE, cache), "the same bytes: the same file");

        byte[] stale = shipped.clone();
        stale[stale.length / 2] ^= 1;
        Files.write(lib, stale);
        assertEquals(lib, NativeKernels.extract(RESOURCE, cache));
        assertArrayEquals(shipped, Files.readAllBytes(lib), "a copy with other bytes is replaced");
        try (Stream<Path> files = Files.list(lib.getParent())) {
            assertEquals(List.of(lib), files.toList(), "only the library in its folder");
        }
    }

    @Test
    void aMissingResourceIsAnIoError() {
        IOException e = assertThrows(IOException.class, () -> NativeKernels.extract("linux-x86_64/none.so", cache));
        assertTrue(e.getMessage().contains("none.so"), e.getMessage());
    }
}
