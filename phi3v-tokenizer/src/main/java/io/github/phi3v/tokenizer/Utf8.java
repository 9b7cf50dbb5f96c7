package io.github.phi3v.tokenizer;

/** UTF-8 helpers with Rust's strictness ({@code String::from_utf8}: no overlongs, no surrogates). */
final class Utf8 {

    private Utf8() {
    }

    /** Number of UTF-8 bytes of a code point. */
    static int length(int cp) {
        return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }

    /** Writes the UTF-8 bytes (0..255) of a code point into {@code out} at {@code at}; returns the count. */
    static int encode(int cp, int[] out, int at) {
        if (cp < 0x80) {
            out[at] = cp;
            return 1;
        }
        if (cp < 0x800) {
            out[at] = 0xC0 | (cp >>> 6);
            out[at + 1] = 0x80 | (cp & 0x3F);
            return 2;
        }
        if (cp < 0x10000) {
            out[at] = 0xE0 | (cp >>> 12);
            out[at + 1] = 0x80 | ((cp >>> 6) & 0x3F);
            out[at + 2] = 0x80 | (cp & 0x3F);
            return 3;
        }
        out[at] = 0xF0 | (cp >>> 18);
        out[at + 1] = 0x80 | ((cp >>> 12) & 0x3F);
        out[at + 2] = 0x80 | ((cp >>> 6) & 0x3F);
        out[at + 3] = 0x80 | (cp & 0x3F);
        return 4;
    }

    /**
     * Decodes {@code bytes[0..len)} if the whole run is well-formed UTF-8 (Unicode Table 3-7), else
     * returns {@code null}.
     */
    static String decodeStrict(byte[] bytes, int len) {
        StringBuilder sb = new StringBuilder(len);
        int i = 0;
        while (i < len) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                sb.append((char) b0);
                i++;
                continue;
            }
            int need;
            int cp;
            int lo = 0x80;
            int hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1;
                cp = b0 & 0x1F;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                cp = b0 & 0x0F;
                if (b0 == 0xE0) {
                    lo = 0xA0;
                } else if (b0 == 0xED) {
                    hi = 0x9F;
                }
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                cp = b0 & 0x07;
                if (b0 == 0xF0) {
                    lo = 0x90;
                } else if (b0 == 0xF4) {
                    hi = 0x8F;
                }
            } else {
                return null;
            }
            if (i + need >= len) { // truncated sequence
                return null;
            }
            for (int k = 1; k <= need; k++) {
                int b = bytes[i + k] & 0xFF;
                if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
                    return null;
                }
                cp = (cp << 6) | (b & 0x3F);
            }
            sb.appendCodePoint(cp);
            i += need + 1;
        }
        return sb.toString();
    }
}
