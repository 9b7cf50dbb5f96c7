package io.github.phi3v.tokenizer;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The {@code decoder} of {@code tokenizer.json}, restricted to the shape Llama/Phi-3 tokenizers use:
 * {@code Sequence[Replace*, ByteFallback?, Fuse?, Strip?]} (each optional, in this order; Strip only
 * after Fuse and only at the start). That is what makes a streaming decoder exact: per-token text, byte
 * runs joined and UTF-8-decoded, all concatenated, then up to {@code stripStart} leading
 * {@code stripChar}s removed from the whole string.
 */
record DecoderSpec(List<String[]> replacements, boolean byteFallback, int stripChar, int stripStart) {

    static DecoderSpec parse(JsonNode node, String file) {
        if (node == null || node.isNull()) {
            throw new TokenizerLoadException(file + ": field decoder is null; this implementation needs a decoder"
                    + " (HF would join the tokens with spaces)");
        }
        List<JsonNode> steps = new ArrayList<>();
        String type = Json.text(node, "type", file, "decoder");
        if (type.equals("Sequence")) {
            JsonNode list = Json.array(node, "decoders", file, "decoder");
            list.forEach(steps::add);
        } else {
            steps.add(node);
        }
        List<String[]> replacements = new ArrayList<>();
        boolean byteFallback = false;
        boolean fuse = false;
        int stripChar = -1;
        int stripStart = 0;
        int stage = 0; // 0 replace, 1 byte fallback, 2 fuse, 3 strip: must not go backwards
        for (int i = 0; i < steps.size(); i++) {
            JsonNode step = steps.get(i);
            String field = "decoder.decoders[" + i + "]";
            String t = Json.text(step, "type", file, field);
            int want;
            switch (t) {
                case "Replace" -> {
                    want = 0;
                    replacements.add(new String[] {Json.stringPattern(step, file, field),
                            Json.text(step, "content", file, field)});
                }
                case "ByteFallback" -> {
                    want = 1;
                    byteFallback = true;
                }
                case "Fuse" -> {
                    want = 2;
                    fuse = true;
                }
                case "Strip" -> {
                    want = 3;
                    if (!fuse) {
                        throw unsupported(file, "Strip without a preceding Fuse (it would strip every token)");
                    }
                    String content = Json.text(step, "content", file, field);
                    if (content.codePointCount(0, content.length()) != 1) {
                        throw new TokenizerLoadException(file + ": field " + field
                                + ".content must be one character, found \"" + content + "\"");
                    }
                    if (Json.integer(step, "stop", file, field) != 0) {
                        throw unsupported(file, "Strip with stop > 0 (trailing strip)");
                    }
                    stripChar = content.codePointAt(0);
                    stripStart = Json.integer(step, "start", file, field);
                }
                default -> throw unsupported(file, "decoder type \"" + t + "\" at " + field);
            }
            if (want < stage || (want == stage && want != 0)) {
                throw unsupported(file, "decoder order; expected Sequence[Replace*, ByteFallback, Fuse, Strip],"
                        + " found " + t + " at " + field);
            }
            stage = want;
        }
        return new DecoderSpec(List.copyOf(replacements), byteFallback, stripChar, stripStart);
    }

    private static TokenizerLoadException unsupported(String file, String what) {
        return new TokenizerLoadException(file + ": unsupported " + what
                + "; supported: Sequence[Replace(String)*, ByteFallback, Fuse, Strip(start only)]");
    }

    /** The token text after the Replace steps. */
    String replace(String token) {
        String s = token;
        for (String[] r : replacements) {
            if (!r[0].isEmpty()) {
                s = s.replace(r[0], r[1]);
            }
        }
        return s;
    }

    /**
     * HF ByteFallback's test: a token of exactly 6 UTF-8 bytes {@code <0xHH>} whose two middle characters
     * parse as a {@code u8} in base 16 (Rust's {@code from_str_radix}, which also accepts {@code +H}).
     *
     * @return the byte value, or -1
     */
    static int byteValue(String token) {
        if (token.length() != 6 || !token.startsWith("<0x") || token.charAt(5) != '>') {
            return -1; // the 6 bytes of a match are all ASCII, hence also 6 UTF-16 units
        }
        char a = token.charAt(3);
        char b = token.charAt(4);
        int hb = Character.digit(b, 16);
        if (b > 0x7F || hb < 0) {
            return -1;
        }
        if (a == '+') {
            return hb;
        }
        int ha = Character.digit(a, 16);
        if (a > 0x7F || ha < 0) {
            return -1;
        }
        return ha * 16 + hb;
    }
}
