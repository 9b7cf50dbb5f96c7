package io.github.phi3v.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.jline.reader.History;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The two inputs of {@code phi3v chat}: plain lines when standard input is not a terminal (pipes, files,
 * tests), and JLine line editing with a history file on a terminal, here a JLine terminal emulated on
 * in-memory streams (an xterm, keys sent as the bytes a real one sends).
 */
class ChatInputTest {

    /** The up arrow as an xterm sends it once JLine switched it to keypad mode (terminfo kcuu1). */
    private static final String UP = "\u001bOA";
    private static final String CTRL_D = "\u0004";

    @TempDir
    Path tmp;

    @Test
    void anInputThatIsNotTheConsoleIsReadAsPlainLines() throws IOException {
        Path history = tmp.resolve("history");
        byte[] text = "what is shown?\n  /image a.png \n\nlast line without newline".getBytes(StandardCharsets.UTF_8);
        try (ChatInput in = ChatInput.open(new ByteArrayInputStream(text), history)) {
            assertInstanceOf(PlainChatInput.class, in);
            assertEquals(List.of("what is shown?", "  /image a.png ", "", "last line without newline"), readAll(in));
        }
        assertFalse(Files.exists(history), "no history is written for piped input");
    }

    @Test
    void onATerminalLinesAreEditedAndTheHistoryIsKeptInItsFile() throws IOException {
        Path history = tmp.resolve("history");
        // backspace edits the line, the up arrow recalls it, Ctrl-D ends (Ctrl-C is a signal whose timing an
        // emulated terminal does not reproduce: not tested here)
        String keys = "What is shown?!x\u007f\n" + UP + "\n" + "second\n" + CTRL_D;
        List<String> lines;
        try (TerminalChatInput in = new TerminalChatInput(xterm(keys), history)) {
            lines = readAll(in);
        }
        assertEquals(List.of("What is shown?!", "What is shown?!", "second"), lines,
                "'!' is literal (no history expansion), the edit and the recall worked");
        assertEquals(List.of("What is shown?!", "second"), entries(history), "saved, a repeated line once");

        // a new chat starts with that history: the up arrow brings back the last question
        try (TerminalChatInput in = new TerminalChatInput(xterm(UP + "\n" + CTRL_D), history)) {
            assertEquals(List.of("second"), readAll(in));
        }
    }

    private static Terminal xterm(String keys) throws IOException {
        return TerminalBuilder.builder().system(false).type("xterm")
                .streams(new ByteArrayInputStream(keys.getBytes(StandardCharsets.UTF_8)), new ByteArrayOutputStream())
                .build();
    }

    private static List<String> readAll(ChatInput in) throws IOException {
        List<String> lines = new ArrayList<>();
        for (String l = in.readLine(); l != null; l = in.readLine()) {
            lines.add(l);
        }
        assertNull(in.readLine(), "end of input stays the end");
        return lines;
    }

    /** The history file's lines, as a new reader on it loads them. */
    private static List<String> entries(Path historyFile) throws IOException {
        try (TerminalChatInput in = new TerminalChatInput(xterm(CTRL_D), historyFile)) {
            assertNull(in.readLine());   // the reader loads its history file when it first reads
            List<String> out = new ArrayList<>();
            for (History.Entry e : in.history()) {
                out.add(e.line());
            }
            return out;
        }
    }
}
