package io.github.phi3v.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/** Progress bar text, input-id parsing and the relaunch decision: no model needed. */
class ProgressBarTest {

    @Test
    void showsBytesRateAndEta() {
        long[] now = {0};
        StringWriter sw = new StringWriter();
        ProgressBar bar = new ProgressBar(new PrintWriter(sw, true), false, () -> now[0]);
        bar.started("model.safetensors", 4_000_000_000L, 0);
        now[0] = 10_000_000_000L;                           // 10 s
        bar.progress("model.safetensors", 1_000_000_000L, 4_000_000_000L);
        String line = bar.line(1_000_000_000L, now[0]);
        assertTrue(line.contains("1.00/4.00 GB"), line);
        assertTrue(line.contains("100 MB/s"), line);
        assertTrue(line.contains("ETA 0:30"), line);
        assertTrue(line.contains("[======>"), line);
        bar.completed("model.safetensors", Path.of("x"), false);
        String log = sw.toString();
        assertTrue(log.startsWith("downloading model.safetensors (4.00 GB)"), log);
        assertTrue(log.contains("model.safetensors done"), log);
    }

    @Test
    void cachedFilesStayQuiet() {
        StringWriter sw = new StringWriter();
        new ProgressBar(new PrintWriter(sw, true), true, System::nanoTime).completed("config.json", Path.of("c"), true);
        assertEquals("", sw.toString());
    }

    @Test
    void formatsSizesAndDurations() {
        assertEquals("999 B", ProgressBar.bytes(999));
        assertEquals("1.50 kB", ProgressBar.bytes(1500));
        assertEquals("8.30 GB", ProgressBar.bytes(8_300_000_000L));
        assertEquals("1:01:01", ProgressBar.duration(3661));
        assertEquals("0:59", ProgressBar.duration(59));
    }

    @Test
    void parsesInputIds() {
        assertArrayEquals(new int[] {1, -1, 32010}, PromptArgs.parseIds("[1, -1, 32010]"));
        assertArrayEquals(new int[] {1, 2}, PromptArgs.parseIds(" [[1, 2]] "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PromptArgs.parseIds("[1, 2.5]"));
        assertTrue(e.getMessage().contains("element 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> PromptArgs.parseIds("nofile.json"));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PromptArgs.parseIds("[]"));
        assertThrows(IllegalArgumentException.class, () -> PromptArgs.parseIds("[1,"));
    }

    @Test
    void unescapesPrompts() {
        assertEquals("<|user|>\nhi\tthere\\n<|end|>\n", PromptArgs.unescape("<|user|>\\nhi\\tthere\\\\n<|end|>\n"));
        assertEquals("C:\\x\\", PromptArgs.unescape("C:\\x\\"));
    }

    @Test
    void relaunchesOnlyForCommandsThatRunTheModel() {
        assertTrue(Relauncher.runsModel(new String[] {"ask", "--model", "tiny-random", "hi"}));
        assertFalse(Relauncher.runsModel(new String[] {"ask", "--help"}));
        assertFalse(Relauncher.runsModel(new String[] {"download", "x/y"}));
        assertFalse(Relauncher.runsModel(new String[] {"models"}));
        assertFalse(Relauncher.runsModel(new String[] {"rm", "x/y"}));
        assertFalse(Relauncher.runsModel(new String[0]));
        assertEquals("PASSIVE", Relauncher.WANTED.get("OMP_WAIT_POLICY"));
        assertEquals("100000", Relauncher.WANTED.get("GOMP_SPINCOUNT"));
        assertEquals("glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296",
                Relauncher.WANTED.get("GLIBC_TUNABLES"));
    }
}
