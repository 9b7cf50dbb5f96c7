package io.github.phi3v.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import javax.imageio.ImageIO;

import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.testsupport.SharedData;

/**
 * The example job end to end, as docs/spark.md documents it: the local-mode {@code spark-submit} command
 * of docs/spark.md (read from the file) runs in a child JVM, with spark-submit's main class on Spark's own
 * classpath (the provided dependencies, what an installation's {@code jars/} holds) and the job jar built by
 * this module, on 20 generated images with {@code tiny-random}; the Parquet output must hold 20 answered
 * rows, each answered. Runs after {@code package} (the job jar).
 */
@Tag("spark-submit")
class ImageCaptionJobIT {

    private static final int IMAGES = 20;
    private static final String MARKER = "<!-- local-mode command: ImageCaptionJobIT reads and runs this block -->";

    @Test
    void theDocumentedLocalCommandCaptionsTwentyImagesIntoParquet(@TempDir Path work) throws Exception {
        Path input = Files.createDirectories(work.resolve("images"));
        Set<String> expected = new HashSet<>();
        for (int i = 0; i < IMAGES; i++) {
            Path file = input.resolve(String.format("img%02d.png", i));
            ImageIO.write(image(i), "png", file.toFile());
            expected.add(file.getFileName().toString());
        }
        Path output = work.resolve("captions.parquet");
        Path log = work.resolve("spark-submit.log");

        List<String> command = javaCommand(documentedCommand(), input, output);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean done = p.waitFor(5, TimeUnit.MINUTES);
        if (!done) {
            p.destroyForcibly().waitFor();
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(done, "spark-submit did not finish in 5 minutes:\n" + tail(out));
        assertEquals(0, p.exitValue(), "spark-submit failed:\n" + tail(out));
        assertTrue(out.contains("ImageCaptionJob: 20 images (0 errors)"), tail(out));

        // The output read with the Parquet library itself (a second Spark session would cost more than the job).
        List<Group> rows = readParquet(output);
        assertEquals(IMAGES, rows.size());
        Set<String> seen = new HashSet<>();
        for (Group r : rows) {
            String name = Path.of(java.net.URI.create(r.getString("path", 0))).getFileName().toString();
            seen.add(name);
            assertEquals(0, r.getFieldRepetitionCount("error"), name);   // null
            assertEquals(1, r.getFieldRepetitionCount("answer"), name);
            assertTrue(!r.getString("answer", 0).isEmpty(), name);
            int tokens = r.getInteger("completion_tokens", 0);
            assertTrue(tokens >= 1 && tokens <= 8, name + ": " + tokens);
            assertTrue(Set.of("STOP", "LENGTH").contains(r.getString("finish_reason", 0)), name);
        }
        assertEquals(expected, seen);
    }

    private static List<Group> readParquet(Path folder) throws IOException {
        List<Group> rows = new ArrayList<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path part : files.filter(f -> f.getFileName().toString().endsWith(".parquet")).toList()) {
                try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(),
                        new org.apache.hadoop.fs.Path(part.toUri())).build()) {
                    for (Group g = reader.read(); g != null; g = reader.read()) {
                        rows.add(g);
                    }
                }
            }
        }
        return rows;
    }

    /** An image unlike the others: its own size and colours. */
    private static BufferedImage image(int i) {
        BufferedImage img = new BufferedImage(64 + 16 * i, 48 + 8 * (IMAGES - i), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(new Color(Color.HSBtoRGB(i / (float) IMAGES, 0.8f, 0.9f)));
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setColor(Color.BLACK);
        g.drawString("image " + i, 5, 20);
        g.fillOval(i * 3, 20, 30, 20);
        g.dispose();
        return img;
    }

    /** The arguments of the local-mode block of docs/spark.md (continuation lines joined, quotes removed). */
    private static List<String> documentedCommand() throws IOException {
        String doc = Files.readString(SharedData.repoRoot().resolve("docs/spark.md"), StandardCharsets.UTF_8);
        int at = doc.indexOf(MARKER);
        assertTrue(at >= 0, "docs/spark.md lost the marker " + MARKER);
        int start = doc.indexOf("```bash\n", at) + "```bash\n".length();
        String block = doc.substring(start, doc.indexOf("```", start)).replace("\\\n", " ");
        List<String> args = new ArrayList<>();
        for (String token : block.trim().split("\\s+")) {
            args.add(token.replace("'", ""));
        }
        assertEquals("spark-submit", args.get(0), block);
        return args.subList(1, args.size());
    }

    /**
     * What {@code spark-submit} runs: {@code java [driver memory and the JDK options Spark needs] -cp <Spark's
     * jars> org.apache.spark.deploy.SparkSubmit <arguments>}, with the build's job jar, and the test's input and
     * output folders in place of the documented ones.
     */
    private static List<String> javaCommand(List<String> submitArgs, Path input, Path output) throws IOException {
        Path jobJar = Path.of(System.getProperty("phi3v.jobJar"));
        assertTrue(Files.isRegularFile(jobJar), "no job jar " + jobJar + " (run after package)");
        String sparkClasspath = Files.readString(Path.of(System.getProperty("phi3v.sparkClasspath"))).trim()
                + java.io.File.pathSeparator
                + Files.readString(Path.of(System.getProperty("phi3v.sparkClasspathJackson"))).trim();
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        int memory = submitArgs.indexOf("--driver-memory");
        if (memory >= 0) {
            cmd.add("-Xmx" + submitArgs.get(memory + 1));   // the launcher script's job in client mode
        }
        cmd.addAll(Arrays.asList(System.getProperty("phi3v.sparkJvmFlags").trim().split("\\s+")));
        // tiny-random is built under target/, not in the user's cache
        cmd.add("-Dphi3v.cacheDir=" + System.getProperty("phi3v.cacheDir"));
        cmd.add("-cp");
        cmd.add(sparkClasspath);
        cmd.add("org.apache.spark.deploy.SparkSubmit");
        cmd.add("--conf");
        cmd.add("spark.ui.enabled=false");
        cmd.add("--conf");
        cmd.add("spark.driver.host=127.0.0.1");
        boolean sawJar = false;
        for (String a : submitArgs) {
            if (a.endsWith("-job.jar")) {
                cmd.add(jobJar.toString());
                sawJar = true;
            } else if (a.equals("./images")) {
                cmd.add(input.toString());
            } else if (a.equals("./captions.parquet")) {
                cmd.add(output.toString());
            } else {
                cmd.add(a);
            }
        }
        assertTrue(sawJar, "the documented command names no job jar: " + submitArgs);
        assertTrue(cmd.contains(input.toString()) && cmd.contains(output.toString()), submitArgs.toString());
        return cmd;
    }

    private static String tail(String s) {
        return s.length() <= 8000 ? s : "..." + s.substring(s.length() - 8000);
    }
}
