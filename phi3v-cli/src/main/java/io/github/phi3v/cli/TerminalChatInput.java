package io.github.phi3v.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

import org.jline.reader.EndOfFileException;
import org.jline.reader.History;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;

/**
 * Chat input on a terminal, through JLine: a {@code > } prompt, Emacs-style line editing, the arrow keys
 * through the history, which is kept in a file across chats. Ctrl-C discards the line being typed, Ctrl-D
 * on an empty line ends the chat.
 */
final class TerminalChatInput implements ChatInput {

    private static final String PROMPT = "> ";

    private final Terminal terminal;
    private final LineReader reader;

    /**
     * Reads from {@code terminal}, with the history in {@code historyFile}.
     *
     * @param terminal the terminal; closed by {@link #close()}
     * @param historyFile where the history is loaded from and appended to
     */
    TerminalChatInput(Terminal terminal, Path historyFile) {
        this.terminal = terminal;
        this.reader = LineReaderBuilder.builder().terminal(terminal).appName("phi3v")
                .variable(LineReader.HISTORY_FILE, historyFile)
                // questions are prose: '!' must not trigger csh-style history expansion
                .option(LineReader.Option.DISABLE_EVENT_EXPANSION, true)
                .build();
    }

    /** On this process's terminal (JLine's exec provider: {@code stty}, no native library needed). */
    static TerminalChatInput onSystemTerminal(Path historyFile) throws IOException {
        return new TerminalChatInput(TerminalBuilder.builder().system(true).name("phi3v").build(), historyFile);
    }

    @Override
    public String readLine() {
        while (true) {
            try {
                return reader.readLine(PROMPT);
            } catch (UserInterruptException e) {
                // Ctrl-C: drop what was typed and ask again, like a shell
            } catch (EndOfFileException e) {
                return null;
            }
        }
    }

    /** The lines entered so far (and loaded from the history file), oldest first. */
    History history() {
        return reader.getHistory();
    }

    @Override
    public void close() {
        try (Terminal t = terminal) {
            reader.getHistory().save();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the chat history: " + e.getMessage(), e);
        }
    }
}
