/**
 * Image loading and the Phi-3-V HD image preprocessing in pure Java: {@link io.github.phi3v.image}.
 */
module io.github.phi3v.image {
    // BufferedImage is part of this module's API.
    requires transitive java.desktop;
    requires java.net.http;
    requires com.fasterxml.jackson.databind;
    // No compile-time use: the WebP ImageIO plugin must be resolved for ImageIO's service lookup
    // to find it when the application runs on the module path.
    requires com.twelvemonkeys.imageio.webp;

    exports io.github.phi3v.image;
}
