package io.github.phi3v.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;
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
    SessionArgs sessionArgs;

    @Mixin
    VerboseOption verbose;

    @Option(names = "--stats", description = "Print token counts and timings to stderr after the answer.")
    boolean stats;

    @Parameters(paramLabel = "QUESTION", arity = "1..*", description = "The question (several words are joined).")
    List<String> question;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        sessionArgs.checkImages();     // fail before loading the model
        try (Phi3Vision phi = sessionArgs.openModel(err);
             Session session = phi.session()) {
            sessionArgs.start(session);
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
