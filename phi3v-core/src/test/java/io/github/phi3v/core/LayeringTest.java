package io.github.phi3v.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * The shape of the top floor (issue 15): the facade and the session stay small, and no class of the core calls
 * back up into the facade. Reads the sources (the tests run in the module's folder).
 */
class LayeringTest {

    private static final Path SOURCES = Path.of("src/main/java/io/github/phi3v/core");
    /** {@code Phi3Vision} used as a type or called (checked on code lines with their string literals blanked). */
    private static final Pattern USES_FACADE = Pattern.compile("\\bPhi3Vision\\b");

    @Test
    void theFacadeAndTheSessionStayUnderFourHundredLines() throws IOException {
        for (String file : new String[] {"Phi3Vision.java", "Session.java"}) {
            long lines = Files.readAllLines(SOURCES.resolve(file)).size();
            assertTrue(lines < 400, file + " has " + lines + " lines; split it by job");
        }
    }

    @Test
    void noCoreClassCallsBackUpIntoPhi3Vision() throws IOException {
        List<String> offenders = new ArrayList<>();
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                String name = f.getFileName().toString();
                // The facade itself, and its builder and loader, which create it.
                if (name.equals("Phi3Vision.java") || name.equals("Phi3VisionBuilder.java")
                        || name.equals("ModelLoader.java")) {
                    continue;
                }
                int n = 0;
                for (String line : Files.readAllLines(f)) {
                    n++;
                    String code = line.strip();
                    if (code.startsWith("*") || code.startsWith("/*") || code.startsWith("//")) {
                        continue;
                    }
                    String withoutStrings = code.replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"");
                    if (USES_FACADE.matcher(withoutStrings).find()
                            && !withoutStrings.contains("Phi3Vision.DEFAULT_")) {
                        offenders.add(SOURCES.relativize(f) + ":" + n + ": " + code);
                    }
                }
            }
        }
        assertEquals(List.of(), offenders, "core classes that reach up into Phi3Vision");
    }
}
