package io.github.phi3v.cli;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * Where {@code phi3v chat} reads the user's lines: a terminal with line editing and history
 * ({@link TerminalChatInput}, JLine) when standard input is the console, otherwise plain lines
 * ({@link PlainChatInput}), so pipes, files and tests read exactly what they are given.
 */
interface ChatInput extends Closeable {

    /**
     * The next line the user entered.
     *
     * @return the line without its line terminator, or null at the end of input
     * @throws IOException if the input cannot be read
     */
    String readLine() throws IOException;

    /**
     * Chooses the input for a chat reading {@code in}.
     *
     * @param in the command's standard input
     * @param history the history file of the terminal input
     * @return a terminal input if {@code in} is this process's standard input and that is a terminal, else a
     *     plain one
     * @throws IOException if the terminal cannot be opened
     */
    static ChatInput open(InputStream in, Path history) throws IOException {
        // System.console() is null unless both stdin and stdout are a terminal (Java 17-21).
        if (in == System.in && System.console() != null) {
            return TerminalChatInput.onSystemTerminal(history);
        }
        return new PlainChatInput(in);
    }
}
