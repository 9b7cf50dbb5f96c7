/**
 * Phi-3-Vision image preprocessing in pure Java, pixel-exact with the official Python
 * {@code Phi3VImageProcessor}.
 *
 * <p>Entry points: {@link io.github.phi3v.image.ImageLoader} (decode PNG, JPEG, GIF, BMP, WebP from files,
 * URLs, bytes or streams into an {@link io.github.phi3v.image.RgbImage}, like PIL {@code convert("RGB")}),
 * {@link io.github.phi3v.image.Phi3ImageProcessor} (HD transform, normalisation, crops) producing a
 * {@link io.github.phi3v.image.ProcessedImage}, and {@link io.github.phi3v.image.HdGeometry} /
 * {@link io.github.phi3v.image.Phi3ImageProcessor#numImageTokens(int, int, int)} for token planning without
 * pixels. Failures are reported as {@link io.github.phi3v.image.ImageProcessingException}.
 */
package io.github.phi3v.image;
