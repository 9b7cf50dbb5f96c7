package io.github.phi3v.core.model;

import java.util.List;

/**
 * The checkpoint does not fit the configuration: lists, together, every tensor the model needs that is
 * missing, every tensor it does not know, and every tensor whose shape differs from the config.
 */
public final class WeightMismatchException extends RuntimeException {

    private static final long serialVersionUID = 1L;
    private static final int MAX_LISTED = 20;

    private final transient List<String> missing;
    private final transient List<String> unexpected;
    private final transient List<String> wrongShape;

    /**
     * Creates the exception.
     *
     * @param source the checkpoint location
     * @param missing names required by the config but absent
     * @param unexpected names present but unknown
     * @param wrongShape "name: expected [..], found [..]" entries
     */
    public WeightMismatchException(String source, List<String> missing, List<String> unexpected,
            List<String> wrongShape) {
        super(message(source, missing, unexpected, wrongShape));
        this.missing = List.copyOf(missing);
        this.unexpected = List.copyOf(unexpected);
        this.wrongShape = List.copyOf(wrongShape);
    }

    /**
     * Names the config requires that the checkpoint lacks.
     *
     * @return an unmodifiable list, possibly empty
     */
    public List<String> missing() {
        return missing;
    }

    /**
     * Names in the checkpoint that this architecture does not have.
     *
     * @return an unmodifiable list, possibly empty
     */
    public List<String> unexpected() {
        return unexpected;
    }

    /**
     * Tensors whose stored shape differs from the config, as "name: expected .., found ..".
     *
     * @return an unmodifiable list, possibly empty
     */
    public List<String> wrongShape() {
        return wrongShape;
    }

    private static String message(String source, List<String> missing, List<String> unexpected,
            List<String> wrongShape) {
        StringBuilder sb = new StringBuilder("checkpoint ").append(source)
                .append(" does not match config.json: ");
        append(sb, "missing", missing);
        append(sb, "unexpected", unexpected);
        append(sb, "wrong shape", wrongShape);
        sb.append(" (is config.json from the same model as the weights?)");
        return sb.toString();
    }

    private static void append(StringBuilder sb, String what, List<String> items) {
        sb.append(items.size()).append(' ').append(what);
        if (!items.isEmpty()) {
            sb.append(' ').append(items.size() > MAX_LISTED ? items.subList(0, MAX_LISTED) + " ..." : items);
        }
        sb.append("; ");
    }
}
