package io.github.phi3v.testsupport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Locates the read-only conformance data ({@code ../shared} next to the repository root).
 *
 * <p>The repository root comes from the system property {@code phi3v.repoRoot} (Maven passes
 * {@code maven.multiModuleProjectDirectory}); without it, the working directory and its parents are
 * searched for the parent {@code pom.xml}. {@code phi3v.sharedDir} (or the environment variable
 * {@code PHI3V_SHARED}) overrides the location.
 *
 * <p>When the data is missing, tests that need it are <em>skipped</em> with a message, unless
 * {@code phi3v.requireSharedData=true} (set by {@code .ci/run}), in which case they <em>fail</em>.
 */
public final class SharedData {

    /** System property that makes missing shared data a test failure rather than a skip. */
    public static final String REQUIRE_PROPERTY = "phi3v.requireSharedData";

    private SharedData() {
    }

    /** The {@code shared} directory, which must exist; skips or fails the calling test otherwise. */
    public static Path root() {
        Path dir = locate();
        if (dir == null || !Files.isDirectory(dir)) {
            String msg = "conformance data not found at " + (dir == null ? "../shared (no repo root)" : dir)
                    + "; set -Dphi3v.sharedDir=/path/to/shared or place it next to the repository";
            if (Boolean.getBoolean(REQUIRE_PROPERTY)) {
                Assertions.fail(msg + " (required because -D" + REQUIRE_PROPERTY + "=true)");
            }
            Assumptions.abort("SKIPPED: " + msg);
        }
        return dir;
    }

    /** {@code shared/golden}. */
    public static Path golden() {
        return require(root().resolve("golden"));
    }

    /** {@code shared/golden/tiny-a}. */
    public static Path tinyA() {
        return require(golden().resolve("tiny-a"));
    }

    /** {@code shared/tokenizer}. */
    public static Path tokenizer() {
        return require(root().resolve("tokenizer"));
    }

    /** A file or folder below {@code shared}, which must exist (fails or skips like {@link #root()}). */
    public static Path resolve(String relative) {
        return require(root().resolve(relative));
    }

    private static Path require(Path p) {
        if (!Files.exists(p)) {
            String msg = "conformance file missing: " + p;
            if (Boolean.getBoolean(REQUIRE_PROPERTY)) {
                Assertions.fail(msg);
            }
            Assumptions.abort("SKIPPED: " + msg);
        }
        return p;
    }

    /** Where the shared folder should be, or {@code null} if no repository root can be found. */
    static Path locate() {
        String explicit = System.getProperty("phi3v.sharedDir", System.getenv("PHI3V_SHARED"));
        if (explicit != null && !explicit.isBlank()) {
            return Paths.get(explicit).toAbsolutePath().normalize();
        }
        Path repo = repoRoot();
        return repo == null ? null : repo.resolveSibling("shared").toAbsolutePath().normalize();
    }

    /** The repository root: the folder holding the parent pom (with the {@code phi3v-core} module). */
    public static Path repoRoot() {
        String prop = System.getProperty("phi3v.repoRoot");
        if (prop != null && !prop.isBlank() && isRepoRoot(Paths.get(prop))) {
            return Paths.get(prop).toAbsolutePath().normalize();
        }
        for (Path p = Paths.get("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (isRepoRoot(p)) {
                return p;
            }
        }
        return null;
    }

    private static boolean isRepoRoot(Path p) {
        return Files.isRegularFile(p.resolve("pom.xml")) && Files.isDirectory(p.resolve("phi3v-core"));
    }
}
