package io.github.phi3v.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.FinishReason;
import io.github.phi3v.tokenizer.Message;
import io.github.phi3v.tooling.Models;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code phi3v chat}: an interactive multi-turn conversation on stdin/stdout. Lines are questions (edited
 * with history on a terminal, see {@link ChatInput}); {@code /image PATH} attaches an image to the next
 * question, {@code /system TEXT} sets the system message, {@code /save FILE} writes the conversation,
 * {@code /reset} starts over, {@code /exit} (or end of input) quits. The session keeps its KV cache and
 * image embeddings between turns.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Interactive multi-turn chat. Type a question per line (on a terminal: line editing, and the "
                + "arrow keys through the history in ~/.phi3v_history); /image PATH adds an image to the next "
                + "question, /system TEXT sets the system message, /save FILE writes the conversation as JSON, "
                + "/reset clears the conversation, /help lists commands, /exit or Ctrl-D quits.")
final class ChatCommand implements Callable<Integer> {

    /** The history of the questions typed on a terminal, kept across chats. */
    static final Path HISTORY = Path.of(System.getProperty("user.home"), ".phi3v_history");

    @ParentCommand
    Phi3vCli parent;

    @Spec
    CommandSpec spec;

    @Mixin
    SessionArgs sessionArgs;

    @Mixin
    VerboseOption verbose;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        sessionArgs.checkImages();
        sessionArgs.checkGenerationOptions();
        try (Phi3Vision phi = sessionArgs.openModel(err);
             Session session = phi.session();
             ChatInput in = ChatInput.open(parent.in, HISTORY)) {
            sessionArgs.start(session);
            err.println("chat with " + sessionArgs.modelArgs.model + ": /image PATH adds an image, /system, /save FILE,"
                    + " /reset, /exit (/help)");
            err.flush();
            while (true) {
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit") || line.strip().equals("/quit")) {
                    break;
                }
                line = line.strip();
                if (line.isEmpty()) {
                    continue;
                }
                if (line.startsWith("/")) {
                    command(line, session, err);
                    continue;
                }
                try {
                    Answer a = session.stream(line, piece -> {
                        out.print(piece);
                        out.flush();
                    });
                    out.println();
                    out.flush();
                    if (a.finishReason() != FinishReason.STOP) {
                        err.println("[" + a.finishReason().name().toLowerCase() + " after "
                                + a.usage().generatedTokens() + " tokens]");
                    }
                } catch (RuntimeException e) {
                    // a failed turn leaves the conversation unchanged: report it and keep chatting
                    err.println("error: " + Phi3vCli.oneLine(e));
                }
                err.flush();
            }
        }
        return 0;
    }

    /** The conversation as a JSON array of {"role", "content"} objects, as the chat template sees it. */
    static void save(Session session, Path file) {
        List<Map<String, String>> messages = new ArrayList<>();
        for (Message m : session.history()) {
            messages.add(Map.of("role", m.role(), "content", m.content()));
        }
        try {
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(file.toFile(), messages);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private void command(String line, Session session, PrintWriter err) {
        String[] parts = line.split("\\s+", 2);
        String arg = parts.length > 1 ? parts[1].strip() : "";
        try {
            switch (parts[0]) {
                case "/image" -> {
                    if (arg.isEmpty()) {
                        err.println("usage: /image PATH|URL");
                    } else {
                        Models.addImage(session, arg);
                        err.println("[image " + session.imageCount() + " added: " + arg + "]");
                    }
                }
                case "/reset" -> {
                    session.clear();
                    sessionArgs.configure(session);
                    err.println("[conversation cleared]");
                }
                case "/system" -> {
                    session.system(arg.isEmpty() ? null : arg);
                    err.println(arg.isEmpty() ? "[system message removed]" : "[system message set]");
                }
                case "/save" -> {
                    if (arg.isEmpty()) {
                        err.println("usage: /save FILE");
                    } else {
                        save(session, Path.of(arg));
                        err.println("[" + session.history().size() + " messages saved to " + arg + "]");
                    }
                }
                case "/help" -> err.println("/image PATH|URL  add an image to the next question\n"
                        + "/system TEXT     set the system message (/system alone removes it)\n"
                        + "/save FILE       write the conversation as JSON (role, content with image tags)\n"
                        + "/reset           start a new conversation\n/exit            quit");
                default -> err.println("unknown command " + parts[0] + " (try /help)");
            }
        } catch (RuntimeException e) {
            err.println("error: " + Phi3vCli.oneLine(e));
        }
        err.flush();
    }
}
