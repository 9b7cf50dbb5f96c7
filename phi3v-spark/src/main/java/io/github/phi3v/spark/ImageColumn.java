package io.github.phi3v.spark;

import java.util.Locale;

import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StringType;

import io.github.phi3v.core.ImageInput;

/**
 * How an image column holds its images: the encoded bytes (Spark's {@code binaryFile} source puts them in
 * {@code content}) or a reference (a file path, a {@code file:} or {@code http(s)} URL, a {@code data:} URI).
 */
enum ImageColumn {
    /** A binary column of encoded images (PNG, JPEG, GIF, BMP, WebP). */
    BYTES,
    /** A string column of paths or URLs. */
    REFERENCE;

    /**
     * The kind of a column type.
     *
     * @param column the column's name, for the message
     * @param type its type
     * @return the kind
     * @throws IllegalArgumentException for any other type
     */
    static ImageColumn of(String column, DataType type) {
        if (type instanceof BinaryType) {
            return BYTES;
        }
        if (type instanceof StringType) {
            return REFERENCE;
        }
        throw new IllegalArgumentException("image column '" + column + "' has type " + type.simpleString()
                + "; expected binary (encoded image bytes, e.g. the content column of spark.read().format(\"binaryFile\"))"
                + " or string (a path or URL of the image)");
    }

    /** The image of a non-null cell value. */
    ImageInput input(Object value) {
        if (this == BYTES) {
            return ImageInput.ofBytes((byte[]) value);
        }
        String reference = (String) value;
        // Spark writes local paths as file:/a/b.png; a plain path or an http(s)/data: reference is parsed as is.
        return reference.toLowerCase(Locale.ROOT).startsWith("file:")
                ? ImageInput.of(java.net.URI.create(reference)) : ImageInput.parse(reference);
    }
}
