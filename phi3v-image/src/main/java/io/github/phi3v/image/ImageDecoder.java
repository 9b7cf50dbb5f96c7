package io.github.phi3v.image;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

import io.github.phi3v.image.ImageLoader.AlphaMode;
import io.github.phi3v.image.ImageProcessingException.Reason;

/**
 * The decoding half of {@link ImageLoader}: ImageIO reader selection, the pixel limit checked from the
 * header, truncation warnings turned into errors, and the PIL-like RGB conversion. Separate from the
 * loader so that the loader holds only sources and their limits.
 */
final class ImageDecoder {

    private final long maxPixels;
    private final AlphaMode alphaMode;

    ImageDecoder(long maxPixels, AlphaMode alphaMode) {
        this.maxPixels = maxPixels;
        this.alphaMode = alphaMode;
    }

    interface ReaderAction<T> {
        T apply(ImageReader reader, int width, int height) throws IOException;
    }

    RgbImage decode(byte[] encoded, String source) {
        return withReader(encoded, source, (reader, w, h) -> {
            checkDimensions(w, h, source);
            List<String> warnings = new ArrayList<>();
            IIOReadWarningListener listener = (r, warning) -> warnings.add(warning);
            reader.addIIOReadWarningListener(listener);
            BufferedImage image = reader.read(0, rgbOrderDestination(reader, w, h));
            for (String warning : warnings) {
                String lower = warning.toLowerCase(Locale.ROOT);
                // PIL refuses truncated files ("image file is truncated"); libjpeg only warns about them.
                if (lower.contains("premature end") || lower.contains("truncat")) {
                    throw new ImageProcessingException(Reason.CORRUPT, source + " is truncated ("
                            + reader.getFormatName() + " decoder: " + warning + ")");
                }
            }
            return PilRgbConversion.toRgb(image, alphaMode, true); // freshly decoded: adopt its raster
        });
    }

    /**
     * For a JPEG the JDK reader would decode into a {@code TYPE_3BYTE_BGR} image, a read parameter
     * with an R, G, B ordered sRGB destination instead; otherwise null (the reader's default).
     *
     * <p>Why: the reader hands over each decoded line as R, G, B bytes and copies it into the
     * destination; into B, G, R the JDK copies byte by byte in Java (about a third of the whole
     * decode time of a 1920x1080 JPEG), into R, G, B it is one {@code System.arraycopy} per line.
     * The bytes are the same: the destination has the same sRGB colour space as the default one, so
     * the reader applies the same (usually no) colour conversion; only the byte order differs, which
     * {@link RgbImage} records.
     */
    private static javax.imageio.ImageReadParam rgbOrderDestination(ImageReader reader, int w, int h)
            throws IOException {
        if (!"jpeg".equalsIgnoreCase(reader.getFormatName()) || (long) w * h * 3 > Integer.MAX_VALUE - 8) {
            return null; // (too large for one byte array: leave the failure to the reader, as before)
        }
        Iterator<javax.imageio.ImageTypeSpecifier> types = reader.getImageTypes(0);
        if (types == null || !types.hasNext()) {
            return null;
        }
        BufferedImage probe = types.next().createBufferedImage(1, 1);
        if (probe.getType() != BufferedImage.TYPE_3BYTE_BGR) {
            return null; // grey, CMYK, an embedded ICC profile's colour space ...: keep the default
        }
        java.awt.image.WritableRaster raster = java.awt.image.Raster.createInterleavedRaster(
                java.awt.image.DataBuffer.TYPE_BYTE, w, h, w * 3, 3, new int[] {0, 1, 2}, null);
        java.awt.image.ColorModel cm = new java.awt.image.ComponentColorModel(
                java.awt.color.ColorSpace.getInstance(java.awt.color.ColorSpace.CS_sRGB), false, false,
                java.awt.Transparency.OPAQUE, java.awt.image.DataBuffer.TYPE_BYTE);
        javax.imageio.ImageReadParam param = reader.getDefaultReadParam();
        param.setDestination(new BufferedImage(cm, raster, false, null));
        return param;
    }

    <T> T withReader(byte[] encoded, String source, ReaderAction<T> action) {
        if (encoded.length == 0) {
            throw new ImageProcessingException(Reason.EMPTY, source + " is empty (0 bytes); expected an image in one of: "
                    + ImageLoader.SUPPORTED);
        }
        String sniffed = sniffFormat(encoded);
        try (ImageInputStream iis = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(iis);
            if (!readers.hasNext()) {
                throw new ImageProcessingException(Reason.UNSUPPORTED_FORMAT, source + " is not a supported image"
                        + (sniffed == null ? "" : " (looks like " + sniffed + ")") + "; supported formats: "
                        + ImageLoader.SUPPORTED);
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(iis, true, true);
                int w;
                int h;
                try {
                    w = reader.getWidth(0);
                    h = reader.getHeight(0);
                } catch (IOException | RuntimeException e) {
                    throw corrupt(source, reader, "unreadable header", e);
                }
                try {
                    return action.apply(reader, w, h);
                } catch (ImageProcessingException e) {
                    throw e;
                } catch (IOException | RuntimeException e) {
                    if (String.valueOf(e.getMessage()).contains("Unsupported Image Type")) {
                        // The JDK's JPEG reader has no CMYK / YCCK conversion.
                        throw new ImageProcessingException(Reason.UNSUPPORTED_FORMAT, source + ": this "
                                + formatName(reader) + " uses a colour model the decoder cannot convert (e.g. CMYK or "
                                + "YCCK JPEG); save it as RGB. Supported: " + ImageLoader.SUPPORTED + " in RGB, grey or palette", e);
                    }
                    // ImageIO readers signal bad data with IIOException but also with runtime exceptions.
                    throw corrupt(source, reader, "cannot decode pixels", e);
                }
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("in-memory image stream failed", e); // not expected for byte arrays
        }
    }

    private static String formatName(ImageReader reader) {
        try {
            return reader.getFormatName().toUpperCase(Locale.ROOT);
        } catch (IOException ignored) {
            return "image";
        }
    }

    private static ImageProcessingException corrupt(String source, ImageReader reader, String what, Exception e) {
        String format = formatName(reader);
        String detail = e instanceof IIOException || e.getMessage() != null ? e.getMessage() : e.toString();
        return new ImageProcessingException(Reason.CORRUPT, source + ": corrupt or truncated " + format + " data ("
                + what + ": " + detail + ")", e);
    }

    void checkDimensions(int w, int h, String source) {
        if (w <= 0 || h <= 0) {
            throw new ImageProcessingException(Reason.ZERO_SIZE, source + " declares size " + w + "x" + h
                    + "; expected at least 1x1");
        }
        long pixels = (long) w * h;
        if (pixels > maxPixels) {
            throw new ImageProcessingException(Reason.TOO_MANY_PIXELS, source + " declares " + w + "x" + h + " = "
                    + pixels + " pixels, more than the limit of " + maxPixels
                    + " (possible decompression bomb; raise ImageLoader.builder().maxPixels(...) if intended)");
        }
    }

    /** Names a few well-known formats from their magic bytes, for error messages only. */
    static String sniffFormat(byte[] b) {
        if (startsWith(b, 0, 0x89, 'P', 'N', 'G')) {
            return "PNG";
        }
        if (startsWith(b, 0, 0xFF, 0xD8, 0xFF)) {
            return "JPEG";
        }
        if (startsWith(b, 0, 'G', 'I', 'F', '8')) {
            return "GIF";
        }
        if (startsWith(b, 0, 'B', 'M')) {
            return "BMP";
        }
        if (startsWith(b, 0, 'R', 'I', 'F', 'F') && startsWith(b, 8, 'W', 'E', 'B', 'P')) {
            return "WebP";
        }
        if (startsWith(b, 0, 'I', 'I', 42, 0) || startsWith(b, 0, 'M', 'M', 0, 42)) {
            return "TIFF";
        }
        if (startsWith(b, 4, 'f', 't', 'y', 'p')) {
            String brand = b.length >= 12 ? new String(b, 8, 4, java.nio.charset.StandardCharsets.US_ASCII) : "";
            return brand.startsWith("avi") ? "AVIF" : brand.startsWith("hei") || brand.startsWith("mif")
                    ? "HEIF/HEIC" : "ISO media (" + brand.trim() + ")";
        }
        if (startsWith(b, 0, '%', 'P', 'D', 'F')) {
            return "PDF";
        }
        if (startsWith(b, 0, 0x00, 0x00, 0x00, 0x0C, 'j', 'P')) {
            return "JPEG 2000";
        }
        String head = new String(b, 0, Math.min(b.length, 256), java.nio.charset.StandardCharsets.ISO_8859_1)
                .stripLeading().toLowerCase(Locale.ROOT);
        if (head.startsWith("<svg") || (head.startsWith("<?xml") && head.contains("<svg"))) {
            return "SVG";
        }
        if (head.startsWith("<!doctype html") || head.startsWith("<html")) {
            return "HTML (an error page instead of an image?)";
        }
        return null;
    }

    private static boolean startsWith(byte[] b, int offset, int... magic) {
        if (b.length < offset + magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if ((b[offset + i] & 0xff) != magic[i]) {
                return false;
            }
        }
        return true;
    }
}
