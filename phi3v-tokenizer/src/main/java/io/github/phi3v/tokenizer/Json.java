package io.github.phi3v.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

/** Field accessors that fail with a message naming the file and the field. */
final class Json {

    private Json() {
    }

    static JsonNode required(JsonNode node, String name, String file, String parent) {
        JsonNode value = node == null ? null : node.get(name);
        if (value == null || value.isNull()) {
            throw new TokenizerLoadException(file + ": missing field " + path(parent, name));
        }
        return value;
    }

    static String text(JsonNode node, String name, String file, String parent) {
        JsonNode value = required(node, name, file, parent);
        if (!value.isTextual()) {
            throw new TokenizerLoadException(file + ": field " + path(parent, name) + " must be a string, found "
                    + value.getNodeType().toString().toLowerCase() + " " + abbreviate(value));
        }
        return value.asText();
    }

    static JsonNode array(JsonNode node, String name, String file, String parent) {
        JsonNode value = required(node, name, file, parent);
        if (!value.isArray()) {
            throw new TokenizerLoadException(file + ": field " + path(parent, name) + " must be an array, found "
                    + value.getNodeType().toString().toLowerCase());
        }
        return value;
    }

    static int integer(JsonNode node, String name, String file, String parent) {
        JsonNode value = required(node, name, file, parent);
        if (!value.canConvertToInt() || !value.isIntegralNumber()) {
            throw new TokenizerLoadException(file + ": field " + path(parent, name)
                    + " must be an integer, found " + abbreviate(value));
        }
        return value.asInt();
    }

    static boolean bool(JsonNode node, String name, boolean fallback, String file, String parent) {
        JsonNode value = node == null ? null : node.get(name);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isBoolean()) {
            throw new TokenizerLoadException(file + ": field " + path(parent, name) + " must be true or false, found "
                    + abbreviate(value));
        }
        return value.asBoolean();
    }

    /** {@code pattern: {"String": "..."}} of Replace normalizers/decoders (Regex patterns are refused). */
    static String stringPattern(JsonNode node, String file, String parent) {
        JsonNode pattern = required(node, "pattern", file, parent);
        JsonNode s = pattern.get("String");
        if (s == null || !s.isTextual()) {
            throw new TokenizerLoadException(file + ": field " + path(parent, "pattern")
                    + " must be {\"String\": ...}; found " + abbreviate(pattern)
                    + " (Regex patterns are not supported)");
        }
        return s.asText();
    }

    static String path(String parent, String name) {
        return parent == null || parent.isEmpty() ? name : parent + "." + name;
    }

    static String abbreviate(JsonNode value) {
        String s = value.toString();
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
}
