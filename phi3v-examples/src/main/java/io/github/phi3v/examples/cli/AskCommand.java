package io.github.phi3v.examples.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.examples.Models;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code phi3v ask}: one question about zero or more images, the answer streamed to stdout. */
@Command(name = "ask", mixinStandardHelpOptions = true,
        description = "Ask one question about images; the answer is streamed to standard output.",
        footer = {"", "Example:", "  phi3v ask --model microsoft/Phi-3-vision-128k-instruct --image chart.png "
                + "\"Could you please introduce this stock to me?\""})
final class AskCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelArgs modelArgs;

    @Mixin
    SamplingArgs sampling;

    @Mixin
    VerboseOption verbose;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE|URL",
            description = "An image (file or http(s) URL); repeat for several, they become <|image_1|>, <|image_2|>, ...")
    List<String> images = new ArrayList<>();

    @Option(names = "--num-crops", paramLabel = "N",
            description = "Crop budget per image: 16 (Phi-3-vision default, up to 2653 tokens), 4 (up to 781), 1.")
    Integer numCrops;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message.")
    String system;

    @Option(names = "--stats", description = "Print token counts and timings to stderr after the answer.")
    boolean stats;

    @Parameters(paramLabel = "QUESTION", arity = "1..*", description = "The question (several words are joined).")
    List<String> question;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        for (String image : images) {
            if (!Models.isUrl(image)) {
                Models.requireImageFile(image);     // fail before loading the model
            }
        }
        try (Phi3Vision phi = modelArgs.open(err, null);
             Session session = phi.session()) {
            session.config(sampling.config());
            if (numCrops != null) {
                session.numCrops(numCrops);
            }
            if (system != null) {
                session.system(system);
            }
            for (String image : images) {
                Models.addImage(session, image);
            }
            Answer a = session.stream(String.join(" ", question), piece -> {
                out.print(piece);
                out.flush();
            });
            out.println();
            out.flush();
            if (stats) {
                err.println(a.finishReason() + ", " + a.usage());
            }
        }
        return 0;
    }
}
