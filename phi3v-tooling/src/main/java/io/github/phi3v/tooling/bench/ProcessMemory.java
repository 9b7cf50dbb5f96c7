package io.github.phi3v.tooling.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resident-memory figures of this process from {@code /proc/self/status} (Linux). Everything the
 * process maps counts: Java heap, native tensors, and file pages of memory-mapped checkpoints.
 */
public final class ProcessMemory {

    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private ProcessMemory() {
    }

    /**
     * Peak resident set size ({@code VmHWM}) in bytes.
     *
     * @return the peak, or -1 where /proc is not available
     */
    public static long peakRssBytes() {
        return field("VmHWM:");
    }

    /**
     * Current resident set size ({@code VmRSS}) in bytes.
     *
     * @return the current RSS, or -1 where /proc is not available
     */
    public static long rssBytes() {
        return field("VmRSS:");
    }

    /**
     * Resets the peak ({@code VmHWM}) to the current RSS (Linux ≥ 4.0: {@code echo 5 > clear_refs}),
     * so one process can measure the peaks of several model variants one after the other.
     *
     * @return true if the reset was accepted
     */
    public static boolean resetPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5");
            return true;
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(name)) {
                    String[] parts = line.substring(name.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024L;     // reported in kB
                }
            }
            return -1;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
