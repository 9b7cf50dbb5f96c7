/**
 * Phi-3-Vision on libtorch. The API is {@link io.github.phi3v.core.Phi3Vision}; the other exported
 * packages hold its configuration, generation, hub, model and weights types.
 *
 * <p>{@code runtime} (native bootstrap, tensor scopes, logits helpers) is an internal package, exported
 * only to {@code io.github.phi3v.tooling} (benchmarks and random-weight models).
 */
module io.github.phi3v.core {
    requires transitive io.github.phi3v.tokenizer;
    requires transitive io.github.phi3v.image;
    requires transitive org.bytedeco.pytorch;
    requires org.bytedeco.javacpp;
    requires com.fasterxml.jackson.databind;
    requires java.net.http;
    requires java.management;
    requires jdk.management;

    exports io.github.phi3v.core;
    exports io.github.phi3v.core.config;
    exports io.github.phi3v.core.generate;
    exports io.github.phi3v.core.hub;
    exports io.github.phi3v.core.model;
    exports io.github.phi3v.core.weights;
    exports io.github.phi3v.core.runtime to io.github.phi3v.tooling;
}
