package io.github.phi3v.image;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Random;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Benchmark (not a test, never run by {@code mvn verify}): full preprocessing of a 1920x1080 JPEG
 * (decode + HD transform + normalise + crops) at {@code numCrops} 16 and 4, next to the time ImageIO
 * alone needs to decode the same JPEG, single thread, interleaved in the same run. Two decode baselines
 * are shown: {@code ImageIO.read(InputStream)} (the usual call; it may cache the stream on disk) and the
 * JPEG {@code ImageReader} on an in-memory stream (what {@link ImageLoader} uses, the fairer one).
 *
 * <p>Run (see docs/benchmarks.md):
 * <pre>
 * mvn -B -ntp -q -pl phi3v-image test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -cp phi3v-image/target/classes:phi3v-image/target/test-classes:$(cat phi3v-image/target/cp.txt) \
 *     io.github.phi3v.image.ImageProcessorBenchmark [image.jpg] [rounds]
 * </pre>
 * Without an argument a synthetic photo-like 1920x1080 JPEG (quality 90) is generated in memory.
 */
public final class ImageProcessorBenchmark {

    private ImageProcessorBenchmark() {
    }

    /**
     * Entry point.
     *
     * @param args optional JPEG path and number of measured rounds
     * @throws IOException if the image cannot be read or written
     */
    public static void main(String[] args) throws IOException {
        byte[] jpeg = args.length > 0 ? Files.readAllBytes(Path.of(args[0])) : syntheticJpeg(1920, 1080);
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        BufferedImage probe = ImageIO.read(new ByteArrayInputStream(jpeg));
        System.out.printf("input: %dx%d JPEG, %d bytes; JVM %s; %d rounds after warm-up%n", probe.getWidth(),
                probe.getHeight(), jpeg.length, System.getProperty("java.vm.version"), rounds);

        Phi3ImageProcessor p16 = Phi3ImageProcessor.builder().numCrops(16).build();
        Phi3ImageProcessor p4 = Phi3ImageProcessor.builder().numCrops(4).build();
        ImageLoader loader = ImageLoader.defaults();
        // Warm-up (JIT) of every path.
        for (int i = 0; i < 15; i++) {
            ImageIO.read(new ByteArrayInputStream(jpeg));
            readerDecode(jpeg);
            p16.process(loader.load(jpeg));
            p4.process(loader.load(jpeg));
        }
        long[] decode = new long[rounds];
        long[] rawDecode = new long[rounds];
        long[] load = new long[rounds];
        long[] full16 = new long[rounds];
        long[] full4 = new long[rounds];
        long[] only16 = new long[rounds];
        long[] only4 = new long[rounds];
        long sink = 0;
        RgbImage decoded = loader.load(jpeg);
        for (int r = 0; r < rounds; r++) {
            long tr = System.nanoTime();
            BufferedImage raw = readerDecode(jpeg);
            long t0 = System.nanoTime();
            BufferedImage bi = ImageIO.read(new ByteArrayInputStream(jpeg));
            long t1 = System.nanoTime();
            rawDecode[r] = t0 - tr;
            RgbImage rgb = loader.load(jpeg);
            long t2 = System.nanoTime();
            ProcessedImage a = p16.process(loader.load(jpeg));
            long t3 = System.nanoTime();
            ProcessedImage b = p4.process(loader.load(jpeg));
            long t4 = System.nanoTime();
            ProcessedImage c = p16.process(decoded);
            long t5 = System.nanoTime();
            ProcessedImage d = p4.process(decoded);
            long t6 = System.nanoTime();
            decode[r] = t1 - t0;
            load[r] = t2 - t1;
            full16[r] = t3 - t2;
            full4[r] = t4 - t3;
            only16[r] = t5 - t4;
            only4[r] = t6 - t5;
            sink += raw.getHeight() + bi.getWidth() + rgb.width() + a.numImageTokens() + b.numImageTokens() + c.realCrops()
                    + d.realCrops();
        }
        System.out.println("                                           median      min   ratio to ImageIO.read | to reader");
        row("ImageIO.read (bare decode)", decode, decode, rawDecode);
        row("ImageReader.read, in-memory stream", rawDecode, decode, rawDecode);
        row("ImageLoader.load (checks, decode, RGB)", load, decode, rawDecode);
        row("full preprocessing, numCrops 16", full16, decode, rawDecode);
        row("full preprocessing, numCrops 4", full4, decode, rawDecode);
        row("HD transform only (decoded), numCrops 16", only16, decode, rawDecode);
        row("HD transform only (decoded), numCrops 4", only4, decode, rawDecode);
        System.out.println("(sink " + sink + ")");
    }

    private static void row(String name, long[] ns, long[] decode, long[] raw) {
        System.out.printf("%-41s: %6.1f ms %6.1f ms   %.2fx | %.2fx (median)%n", name, median(ns), min(ns),
                median(ns) / median(decode), median(ns) / median(raw));
    }

    /** The leanest ImageIO decode: the JPEG reader on an in-memory stream (no ImageIO.read disk cache). */
    private static BufferedImage readerDecode(byte[] jpeg) throws IOException {
        try (ImageInputStream iis = new MemoryCacheImageInputStream(new ByteArrayInputStream(jpeg))) {
            ImageReader reader = ImageIO.getImageReaders(iis).next();
            try {
                reader.setInput(iis, true, true);
                return reader.read(0);
            } finally {
                reader.dispose();
            }
        }
    }

    private static double min(long[] ns) {
        return Arrays.stream(ns).min().orElseThrow() / 1e6;
    }

    private static double median(long[] ns) {
        long[] s = ns.clone();
        Arrays.sort(s);
        return s[s.length / 2] / 1e6;
    }

    /** A photo-like test image (smooth gradients, shapes, sensor-like noise) as a quality-90 JPEG. */
    static byte[] syntheticJpeg(int w, int h) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        Random rnd = new Random(42);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double u = (double) x / w;
                double v = (double) y / h;
                int r = (int) (120 + 90 * Math.sin(6 * u + 2 * v) + rnd.nextGaussian() * 6);
                int g = (int) (110 + 80 * Math.cos(4 * v - 3 * u) + rnd.nextGaussian() * 6);
                int b = (int) (100 + 70 * Math.sin(9 * u * v + 1) + rnd.nextGaussian() * 6);
                if (((x / 97) + (y / 61)) % 7 == 0) {
                    r = 255 - r;
                }
                img.setRGB(x, y, (clamp(r) << 16) | (clamp(g) << 8) | clamp(b));
            }
        }
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("jpeg");
        ImageWriter writer = writers.next();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (var ios = ImageIO.createImageOutputStream(out)) {
            writer.setOutput(ios);
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(0.9f);
            writer.write(null, new IIOImage(img, null, null), param);
        } finally {
            writer.dispose();
        }
        return out.toByteArray();
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }
}
