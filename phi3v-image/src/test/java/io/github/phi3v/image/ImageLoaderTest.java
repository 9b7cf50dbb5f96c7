package io.github.phi3v.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.image.ImageProcessingException.Reason;

/**
 * Decoding and PIL {@code convert("RGB")} semantics of {@link ImageLoader}, and its error reporting.
 *
 * <p>The WebP fixtures were made from {@code fixture_rgb.png} / {@code fixture_rgba.png} (synthetic
 * 64x48 images) with libwebp 1.2.4: {@code cwebp -lossless -exact}, {@code cwebp -q 85}, and
 * {@code dwebp} for the libwebp decoding of the lossy file.
 */
class ImageLoaderTest {

    private static final ImageLoader LOADER = ImageLoader.defaults();

    static byte[] resource(String name) {
        try (InputStream in = ImageLoaderTest.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] encode(BufferedImage img, String format) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertTrue(ImageIO.write(img, format, out), "no ImageIO writer for " + format);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ImageProcessingException fails(Reason reason, Runnable r) {
        ImageProcessingException e = assertThrows(ImageProcessingException.class, r::run);
        assertEquals(reason, e.reason(), () -> "message: " + e.getMessage());
        return e;
    }

    // ---------------------------------------------------------------------------------------------
    // Formats and colour conversion

    @Test
    void webpLosslessDecodesToTheSourcePixels() {
        RgbImage png = LOADER.load(resource("fixture_rgb.png"));
        RgbImage webp = LOADER.load(resource("fixture_rgb_lossless.webp"));
        assertEquals(64, webp.width());
        assertEquals(48, webp.height());
        assertArrayEquals(png.rgb(), webp.rgb());
        assertEquals("webp", LOADER.readHeader(resource("fixture_rgb_lossless.webp")).format().toLowerCase());
    }

    @Test
    void webpWithAlphaDropsAlphaLikePil() {
        RgbImage png = LOADER.load(resource("fixture_rgba.png"));
        RgbImage webp = LOADER.load(resource("fixture_rgba_lossless.webp"));
        assertArrayEquals(png.rgb(), webp.rgb());
        // The fully transparent band keeps its stored magenta colour.
        assertEquals(255, webp.sample(5, 35, 0));
        assertEquals(0, webp.sample(5, 35, 1));
        assertEquals(255, webp.sample(5, 35, 2));
    }

    /**
     * Known deviation, measured and reported rather than hidden: TwelveMonkeys' lossy (VP8) decoder is
     * not bit-exact with libwebp, which Pillow uses (different chroma upsampling / YUV conversion).
     * Lossless WebP is exact (above). The bound below only guards against regressions.
     */
    @Test
    void webpLossyDecodesApproximately() {
        RgbImage ours = LOADER.load(resource("fixture_rgb_lossy.webp"));
        RgbImage libwebp = LOADER.load(resource("fixture_rgb_lossy.libwebp.png"));
        byte[] a = ours.rgb();
        byte[] b = libwebp.rgb();
        int max = 0;
        int maxSmooth = 0; // outside the random-noise block, where chroma upsampling choices dominate
        long differ = 0;
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            int d = Math.abs((a[i] & 0xff) - (b[i] & 0xff));
            max = Math.max(max, d);
            int x = (i / 3) % 64;
            int y = (i / 3) / 64;
            if (!(x >= 8 && x < 32 && y >= 8 && y < 22)) {
                maxSmooth = Math.max(maxSmooth, d);
            }
            differ += d != 0 ? 1 : 0;
            sum += d;
        }
        System.out.printf("[image-loader] lossy WebP, TwelveMonkeys vs libwebp (what Pillow uses): max diff %d "
                + "(%d outside the noise block), mean %.2f, %d of %d samples differ%n", max, maxSmooth,
                sum / a.length, differ, a.length);
        assertTrue(sum / a.length <= 4.0, "lossy WebP: mean difference to libwebp " + sum / a.length + " levels");
    }

    @Test
    void compositeOnWhiteIsAnExplicitOption() {
        ImageLoader white = ImageLoader.builder().alphaMode(ImageLoader.AlphaMode.COMPOSITE_ON_WHITE).build();
        RgbImage dropped = LOADER.load(resource("fixture_rgba.png"));
        RgbImage composited = white.load(resource("fixture_rgba.png"));
        // alpha 0 -> white; alpha 255 -> unchanged; alpha 128 -> blend.
        for (int c = 0; c < 3; c++) {
            assertEquals(255, composited.sample(5, 35, c));
            assertEquals(dropped.sample(5, 5, c), composited.sample(5, 5, c));
            int v = dropped.sample(55, 5, c);
            assertEquals((v * 128 + 255 * 127 + 127) / 255, composited.sample(55, 5, c));
        }
    }

    @Test
    void greyIsReplicated() {
        BufferedImage g = new BufferedImage(7, 5, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 5; y++) {
            for (int x = 0; x < 7; x++) {
                g.getRaster().setSample(x, y, 0, x * 30 + y);
            }
        }
        for (String format : new String[] {"png", "bmp"}) {
            RgbImage img = LOADER.load(encode(g, format));
            for (int c = 0; c < 3; c++) {
                assertEquals(6 * 30 + 4, img.sample(6, 4, c), format);
                assertEquals(31, img.sample(1, 1, c), format);
            }
        }
        // Raw grey values, not Java's linear-grey colour conversion.
        RgbImage direct = LOADER.fromBufferedImage(g);
        assertEquals(61, direct.sample(2, 1, 0));
    }

    @Test
    void paletteIsExpandedIgnoringTransparency() {
        byte[] r = {10, (byte) 200, 30, (byte) 255};
        byte[] gr = {20, 100, (byte) 230, 0};
        byte[] b = {30, 50, (byte) 130, (byte) 255};
        IndexColorModel icm = new IndexColorModel(8, 4, r, gr, b, 3); // entry 3 transparent
        BufferedImage p = new BufferedImage(6, 4, BufferedImage.TYPE_BYTE_INDEXED, icm);
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 6; x++) {
                p.getRaster().setSample(x, y, 0, (x + y) % 4);
            }
        }
        for (String format : new String[] {"png", "gif"}) {
            RgbImage img = LOADER.load(encode(p, format));
            assertEquals(200, img.sample(1, 0, 0), format);
            assertEquals(230, img.sample(2, 0, 1), format);
            assertEquals(130, img.sample(2, 0, 2), format);
            // transparent entry keeps its palette colour (magenta)
            assertEquals(255, img.sample(3, 0, 0), format);
            assertEquals(0, img.sample(3, 0, 1), format);
            assertEquals(255, img.sample(3, 0, 2), format);
        }
    }

    @Test
    void sixteenBitSamplesAreReducedLikePil() {
        // RGB 16-bit: PIL's "RGB;16B" unpacker keeps the high byte.
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), false, false,
                Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster wr = cm.createCompatibleWritableRaster(3, 2);
        wr.setPixel(0, 0, new int[] {0x1234, 0xABCD, 0xFFFF});
        wr.setPixel(1, 0, new int[] {0x00FF, 0x0100, 0x8000});
        RgbImage rgb = LOADER.load(encode(new BufferedImage(cm, wr, false, null), "png"));
        assertArrayEquals(new int[] {0x12, 0xAB, 0xFF}, new int[] {rgb.sample(0, 0, 0), rgb.sample(0, 0, 1),
            rgb.sample(0, 0, 2)});
        assertArrayEquals(new int[] {0x00, 0x01, 0x80}, new int[] {rgb.sample(1, 0, 0), rgb.sample(1, 0, 1),
            rgb.sample(1, 0, 2)});

        // Grey 16-bit without alpha: PIL opens it as mode "I"; I -> RGB clamps to 0..255.
        BufferedImage g16 = new BufferedImage(3, 1, BufferedImage.TYPE_USHORT_GRAY);
        g16.getRaster().setSample(0, 0, 0, 100);
        g16.getRaster().setSample(1, 0, 0, 255);
        g16.getRaster().setSample(2, 0, 0, 40000);
        RgbImage grey = LOADER.load(encode(g16, "png"));
        assertEquals(100, grey.sample(0, 0, 1));
        assertEquals(255, grey.sample(1, 0, 1));
        assertEquals(255, grey.sample(2, 0, 1));
    }

    @Test
    void jpegAndBmpAndPackedIntImages() {
        BufferedImage argb = new BufferedImage(9, 4, BufferedImage.TYPE_INT_ARGB);
        argb.setRGB(2, 1, 0x00FF8040); // fully transparent: colour kept
        argb.setRGB(3, 1, 0xFF102030);
        RgbImage fromArgb = LOADER.fromBufferedImage(argb);
        assertEquals(0xFF, fromArgb.sample(2, 1, 0));
        assertEquals(0x80, fromArgb.sample(2, 1, 1));
        assertEquals(0x40, fromArgb.sample(2, 1, 2));

        BufferedImage bgr = new BufferedImage(9, 4, BufferedImage.TYPE_3BYTE_BGR);
        bgr.setRGB(3, 1, 0x102030);
        RgbImage bmp = LOADER.load(encode(bgr, "bmp"));
        assertEquals(0x10, bmp.sample(3, 1, 0));
        assertEquals(0x30, bmp.sample(3, 1, 2));
        RgbImage jpeg = LOADER.load(encode(bgr, "jpeg"));
        assertEquals(9, jpeg.width());
        assertEquals(4, jpeg.height());
        // A sub-image (shared raster with an offset) is read correctly.
        RgbImage sub = LOADER.fromBufferedImage(bgr.getSubimage(2, 1, 3, 2));
        assertEquals(0x10, sub.sample(1, 0, 0));
        assertEquals(0x20, sub.sample(1, 0, 1));
    }

    @Test
    void sourcesPathStreamBytesAgree(@TempDir Path dir) throws IOException {
        byte[] png = resource("fixture_rgb.png");
        Path file = dir.resolve("x.png");
        Files.write(file, png);
        byte[] expected = LOADER.load(png).rgb();
        assertArrayEquals(expected, LOADER.load(file).rgb());
        assertArrayEquals(expected, LOADER.load(new ByteArrayInputStream(png)).rgb());
        ImageLoader.ImageHeader header = LOADER.readHeader(file);
        assertEquals(new ImageLoader.ImageHeader("png", 64, 48), header);
    }

    // ---------------------------------------------------------------------------------------------
    // Errors

    @Test
    void emptyInput() {
        fails(Reason.EMPTY, () -> LOADER.load(new byte[0]));
        fails(Reason.EMPTY, () -> LOADER.load(new ByteArrayInputStream(new byte[0])));
    }

    @Test
    void unsupportedFormatSaysWhatWorks() {
        ImageProcessingException e = fails(Reason.UNSUPPORTED_FORMAT,
                () -> LOADER.load("%PDF-1.7\n1 0 obj".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        assertTrue(e.getMessage().contains("PDF"), e.getMessage());
        assertTrue(e.getMessage().contains("PNG, JPEG, GIF, BMP, WebP"), e.getMessage());
        ImageProcessingException html = fails(Reason.UNSUPPORTED_FORMAT,
                () -> LOADER.load("<!DOCTYPE html><html>404</html>".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        assertTrue(html.getMessage().contains("HTML"), html.getMessage());
        fails(Reason.UNSUPPORTED_FORMAT, () -> LOADER.load(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9}));
    }

    @Test
    void corruptOrTruncatedData() {
        byte[] png = resource("fixture_rgb.png");
        fails(Reason.CORRUPT, () -> LOADER.load(Arrays.copyOf(png, png.length / 2)));
        BufferedImage bgr = new BufferedImage(64, 64, BufferedImage.TYPE_3BYTE_BGR);
        for (int i = 0; i < 64; i++) {
            bgr.setRGB(i, i, 0xFFFFFF);
        }
        byte[] jpeg = encode(bgr, "jpeg");
        fails(Reason.CORRUPT, () -> LOADER.load(Arrays.copyOf(jpeg, jpeg.length * 2 / 3)));
        byte[] garbage = png.clone();
        for (int i = 60; i < garbage.length - 20; i++) {
            garbage[i] = (byte) (i * 31);
        }
        fails(Reason.CORRUPT, () -> LOADER.load(garbage));
    }

    /** A PNG whose header declares {@code w x h} but that carries (almost) no pixel data. */
    static byte[] pngHeaderOnly(int w, int h) {
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0)
                .put((byte) 0).put((byte) 0);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        chunk(out, "IHDR", ihdr.array());
        chunk(out, "IDAT", new byte[] {0x78, (byte) 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    @Test
    void decompressionBombIsRefusedFromTheHeader() {
        byte[] bomb = pngHeaderOnly(100_000, 100_000); // 10^10 pixels declared in a 60-byte file
        assertEquals(new ImageLoader.ImageHeader("png", 100_000, 100_000), LOADER.readHeader(bomb));
        ImageProcessingException e = fails(Reason.TOO_MANY_PIXELS, () -> LOADER.load(bomb));
        assertTrue(e.getMessage().contains("100000x100000"), e.getMessage());
        ImageLoader small = ImageLoader.builder().maxPixels(64 * 48 - 1).build();
        fails(Reason.TOO_MANY_PIXELS, () -> small.load(resource("fixture_rgb.png")));
        fails(Reason.TOO_MANY_PIXELS, () -> small.fromBufferedImage(new BufferedImage(64, 48,
                BufferedImage.TYPE_INT_RGB)));
        ImageLoader exact = ImageLoader.builder().maxPixels(64 * 48).build();
        assertEquals(64, exact.load(resource("fixture_rgb.png")).width());
    }

    @Test
    void byteLimit(@TempDir Path dir) throws IOException {
        byte[] png = resource("fixture_rgb.png");
        ImageLoader small = ImageLoader.builder().maxBytes(png.length - 1).build();
        fails(Reason.TOO_MANY_BYTES, () -> small.load(png));
        fails(Reason.TOO_MANY_BYTES, () -> small.load(new ByteArrayInputStream(png)));
        Path file = dir.resolve("big.png");
        Files.write(file, png);
        fails(Reason.TOO_MANY_BYTES, () -> small.load(file));
    }

    /**
     * Only regular files are read: a FIFO (which would block the open until a writer comes), a device that
     * never ends and a directory are refused from their attributes, before opening.
     */
    @Test
    void onlyRegularFilesAreRead(@TempDir Path dir) throws Exception {
        Path fifo = dir.resolve("image.png");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
        assertEquals(0, mkfifo.waitFor(), () -> "mkfifo failed: " + new String(readAll(mkfifo.getInputStream())));
        assertTrue(Files.exists(fifo) && !Files.isRegularFile(fifo), "a FIFO");
        Path zero = Path.of("/dev/zero");
        Path linkToZero = Files.createSymbolicLink(dir.resolve("zero.png"), zero);
        ImageLoader fileUrls = ImageLoader.builder().allowFileUrls(true).build();
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(10), () -> {
            for (Path p : new Path[] {fifo, zero, linkToZero}) {
                ImageProcessingException e = fails(Reason.UNSUPPORTED_SOURCE, () -> LOADER.load(p));
                assertEquals(p + " is not a regular file (a FIFO, socket or device); expected an image file",
                        e.getMessage());
                fails(Reason.UNSUPPORTED_SOURCE, () -> LOADER.readHeader(p));
                fails(Reason.UNSUPPORTED_SOURCE, () -> fileUrls.load(p.toUri()));
            }
            ImageProcessingException d = fails(Reason.UNSUPPORTED_SOURCE, () -> LOADER.load(dir));
            assertEquals(dir + " is a directory; expected an image file", d.getMessage());
        });
        // A link to a regular image file is fine.
        Path png = Files.write(dir.resolve("x.png"), resource("fixture_rgb.png"));
        assertEquals(64, LOADER.load(Files.createSymbolicLink(dir.resolve("link.png"), png)).width());
    }

    /**
     * Files are read through a stream cut off at maxBytes, not trusted by their reported size: a /proc file
     * reports size 0 and still has content.
     */
    @Test
    void fileContentBeyondItsReportedSizeIsBounded() throws IOException {
        Path status = Path.of("/proc/self/status");
        assertEquals(0, Files.size(status), "precondition: /proc reports size 0");
        assertTrue(Files.readAllBytes(status).length > 200, "precondition: it has content");
        ImageProcessingException e = fails(Reason.TOO_MANY_BYTES,
                () -> ImageLoader.builder().maxBytes(200).build().load(status));
        assertTrue(e.getMessage().contains("more than the limit of 200"), e.getMessage());
        // Within the limit the same file is read and refused as what it is.
        fails(Reason.UNSUPPORTED_FORMAT, () -> LOADER.load(status));
    }

    private static byte[] readAll(InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void missingFileAndZeroSize(@TempDir Path dir) {
        ImageProcessingException e = fails(Reason.UNREADABLE, () -> LOADER.load(dir.resolve("nope.png")));
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
        fails(Reason.ZERO_SIZE, () -> RgbImage.of(0, 5, new byte[0]));
        fails(Reason.ZERO_SIZE, () -> HdGeometry.of(5, 0, 16));
        // A header declaring width 0: refused from the header, whichever way the reader reports it.
        ImageProcessingException zero = assertThrows(ImageProcessingException.class,
                () -> LOADER.load(pngHeaderOnly(0, 10)));
        assertTrue(zero.reason() == Reason.ZERO_SIZE || zero.reason() == Reason.CORRUPT, zero.reason().toString());
    }
}
