package io.github.phi3v.image.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.ImageProcessingException;
import io.github.phi3v.image.ImageProcessingException.Reason;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.image.ProcessedImage;
import io.github.phi3v.image.RgbImage;
import io.github.phi3v.testsupport.SharedData;

/**
 * Reliability fuzzing of image input through the public API ({@link ImageLoader#load(byte[])} +
 * {@link Phi3ImageProcessor#process(RgbImage, int)}, and {@link Phi3ImageProcessor#process(Path, int)}):
 * truncated, bit-flipped, overwritten and spliced PNG/JPEG/WebP/GIF/BMP files, random bytes, 0-byte and
 * 1x1 images, and headers claiming 50 000 x 50 000 pixels. Every case must give a well-formed
 * {@link ProcessedImage} or an {@link ImageProcessingException} with a reason and a message; any other
 * throwable (including {@link OutOfMemoryError}) or a batch over its time limit fails. Seeded.
 */
class ImageFuzzTest {

    private static final long SEED = 0x5DEECE66DL;
    private static final Duration BATCH_TIMEOUT = Duration.ofSeconds(90);
    private static final int CROPS = 1;   // cheapest processor output; the geometry code is the same

    private static final Phi3ImageProcessor PROCESSOR = Phi3ImageProcessor.defaults();
    private static final Map<String, Integer> COUNTS = new TreeMap<>();
    /** Small seeds (fast to decode) and large ones; every format is represented in both. */
    private static final List<Seed> SMALL = new ArrayList<>();
    private static final List<Seed> LARGE = new ArrayList<>();

    private record Seed(String name, byte[] bytes) {
    }

    @BeforeAll
    static void seeds() throws IOException {
        Path images = SharedData.tinyA().resolve("images");
        for (String f : List.of("a06_tiny_40x30.png", "a10_rgb_42x19.png")) {
            SMALL.add(new Seed(f, Files.readAllBytes(images.resolve(f))));
        }
        for (String f : List.of("a01_rgb_500x300.png", "a07_gray_L_640x480.png", "a08_rgba_420x260.png",
                "a09_photo_640x427.jpg", "a05_tall_150x1200.png")) {
            LARGE.add(new Seed(f, Files.readAllBytes(images.resolve(f))));
        }
        for (String f : List.of("fixture_rgb_lossless.webp", "fixture_rgb_lossy.webp", "fixture_rgba_lossless.webp")) {
            try (InputStream in = ImageFuzzTest.class.getResourceAsStream("/io/github/phi3v/image/" + f)) {
                assertNotNull(in, "test resource " + f);
                SMALL.add(new Seed(f, in.readAllBytes()));
            }
        }
        BufferedImage tiny = ImageIO.read(images.resolve("a06_tiny_40x30.png").toFile());
        BufferedImage photo = ImageIO.read(images.resolve("a09_photo_640x427.jpg").toFile());
        for (String format : List.of("gif", "bmp", "jpeg")) {
            SMALL.add(new Seed("a06." + format, encode(tiny, format)));
            LARGE.add(new Seed("a09." + format, encode(photo, format)));
            SMALL.add(new Seed("1x1." + format, encode(onePixel(), format)));
        }
        SMALL.add(new Seed("1x1.png", encode(onePixel(), "png")));
    }

    @AfterAll
    static void report() {
        int total = COUNTS.values().stream().mapToInt(Integer::intValue).sum();
        System.out.println("[reliability] images: " + total + " cases " + COUNTS);
    }

    private static synchronized void count(String outcome) {
        COUNTS.merge(outcome, 1, Integer::sum);
    }

    // ------------------------------------------------------------------------------------ the oracle

    /** Runs one input through loader + processor; returns the outcome label or fails the test. */
    private static String run(byte[] input, String what) {
        try {
            RgbImage rgb = PROCESSOR.loader().load(input);
            return check(PROCESSOR.process(rgb, CROPS), what);
        } catch (ImageProcessingException e) {
            return explained(e, what);
        }
    }

    private static String check(ProcessedImage p, String what) {
        assertEquals((CROPS + 1) * 3 * 336 * 336, p.pixelValues().length, what + ": pixel_values size");
        assertTrue(p.numImageTokens() > 0 && p.realCrops() >= 1, what + ": tokens/crops");
        assertEquals(Phi3ImageProcessor.numImageTokens(p.hdWidth(), p.hdHeight(), CROPS) > 0, true, what);
        for (float v : p.pixelValues()) {
            if (!Float.isFinite(v)) {
                throw new AssertionError(what + ": non-finite pixel value " + v);
            }
        }
        return "ok";
    }

    private static String explained(ImageProcessingException e, String what) {
        assertNotNull(e.reason(), what);
        assertNotNull(e.getMessage(), what + ": ImageProcessingException without a message");
        assertFalse(e.getMessage().isBlank(), what + ": blank message");
        return e.reason().name();
    }

    @FunctionalInterface
    private interface Mutator {
        byte[] mutate(SplittableRandom r, byte[] seed);
    }

    /** Runs {@code cases} mutated inputs through the oracle; returns how often each outcome was seen. */
    private static Map<String, Integer> batch(String name, long seed, int cases, Mutator m) {
        Map<String, Integer> seen = new TreeMap<>();
        assertTimeoutPreemptively(BATCH_TIMEOUT, () -> {
            SplittableRandom root = new SplittableRandom(seed);
            for (int i = 0; i < cases; i++) {
                SplittableRandom r = root.split();
                // Mostly small seeds: the large ones decode and resize hundreds of kilopixels per case.
                List<Seed> pool = r.nextInt(10) < 8 ? SMALL : LARGE;
                Seed s = pool.get(r.nextInt(pool.size()));
                String what = name + " case " + i + " of " + s.name() + " (seed " + seed + ")";
                byte[] input = m.mutate(r, s.bytes());
                String outcome;
                try {
                    outcome = run(input, what);
                } catch (AssertionError e) {
                    throw e;
                } catch (Throwable t) {
                    throw new AssertionError(what + ": undocumented " + t, t);
                }
                seen.merge(outcome, 1, Integer::sum);
                count(name + ":" + outcome);
            }
        }, name + ": " + cases + " cases exceeded " + BATCH_TIMEOUT);
        return seen;
    }

    /**
     * Fails unless {@code outcome} was seen at least {@code min} times: a mutator that stopped producing
     * one kind of damage (or returned a constant input) fails here instead of passing with nothing tested.
     * The counts are fixed by the seeds; each minimum is about half of what the mutator's design gives.
     */
    private static void requireAtLeast(String batch, Map<String, Integer> seen, String outcome, int min, String why) {
        int n = seen.getOrDefault(outcome, 0);
        assertTrue(n >= min, batch + ": outcome '" + outcome + "' seen " + n + " times, expected at least " + min
                + " (" + why + "); all outcomes " + seen);
    }

    // ------------------------------------------------------------------------------------ fuzz targets

    @Test
    void truncatedFiles() {
        Map<String, Integer> seen = batch("truncated", SEED, 2500, (r, b) -> Arrays.copyOf(b, r.nextInt(b.length)));
        // A cut at a uniform length: nearly always inside the data, which every decoder must refuse (JPEG
        // like PIL, not grey); formats whose reader stops at the last row it needs (BMP rows, GIF after the
        // image) still decode when only trailing bytes go (~10 %); a cut inside the 2-12 byte magic number
        // of the small seeds (~1 %) leaves no known format, and 1 in ~200 cuts of the 1x1 seeds leaves 0 bytes.
        requireAtLeast("truncated", seen, "CORRUPT", 1000, "most cuts land inside the data");
        requireAtLeast("truncated", seen, "ok", 100, "~10 %: only bytes after the image data are cut");
        requireAtLeast("truncated", seen, "UNSUPPORTED_FORMAT", 15, "~1-2 %: cut inside the magic number");
        requireAtLeast("truncated", seen, "EMPTY", 4, "a cut at 0 of the ~100-byte 1x1 seeds");
    }

    @Test
    void bitFlips() {
        Map<String, Integer> seen = batch("bitflip", SEED + 1, 3000, (r, b) -> {
            byte[] out = b.clone();
            int flips = r.nextInt(1, 9);
            for (int i = 0; i < flips; i++) {
                // Half of the flips land in the first 64 bytes, where the headers and dimensions are.
                int at = r.nextBoolean() ? r.nextInt(Math.min(64, out.length)) : r.nextInt(out.length);
                out[at] ^= (byte) (1 << r.nextInt(8));
            }
            return out;
        });
        // 1-8 flips, half in the first 64 bytes: ~1/4 hit the 2-12 byte magic numbers (unknown format), most
        // others break a checksum, marker or length (corrupt), some land in pixel data or unread fields
        // (~1/4 still decode), and a few raise a dimension's high bits (too many pixels) or make a side 0
        // or a ratio so extreme that the HD resize rounds a side to 0 (invalid geometry).
        requireAtLeast("bitflip", seen, "CORRUPT", 600, "most flips break a checksum, marker or length");
        requireAtLeast("bitflip", seen, "ok", 300, "~1/4 of inputs survive their flips");
        requireAtLeast("bitflip", seen, "UNSUPPORTED_FORMAT", 300, "~1/4 of inputs get a flip in the magic");
        requireAtLeast("bitflip", seen, "TOO_MANY_PIXELS", 10, "~1 %: a flip in a dimension's high bits");
        requireAtLeast("bitflip", seen, "INVALID_GEOMETRY", 3, "a flip making one side thousands of times longer");
    }

    @Test
    void overwrittenAndSplicedBytes() {
        Map<String, Integer> seen = batch("overwrite", SEED + 2, 2000, (r, b) -> {
            byte[] out = b.clone();
            switch (r.nextInt(3)) {
                case 0 -> { // a run of random bytes
                    int at = r.nextInt(out.length);
                    int len = Math.min(out.length - at, r.nextInt(1, 64));
                    for (int i = 0; i < len; i++) {
                        out[at + i] = (byte) r.nextInt(256);
                    }
                }
                case 1 -> { // 0x00 / 0xFF runs: lengths, counts and sizes pushed to their extremes
                    int at = r.nextInt(out.length);
                    Arrays.fill(out, at, Math.min(out.length, at + r.nextInt(1, 9)), r.nextBoolean() ? (byte) 0 : (byte) -1);
                }
                default -> { // this file's header with another file's body
                    List<Seed> all = new ArrayList<>(SMALL);
                    byte[] other = all.get(r.nextInt(all.size())).bytes();
                    int cut = r.nextInt(1, Math.min(out.length, 200));
                    int from = r.nextInt(other.length);
                    byte[] spliced = Arrays.copyOf(out, cut + other.length - from);
                    System.arraycopy(other, from, spliced, cut, other.length - from);
                    out = spliced;
                }
            }
            return out;
        });
        // One run of random bytes, of 0x00/0xFF or a splice per input, anywhere in the file: most break the
        // data (corrupt); runs in pixel data or unread fields leave ~1/3 decodable; runs over the magic number
        // (~4 %) leave no known format; 0x00 / 0xFF runs over a dimension give a zero side or too many pixels.
        requireAtLeast("overwrite", seen, "CORRUPT", 600, "most runs and splices break the data");
        requireAtLeast("overwrite", seen, "ok", 250, "~1/3 of runs land where the decoder tolerates them");
        requireAtLeast("overwrite", seen, "UNSUPPORTED_FORMAT", 30, "~4 %: a run over the magic number");
        requireAtLeast("overwrite", seen, "ZERO_SIZE", 2, "a 0x00 run over a width or height");
        requireAtLeast("overwrite", seen, "TOO_MANY_PIXELS", 2, "a 0xFF run over a width or height");
    }

    @Test
    void randomBytes() {
        byte[][] magics = {{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}, {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF},
            {'G', 'I', 'F', '8', '9', 'a'}, {'B', 'M'}, {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'}, {}};
        Map<String, Integer> seen = batch("random", SEED + 3, 2500, (r, ignored) -> {
            byte[] magic = magics[r.nextInt(magics.length)];
            byte[] out = new byte[magic.length + r.nextInt(0, 2000)];
            System.arraycopy(magic, 0, out, 0, magic.length);
            for (int i = magic.length; i < out.length; i++) {
                out[i] = (byte) r.nextInt(256);
            }
            return out;
        });
        // 1 in 6 inputs has no magic number (unknown format); random bytes behind a magic number are refused
        // as corrupt (or, for a 2-byte 'BM' or a RIFF without the right chunk, as an unknown format). None
        // decodes: a random body passing every check of a format is not expected in 2500 tries.
        requireAtLeast("random", seen, "CORRUPT", 800, "random bytes behind 5 of 6 magic numbers");
        requireAtLeast("random", seen, "UNSUPPORTED_FORMAT", 300, "at least the 1/6 without a magic number");
    }

    @Test
    void throughTheFileApi(@TempDir Path dir) {
        Map<String, Integer> fileApi = new TreeMap<>();
        Map<String, Integer> seen = batch("file", SEED + 4, 300, (r, b) -> {
            byte[] out = r.nextBoolean() ? Arrays.copyOf(b, r.nextInt(b.length + 1)) : b.clone();
            if (out.length > 0 && r.nextBoolean()) {
                out[r.nextInt(out.length)] ^= (byte) (1 << r.nextInt(8));
            }
            try {
                Path f = dir.resolve("in.img");
                Files.write(f, out);
                String outcome;
                try {
                    outcome = check(PROCESSOR.process(f, CROPS), "file");
                } catch (ImageProcessingException e) {
                    outcome = explained(e, "file");
                }
                fileApi.merge(outcome, 1, Integer::sum);
                count("file-api:" + outcome);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return out;
        });
        // Half the inputs are cut at a uniform length (nearly always corrupt), the other half whole; half of
        // each gets one flip. So ~1/4 are untouched seeds (ok), ~1/2 corrupt. The file path and the byte path
        // must agree on every input.
        assertEquals(seen, fileApi, "the file API and the byte API give the same outcomes");
        requireAtLeast("file", fileApi, "ok", 60, "~1/4 of inputs are untouched seeds");
        requireAtLeast("file", fileApi, "CORRUPT", 60, "~1/2 of inputs are cut inside the data");
    }

    // ------------------------------------------------------------------------------------ edge cases

    @Test
    void emptyAndOnePixelImages() {
        ImageProcessingException empty = assertThrows(ImageProcessingException.class,
                () -> PROCESSOR.loader().load(new byte[0]));
        assertEquals(Reason.EMPTY, empty.reason());
        count("edge:empty-EMPTY");
        for (Seed s : SMALL) {
            if (s.name().startsWith("1x1")) {
                ProcessedImage p = PROCESSOR.process(PROCESSOR.loader().load(s.bytes()), CROPS);
                check(p, s.name());
                assertEquals(Phi3ImageProcessor.numImageTokens(1, 1, CROPS), p.numImageTokens(), s.name());
                count("edge:1x1-ok");
            }
        }
    }

    /**
     * 50 000 x 50 000 (7.5 GB of RGB) declared in the header of every format: refused from the header,
     * before a pixel buffer is allocated. Measured with the thread's allocation counter.
     */
    @Test
    void fiftyThousandSquaredHeadersAreRefusedBeforeDecoding() throws IOException {
        int side = 50_000;
        Map<String, byte[]> bombs = new TreeMap<>();
        bombs.put("png", pngHeader(side, side));
        bombs.put("bmp", bmpHeader(side, side));
        bombs.put("bmp-20000", bmpHeader(20_000, 20_000));   // within the JDK reader's own limit
        bombs.put("gif", gifHeader(side, side));
        bombs.put("jpeg", patchJpegSize(encode(onePixel(), "jpeg"), side, side));
        bombs.put("webp-vp8x", webpVp8xHeader(side, side));
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            for (Map.Entry<String, byte[]> e : bombs.entrySet()) {
                long tid = Thread.currentThread().getId();
                long before = mx.getThreadAllocatedBytes(tid);
                ImageProcessingException ex = assertThrows(ImageProcessingException.class,
                        () -> PROCESSOR.loader().load(e.getValue()), e.getKey());
                long allocated = mx.getThreadAllocatedBytes(tid) - before;
                System.out.println("[reliability] header bomb " + e.getKey() + ": " + ex.reason() + " after "
                        + allocated / 1024 + " KiB allocated: " + ex.getMessage());
                if (e.getKey().equals("bmp")) {
                    // The JDK's BMP reader itself refuses more than 2^31 samples while reading the header
                    // ("Dimensions ... are too large"), before our limit is consulted: CORRUPT, still cheap.
                    assertTrue(ex.reason() == Reason.TOO_MANY_PIXELS || ex.reason() == Reason.CORRUPT, ex.getMessage());
                } else {
                    assertEquals(Reason.TOO_MANY_PIXELS, ex.reason(), e.getKey() + ": " + ex.getMessage());
                    assertTrue(ex.getMessage().contains("x" + (e.getKey().endsWith("20000") ? 20000 : 50000)),
                            ex.getMessage());
                }
                // Measured 18-72 KiB; a decoded raster of the declared size would be 7.5 GB.
                assertTrue(allocated < 1L << 20, e.getKey() + ": " + allocated + " bytes allocated before refusing");
                count("bomb:" + e.getKey() + "-" + ex.reason());
            }
        });
        // The processor's pixel-free planning function still answers for such a size.
        assertTrue(Phi3ImageProcessor.numImageTokens(side, side, 16) > 0);
    }

    // ------------------------------------------------------------------------------------ builders

    private static BufferedImage onePixel() {
        BufferedImage img = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, 0x336699);
        return img;
    }

    private static byte[] encode(BufferedImage img, String format) throws IOException {
        BufferedImage rgb = img;
        if (img.getType() != BufferedImage.TYPE_INT_RGB) {  // the JPEG/BMP writers refuse alpha and grey+alpha
            rgb = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_INT_RGB);
            rgb.getGraphics().drawImage(img, 0, 0, null);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(rgb, format, out), "no ImageIO writer for " + format);
        return out.toByteArray();
    }

    /** A valid PNG signature + IHDR (correct CRC) + a tiny IDAT + IEND for a w x h RGB image. */
    static byte[] pngHeader(int w, int h) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0)
                .put((byte) 0).put((byte) 0);
        pngChunk(out, "IHDR", ihdr.array());
        Deflater d = new Deflater();
        d.setInput(new byte[4096]);
        d.finish();
        byte[] buf = new byte[8192];
        int n = d.deflate(buf);
        pngChunk(out, "IDAT", Arrays.copyOf(buf, n));
        pngChunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void pngChunk(ByteArrayOutputStream out, String type, byte[] data) {
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    /**
     * BMP: BITMAPFILEHEADER + BITMAPINFOHEADER, 8 bpp run-length encoded (BI_RLE8, so a tiny file can
     * legitimately declare a huge size), a 2-colour palette and an end-of-bitmap code.
     */
    static byte[] bmpHeader(int w, int h) {
        int dataOffset = 14 + 40 + 8;
        ByteBuffer b = ByteBuffer.allocate(dataOffset + 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 'B').put((byte) 'M').putInt(dataOffset + 4).putInt(0).putInt(dataOffset);
        b.putInt(40).putInt(w).putInt(h).putShort((short) 1).putShort((short) 8).putInt(1).putInt(4)
                .putInt(2835).putInt(2835).putInt(2).putInt(0);
        b.putInt(0).putInt(0x00FFFFFF);                                        // palette: black, white
        b.put((byte) 2).put((byte) 1).put((byte) 0).put((byte) 1);             // 2 x colour 1, end of bitmap
        return b.array();
    }

    /** GIF89a with a w x h logical screen and image descriptor, a 2-colour table and a tiny LZW stream. */
    static byte[] gifHeader(int w, int h) {
        ByteBuffer b = ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put("GIF89a".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putShort((short) w).putShort((short) h)
                .put((byte) 0x80).put((byte) 0).put((byte) 0);
        b.put(new byte[] {0, 0, 0, (byte) 255, (byte) 255, (byte) 255});          // global colour table
        b.put((byte) 0x2C).putShort((short) 0).putShort((short) 0).putShort((short) w).putShort((short) h)
                .put((byte) 0);
        b.put((byte) 2).put((byte) 2).put((byte) 0x44).put((byte) 0x01).put((byte) 0).put((byte) 0x3B);
        return Arrays.copyOf(b.array(), b.position());
    }

    /** Rewrites the height and width of the first SOFn marker of a JPEG. */
    static byte[] patchJpegSize(byte[] jpeg, int w, int h) {
        byte[] out = jpeg.clone();
        for (int i = 2; i + 9 < out.length; ) {
            if ((out[i] & 0xFF) != 0xFF) {
                throw new IllegalStateException("not at a marker");
            }
            int marker = out[i + 1] & 0xFF;
            int len = ((out[i + 2] & 0xFF) << 8) | (out[i + 3] & 0xFF);
            if (marker >= 0xC0 && marker <= 0xC3) {
                out[i + 5] = (byte) (h >> 8);
                out[i + 6] = (byte) h;
                out[i + 7] = (byte) (w >> 8);
                out[i + 8] = (byte) w;
                return out;
            }
            i += 2 + len;
        }
        throw new IllegalStateException("no SOF marker");
    }

    /** RIFF/WEBP with a VP8X chunk declaring a w x h canvas (24-bit fields hold size - 1). */
    static byte[] webpVp8xHeader(int w, int h) {
        ByteBuffer b = ByteBuffer.allocate(12 + 18 + 8 + 16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(4 + 18 + 8 + 16)
                .put("WEBP".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        b.put("VP8X".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(10).put((byte) 0).put(new byte[3]);
        put24(b, w - 1);
        put24(b, h - 1);
        b.put("VP8L".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(16).put(new byte[16]);
        return b.array();
    }

    private static void put24(ByteBuffer b, int v) {
        b.put((byte) v).put((byte) (v >> 8)).put((byte) (v >> 16));
    }
}
