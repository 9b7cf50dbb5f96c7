package io.github.phi3v.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/** Chat input from a pipe or a file: UTF-8 lines, no prompt, no editing. */
final class PlainChatInput implements ChatInput {

    private final BufferedReader reader;

    PlainChatInput(InputStream in) {
        this.reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    }

    @Override
    public String readLine() throws IOException {
        return reader.readLine();
    }

    /** Leaves the stream open: it is the command's standard input, owned by the caller. */
    @Override
    public void close() {
    }
}
