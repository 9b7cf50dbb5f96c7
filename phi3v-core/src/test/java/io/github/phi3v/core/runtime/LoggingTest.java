package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.model.GoldenCases;

/**
 * What the library logs, captured by {@link RecordingLoggerFinder} (System.Logger's service, so no logging
 * framework is needed): the load summary, the one-time missing-settings warning; and that library code
 * itself prints nothing to stdout or stderr.
 */
class LoggingTest {

    @Test
    void loadIsLoggedAndNothingIsPrinted() {
        assertTrue(System.LoggerFinder.getLoggerFinder() instanceof RecordingLoggerFinder,
                "the test double is the JVM's LoggerFinder");
        RecordingLoggerFinder.clear();
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        PrintStream capture = new PrintStream(printed, true, StandardCharsets.UTF_8);
        System.setOut(capture);
        System.setErr(capture);
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(GoldenCases.modelF32()).dtype("float32").build()) {
            phi.chat(ChatRequest.builder().maxNewTokens(2).user("Hi").build());
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        assertEquals("", printed.toString(StandardCharsets.UTF_8), "library code printed to stdout/stderr");
        List<RecordingLoggerFinder.Entry> load = RecordingLoggerFinder.records().stream()
                .filter(e -> e.logger().equals("io.github.phi3v.core.ModelLoader")).toList();
        assertEquals(1, load.size(), "one load summary: " + load);
        RecordingLoggerFinder.Entry e = load.get(0);
        assertEquals(System.Logger.Level.INFO, e.level());
        assertTrue(e.message().startsWith("loaded " + GoldenCases.modelF32()), e.message());
        for (String part : new String[] {" ms: float32", "quantization NONE", "CPU", " threads", "maxContext 8192",
                "KV budget"}) {
            assertTrue(e.message().contains(part), "'" + part + "' in " + e.message());
        }
    }

    @Test
    void missingLauncherSettingsAreOneWarningThatSaysWhatToSet() {
        RecordingLoggerFinder.clear();
        LauncherSettings.warnIfMissing(Map.of("OMP_WAIT_POLICY", "PASSIVE"));
        List<RecordingLoggerFinder.Entry> warnings = RecordingLoggerFinder.records().stream()
                .filter(r -> r.logger().equals(LauncherSettings.class.getName())).toList();
        assertEquals(1, warnings.size(), warnings.toString());
        String m = warnings.get(0).message();
        assertEquals(System.Logger.Level.WARNING, warnings.get(0).level());
        assertTrue(m.contains("missing GOMP_SPINCOUNT (") && m.contains("; GLIBC_TUNABLES ("), m);
        assertTrue(!m.contains("missing OMP_WAIT_POLICY"), "a variable that is set is not reported: " + m);
        assertTrue(m.contains("GOMP_SPINCOUNT=100000") && m.contains("glibc.malloc.hugetlb=1"), m);

        RecordingLoggerFinder.clear();
        LauncherSettings.warnIfMissing(Map.of("OMP_WAIT_POLICY", "PASSIVE", "GOMP_SPINCOUNT", "100000",
                "GLIBC_TUNABLES", "glibc.malloc.hugetlb=1"));
        assertEquals(List.of(), RecordingLoggerFinder.records().stream()
                .filter(r -> r.logger().equals(LauncherSettings.class.getName())).toList(), "all set: no warning");
        assertEquals(3, LauncherSettings.missing(Map.of()).size());
    }
}
