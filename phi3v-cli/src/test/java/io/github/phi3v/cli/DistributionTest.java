package io.github.phi3v.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution archive as a user gets it: unpacked with {@code tar}, {@code bin/phi3v} started as a
 * separate process (the launcher script, then the shaded jar). Runs after {@code package} (surefire
 * execution {@code distribution-test}), since the archive is built there.
 */
@Tag("distribution")
class DistributionTest {

    /** A shared library as JavaCPP and JLine name them: libx.so, libx.so.2, x.dll, libx.dylib, libx.jnilib. */
    private static final Pattern NATIVE_LIBRARY = Pattern.compile(".*\\.(so(\\.[0-9]+)*|dll|dylib|jnilib)$");

    /** Every subcommand the help must list. */
    private static final List<String> COMMANDS = List.of("ask", "chat", "download", "models", "rm", "inspect",
            "generate", "bench", "serve", "serve-bench");

    @TempDir
    static Path tmp;

    static Path home;

    record Run(int code, String out, String err) {
    }

    @BeforeAll
    static void unpack() throws Exception {
        String archive = System.getProperty("phi3v.distArchive");
        assertTrue(archive != null && Files.isRegularFile(Path.of(archive)),
                "distribution archive not found: " + archive + " (built by mvn package)");
        Path unpacked = Files.createDirectory(tmp.resolve("unpacked"));
        Run tar = run(List.of("tar", "-xzf", archive, "-C", unpacked.toString()), Map.of());
        assertEquals(0, tar.code(), tar.err());
        try (Stream<Path> s = Files.list(unpacked)) {
            List<Path> top = s.toList();
            assertEquals(1, top.size(), "one top folder: " + top);
            home = top.get(0);
        }
    }

    static Run run(List<String> cmd, Map<String, String> env) throws IOException, InterruptedException {
        return run(cmd, env, "");
    }

    static Run run(List<String> cmd, Map<String, String> env, String stdin) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        // As a user's shell would start it: without the settings the launcher is there to supply
        // (mvn runs under .ci/run with them set).
        pb.environment().keySet().removeAll(List.of("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "GLIBC_TUNABLES",
                "PHI3V_OPTS", "JAVA_HOME"));
        pb.environment().putAll(env);
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.PIPE);
        Process p = pb.start();
        try (var in = p.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(cmd + " did not finish in 120 s");
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    private static Map<String, String> javaHome() {
        return Map.of("JAVA_HOME", System.getProperty("java.home"));
    }

    @Test
    void archiveHoldsLauncherJarAndReadme() {
        assertTrue(home.getFileName().toString().startsWith("phi3v-"), home.toString());
        assertTrue(Files.isExecutable(home.resolve("bin/phi3v")), "bin/phi3v is executable");
        assertTrue(Files.isRegularFile(home.resolve("lib/phi3v.jar")), "lib/phi3v.jar");
        assertTrue(Files.isRegularFile(home.resolve("README.md")), "README.md");
    }

    @Test
    void launcherRunsHelpWithTheCommandList() throws Exception {
        Run r = run(List.of(home.resolve("bin/phi3v").toString(), "--help"), javaHome());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Usage: phi3v "), r.out());
        for (String c : COMMANDS) {
            assertTrue(r.out().lines().anyMatch(l -> l.strip().startsWith(c + " ")), "command " + c + " listed:\n"
                    + r.out());
        }
    }

    @Test
    void jarCarriesOnlyLinuxX8664Natives() throws IOException {
        List<String> natives = new ArrayList<>();
        try (ZipFile jar = new ZipFile(home.resolve("lib/phi3v.jar").toFile())) {
            jar.stream().map(ZipEntry::getName).filter(n -> NATIVE_LIBRARY.matcher(n).matches()).forEach(natives::add);
        }
        List<String> foreign = natives.stream()
                .filter(n -> !n.contains("/linux-x86_64") && !n.contains("/Linux/x86_64/")).toList();
        assertEquals(List.of(), foreign, "native libraries of another platform in phi3v.jar");
        assertTrue(natives.stream().anyMatch(
                n -> n.matches("org/bytedeco/pytorch/linux-x86_64[^/]*/libtorch_cpu\\.so.*")),
                "libtorch is there: " + natives);
        assertTrue(natives.contains("org/jline/nativ/Linux/x86_64/libjlinenative.so"), "JLine's helper: " + natives);
    }

    @Test
    void chatReadsPipedLinesWithoutATerminal() throws Exception {
        Path userHome = Files.createDirectories(tmp.resolve("home"));
        Map<String, String> env = new HashMap<>(javaHome());
        env.put("PHI3V_OPTS", "-Duser.home=" + userHome);   // Java takes user.home from passwd, not $HOME
        env.put("PHI3V_CACHE", System.getProperty("phi3v.cacheDir"));
        Run r = run(List.of(home.resolve("bin/phi3v").toString(), "chat", "--model", "tiny-random", "--max-new-tokens",
                "3", "--num-crops", "1"), env, "hello\n/system Be brief.\nand now?\n/exit\n");
        assertEquals(0, r.code(), r.err());
        assertEquals(2, r.out().strip().lines().count(), "two answers, no prompt: " + r.out());
        assertFalse(r.out().contains("> "), "no prompt when stdin is a pipe: " + r.out());
        assertTrue(r.err().contains("[system message set]"), r.err());
        assertFalse(Files.exists(userHome.resolve(".phi3v_history")), "piped questions are not put in the history");
    }

    @Test
    void launcherWorksThroughASymbolicLink() throws Exception {
        Path link = tmp.resolve("phi3v-link");
        Files.createSymbolicLink(link, home.resolve("bin/phi3v"));
        Run r = run(List.of(link.toString(), "ask", "--help"), javaHome());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Usage: phi3v ask "), r.out());
    }

    @Test
    void usageErrorKeepsTheJarsExitCode() throws Exception {
        Run r = run(List.of(home.resolve("bin/phi3v").toString(), "no-such-command"), javaHome());
        assertEquals(Phi3vCli.EXIT_USAGE, r.code(), r.out() + r.err());
    }

    @Test
    void launcherSetsTheNativeSettingsKeepsTheCallersAndPassesJvmOptions() throws Exception {
        // A stand-in JDK whose java prints what the launcher gave it.
        Path fakeJdk = tmp.resolve("fake-jdk");
        Path java = Files.createDirectories(fakeJdk.resolve("bin")).resolve("java");
        Files.writeString(java, "#!/bin/sh\necho \"OMP_WAIT_POLICY=$OMP_WAIT_POLICY\"\n"
                + "echo \"GOMP_SPINCOUNT=$GOMP_SPINCOUNT\"\necho \"GLIBC_TUNABLES=$GLIBC_TUNABLES\"\n"
                + "for a in \"$@\"; do echo \"arg=$a\"; done\n");
        assertTrue(java.toFile().setExecutable(true));
        String launcher = home.resolve("bin/phi3v").toString();

        Run defaults = run(List.of(launcher, "ask", "two words"), Map.of("JAVA_HOME", fakeJdk.toString(),
                "PHI3V_OPTS", "-Xmx1g -Dphi3v.threads=2"));
        assertEquals(0, defaults.code(), defaults.err());
        assertEquals(List.of("OMP_WAIT_POLICY=PASSIVE", "GOMP_SPINCOUNT=" + Relauncher.GOMP_SPINCOUNT,
                "GLIBC_TUNABLES=" + Relauncher.GLIBC_TUNABLES, "arg=-Xmx1g", "arg=-Dphi3v.threads=2", "arg=-jar",
                "arg=" + home.resolve("lib/phi3v.jar").toRealPath(), "arg=ask", "arg=two words"),
                defaults.out().lines().toList());

        Run callers = run(List.of(launcher, "--help"), Map.of("JAVA_HOME", fakeJdk.toString(),
                "OMP_WAIT_POLICY", "ACTIVE", "GOMP_SPINCOUNT", "7"));
        assertEquals(List.of("OMP_WAIT_POLICY=ACTIVE", "GOMP_SPINCOUNT=7"), callers.out().lines().limit(2).toList());
    }
}
