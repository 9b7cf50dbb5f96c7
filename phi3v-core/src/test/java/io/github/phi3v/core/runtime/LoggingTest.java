package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.model.GoldenCases;

/**
 * What the library logs, captured by {@link RecordingLoggerFinder} (System.Logger's service, so no logging
 * framework is needed): the load summary, the one-time missing-settings warning; and that a load and an
 * answer about an image print nothing to stdout or stderr, in this JVM and in a fresh process whose real
 * streams are read.
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
        Answer answer;
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(GoldenCases.modelF32()).dtype("float32").build()) {
            answer = phi.chat(ChatRequest.builder().maxNewTokens(2).user("What is shown?", ImageInput.of(image()))
                    .build());
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        assertEquals(2, answer.usage().generatedTokens(), "the question about the image was answered");
        assertTrue(answer.usage().imageTokens() > 0, "the image went through the processor: " + answer.usage());
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

    /**
     * The same load and question in a fresh JVM whose real stdout and stderr are read: System.setOut cannot
     * see what native code (libtorch's C++ warnings) or the JVM itself writes to file descriptors 1 and 2.
     */
    @Test
    void aFreshProcessThatLoadsAndAnswersPrintsNothing() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
                QuietAnswerMain.class.getName(), GoldenCases.modelF32().toString(), image().toString());
        Process p = pb.start();
        p.getOutputStream().close();
        CompletableFuture<String> stdout = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
        CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "child finished");
        assertEquals(0, p.exitValue(), "child answered; stderr: " + stderr.get());
        assertEquals("", stdout.get(), "printed on stdout");
        assertEquals("", stderr.get(), "printed on stderr");
    }

    private static Path image() {
        return GoldenCases.modelF32().getParent().resolve("images").resolve("a01_rgb_500x300.png");
    }

    private static String read(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
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
