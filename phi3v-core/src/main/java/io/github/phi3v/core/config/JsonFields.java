package io.github.phi3v.core.config;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Typed, validated access to one JSON object of a config file. Every failure becomes an
 * {@link InvalidConfigException} "source: path.field: expected X, found Y", so the record factories
 * read like a list of fields with their rules.
 */
final class JsonFields {

    private final String source;
    private final String prefix;
    private final JsonNode node;

    JsonFields(String source, String prefix, JsonNode node) {
        this.source = source;
        this.prefix = prefix;
        this.node = node;
    }

    String source() {
        return source;
    }

    /** The full dotted name of a field of this object, e.g. {@code rope_scaling.type}. */
    String path(String field) {
        return prefix.isEmpty() ? field : prefix + "." + field;
    }

    InvalidConfigException error(String field, String expected, Object found) {
        return new InvalidConfigException(source + ": " + path(field) + ": expected " + expected + ", found "
                + found);
    }

    boolean has(String field) {
        JsonNode v = node.get(field);
        return v != null && !v.isNull();
    }

    JsonNode raw(String field) {
        return node.get(field);
    }

    /** A nested object, or null when the field is absent or JSON null. */
    JsonFields objectOrNull(String field) {
        if (!has(field)) {
            return null;
        }
        JsonNode v = node.get(field);
        if (!v.isObject()) {
            throw error(field, "a JSON object", describe(v));
        }
        return new JsonFields(source, path(field), v);
    }

    int requiredInt(String field) {
        if (!has(field)) {
            throw error(field, "an integer", "no value");
        }
        return toInt(field, node.get(field));
    }

    int optionalInt(String field, int defaultValue) {
        return has(field) ? toInt(field, node.get(field)) : defaultValue;
    }

    Integer nullableInt(String field) {
        return has(field) ? toInt(field, node.get(field)) : null;
    }

    int positiveInt(String field) {
        int v = requiredInt(field);
        if (v <= 0) {
            throw error(field, "a positive integer", v);
        }
        return v;
    }

    int positiveInt(String field, int defaultValue) {
        int v = optionalInt(field, defaultValue);
        if (v <= 0) {
            throw error(field, "a positive integer", v);
        }
        return v;
    }

    int toInt(String field, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw error(field, "an integer", describe(v));
        }
        return v.intValue();
    }

    double positiveDouble(String field, double defaultValue) {
        if (!has(field)) {
            return defaultValue;
        }
        double v = toDouble(field, node.get(field));
        if (!(v > 0) || Double.isInfinite(v)) {
            throw error(field, "a positive finite number", v);
        }
        return v;
    }

    double toDouble(String field, JsonNode v) {
        if (!v.isNumber()) {
            throw error(field, "a number", describe(v));
        }
        return v.doubleValue();
    }

    boolean optionalBoolean(String field, boolean defaultValue) {
        if (!has(field)) {
            return defaultValue;
        }
        JsonNode v = node.get(field);
        if (!v.isBoolean()) {
            throw error(field, "true or false", describe(v));
        }
        return v.booleanValue();
    }

    String optionalString(String field, String defaultValue) {
        if (!has(field)) {
            return defaultValue;
        }
        JsonNode v = node.get(field);
        if (!v.isTextual()) {
            throw error(field, "a string", describe(v));
        }
        return v.textValue();
    }

    /** A string that must be one of {@code allowed} (compared exactly). */
    String oneOf(String field, String defaultValue, String... allowed) {
        String v = optionalString(field, defaultValue);
        if (v == null) {
            throw error(field, "one of " + quoted(allowed), "no value");
        }
        for (String a : allowed) {
            if (a.equals(v)) {
                return v;
            }
        }
        throw error(field, "one of " + quoted(allowed), "\"" + v + "\"");
    }

    static String quoted(String... values) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < values.length; i++) {
            if (i > 0) {
                sb.append(i == values.length - 1 ? " or " : ", ");
            }
            sb.append('"').append(values[i]).append('"');
        }
        return sb.toString();
    }

    /** A short, bounded rendering of a JSON value for error messages. */
    static String describe(JsonNode v) {
        if (v == null || v.isMissingNode()) {
            return "no value";
        }
        String s = v.toString();
        String kind = v.isTextual() ? "string " : v.isArray() ? "array " : v.isObject() ? "object " : "";
        return kind + (s.length() > 80 ? s.substring(0, 77) + "..." : s);
    }
}
