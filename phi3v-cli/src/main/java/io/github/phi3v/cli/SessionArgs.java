package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.tooling.Models;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Everything {@code ask} and {@code chat} need to open a conversation: the model and sampling options,
 * the images of the first question, the crop budget and the system message, and the steps that apply
 * them (check the images before loading, configure the session, attach the images).
 */
final class SessionArgs {

    @Mixin
    ModelArgs modelArgs;

    @Mixin
    SamplingArgs sampling;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE|URL",
            description = "An image (file or http(s) URL); repeat for several, they become <|image_1|>, <|image_2|>, ...")
    List<String> images = new ArrayList<>();

    @Option(names = "--num-crops", paramLabel = "N",
            description = "Crop budget per image: 16 (Phi-3-vision default, up to 2653 tokens), 4 (up to 781), 1.")
    Integer numCrops;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message.")
    String system;

    /** Checks that the image files exist (URLs are fetched later), so a typo fails before the model loads. */
    void checkImages() {
        for (String image : images) {
            if (!Models.isUrl(image)) {
                Models.requireImageFile(image);
            }
        }
    }

    /**
     * Checks the generation options the way the library will (its {@code GenerationConfig} builder), so
     * that an out-of-range value ({@code --min-p 2}) is a usage error, exit 2, before the model loads.
     */
    void checkGenerationOptions() {
        try {
            sampling.config();
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /**
     * Loads the model with the library's default precision.
     *
     * @param err where the tiny-random banner and download progress go
     */
    Phi3Vision openModel(PrintWriter err) {
        return modelArgs.open(err, null);
    }

    /** Applies the sampling options, crop budget and system message (again after a {@code /reset}). */
    void configure(Session session) {
        session.config(sampling.config());
        if (numCrops != null) {
            session.numCrops(numCrops);
        }
        if (system != null) {
            session.system(system);
        }
    }

    /** Configures the session and attaches the {@code --image} images to its next question. */
    void start(Session session) {
        configure(session);
        for (String image : images) {
            Models.addImage(session, image);
        }
    }
}
