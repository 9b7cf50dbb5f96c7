package io.github.phi3v.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

/** Processor behaviour that does not need the golden data: config, geometry edge cases, layout, threads. */
class Phi3ImageProcessorTest {

    private static Phi3ImageProcessor config(String json) {
        return Phi3ImageProcessor.fromConfig(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void configAndBuilder() {
        Phi3ImageProcessor p = config("{\"num_crops\": 4, \"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.25, 0.5, 1]}");
        assertEquals(4, p.numCrops());
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f}, p.imageMean());
        assertArrayEquals(new float[] {0.25f, 0.5f, 1f}, p.imageStd());
        assertEquals(1, config("{}").numCrops(), "official default num_crops when absent");
        assertEquals(16, Phi3ImageProcessor.defaults().numCrops());
        assertEquals(4, Phi3ImageProcessor.defaults().toBuilder().numCrops(4).build().numCrops());

        assertThrows(IllegalArgumentException.class, () -> config("{\"num_crops\": 0}"));
        assertThrows(IllegalArgumentException.class, () -> config("{\"num_crops\": \"16\"}"));
        assertThrows(IllegalArgumentException.class, () -> config("{\"image_mean\": [0.5, 0.5]}"));
        assertThrows(IllegalArgumentException.class, () -> config("{\"image_std\": [1, 0, 1]}"));
        assertThrows(IllegalArgumentException.class, () -> config("{\"image_processor_type\": \"CLIPImageProcessor\"}"));
        assertThrows(IllegalArgumentException.class, () -> config("{\"num_img_tokens\": 256}"));
        assertThrows(IllegalArgumentException.class, () -> config("[1, 2]"));
        assertThrows(IllegalArgumentException.class, () -> config("{not json"));
        assertThrows(IllegalArgumentException.class, () -> Phi3ImageProcessor.builder().numCrops(-1));
    }

    @Test
    void geometryWithoutPixels() {
        // 4:3 photo at num_crops 16 -> 1921 tokens, square -> 2509 (NOTES.md); 4 -> 757.
        assertEquals(1921, Phi3ImageProcessor.numImageTokens(4000, 3000, 16));
        assertEquals(2509, Phi3ImageProcessor.numImageTokens(512, 512, 16));
        assertEquals(757, Phi3ImageProcessor.numImageTokens(4000, 3000, 4));
        HdGeometry portrait = HdGeometry.of(300, 500, 16);
        assertTrue(portrait.transposed());
        assertEquals(1008, portrait.hdWidth());
        assertEquals(1680, portrait.hdHeight());
        assertEquals(1 + 15, portrait.realCrops());
        // Official float64 truncation: int(1680 / (42/19)) = 759, one below the exact 760.
        HdGeometry g = HdGeometry.of(42, 19, 16);
        assertEquals(759, g.resizedHeight());
        assertEquals((1008 - 759) / 2, g.padTop());
        ImageProcessingException e = assertThrows(ImageProcessingException.class, () -> HdGeometry.of(20000, 1, 16));
        assertEquals(ImageProcessingException.Reason.INVALID_GEOMETRY, e.reason());
    }

    @Test
    void layoutAndPadding() {
        byte[] rgb = new byte[336 * 336 * 3];
        java.util.Arrays.fill(rgb, (byte) 255);
        Phi3ImageProcessor p = Phi3ImageProcessor.builder().numCrops(4).build();
        ProcessedImage out = p.process(RgbImage.of(336, 336, rgb), 2); // per-call override
        assertEquals(2, out.numCrops());
        assertEquals(3 * 3 * 336 * 336, out.pixelValues().length);
        assertEquals(2, out.realCrops()); // 336 -> scale 1 -> one sub-crop
        float white0 = (1f - 0.48145466f) / 0.26862954f;
        assertEquals(white0, out.pixelValues()[0]); // global
        assertEquals(white0, out.pixelValues()[3 * 336 * 336]); // first sub-crop
        assertEquals(0f, out.pixelValues()[2 * 3 * 336 * 336]); // padding crop
        assertEquals(out.pixelValues().length, out.pixelBuffer().remaining());
        assertTrue(out.pixelBuffer().isReadOnly());
        assertEquals(336, out.hdBufferedImage().getWidth());
    }

    @Test
    void threadSafe() throws Exception {
        RgbImage img = ImageLoader.defaults().load(ImageLoaderTest.resource("fixture_rgb.png"));
        Phi3ImageProcessor p = Phi3ImageProcessor.builder().numCrops(4).build();
        float[] expected = p.process(img).pixelValues();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<float[]> a = pool.submit(() -> p.process(img).pixelValues());
            Future<float[]> b = pool.submit(() -> p.process(img).pixelValues());
            assertArrayEquals(expected, a.get());
            assertArrayEquals(expected, b.get());
        } finally {
            pool.shutdownNow();
        }
    }

    /** Decoded BGR rasters are adopted without conversion; every resize path must still give RGB. */
    @Test
    void adoptedBgrRasterGivesTheSameResultAsRgb() {
        java.util.Random rnd = new java.util.Random(3);
        Phi3ImageProcessor p = Phi3ImageProcessor.defaults();
        for (int[] size : new int[][] {{336, 336}, {336, 500}, {500, 336}, {672, 200}, {300, 700}, {41, 17}}) {
            java.awt.image.BufferedImage bi = new java.awt.image.BufferedImage(size[0], size[1],
                    java.awt.image.BufferedImage.TYPE_3BYTE_BGR);
            for (int y = 0; y < size[1]; y++) {
                for (int x = 0; x < size[0]; x++) {
                    bi.setRGB(x, y, rnd.nextInt(1 << 24));
                }
            }
            RgbImage adopted = ImageLoader.defaults().load(ImageLoaderTest.encode(bi, "bmp"));
            assertTrue(adopted.isBgr(), "BMP decodes to a BGR raster that is adopted");
            RgbImage copied = ImageLoader.defaults().fromBufferedImage(bi);
            assertArrayEquals(copied.rgb(), adopted.rgb());
            for (int nc : new int[] {1, 4}) {
                ProcessedImage a = p.process(adopted, nc);
                ProcessedImage b = p.process(copied, nc);
                assertArrayEquals(b.hdRgb(), a.hdRgb(), size[0] + "x" + size[1] + " nc" + nc);
                assertArrayEquals(b.pixelValues(), a.pixelValues(), size[0] + "x" + size[1] + " nc" + nc);
            }
        }
    }

    @Test
    void resizeSameSizeIsIdentityAndTapsSumToOne() {
        byte[] src = new byte[5 * 4 * 3];
        for (int i = 0; i < src.length; i++) {
            src[i] = (byte) (i * 13);
        }
        assertArrayEquals(src, PilBilinearResize.resize(src, 5, 4, 5, 4, false));
        for (int[] sizes : new int[][] {{1000, 336}, {40, 1344}, {2688, 336}, {427, 640}}) {
            PilBilinearResize.Taps t = PilBilinearResize.taps(sizes[0], sizes[1]);
            for (int i = 0; i < sizes[1]; i++) {
                int sum = 0;
                for (int j = 0; j < t.count()[i]; j++) {
                    sum += t.k()[i * t.ksize() + j];
                }
                assertTrue(Math.abs(sum - (1 << 22)) <= t.count()[i], "taps of output " + i + " sum to " + sum);
            }
        }
    }
}
