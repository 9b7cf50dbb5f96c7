package io.github.phi3v.spark;

import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/** The columns {@link Phi3VisionTransformer} adds, after the input's, in this order. */
final class AnswerColumns {

    /** Prompt length in tokens, image tokens included. */
    static final String PROMPT_TOKENS = "prompt_tokens";
    /** Generated tokens. */
    static final String COMPLETION_TOKENS = "completion_tokens";
    /** {@code STOP}, {@code LENGTH} or {@code CANCELLED}. */
    static final String FINISH_REASON = "finish_reason";
    /** Why the row has no answer (exception type and message), else null. */
    static final String ERROR = "error";
    /** How many columns are added. */
    static final int COUNT = 5;

    private AnswerColumns() {
    }

    /**
     * The input schema with the added columns.
     *
     * @param input the input schema
     * @param answerColumn the name of the answer column
     * @return the output schema
     * @throws IllegalArgumentException if the input already has one of the columns
     */
    static StructType addTo(StructType input, String answerColumn) {
        StructType out = input;
        for (StructField f : new StructField[] {
                DataTypes.createStructField(answerColumn, DataTypes.StringType, true),
                DataTypes.createStructField(PROMPT_TOKENS, DataTypes.IntegerType, true),
                DataTypes.createStructField(COMPLETION_TOKENS, DataTypes.IntegerType, true),
                DataTypes.createStructField(FINISH_REASON, DataTypes.StringType, true),
                DataTypes.createStructField(ERROR, DataTypes.StringType, true)}) {
            if (java.util.Arrays.asList(input.fieldNames()).contains(f.name())) {
                throw new IllegalArgumentException("the input already has a column '" + f.name() + "', which "
                        + "the transformer adds; rename or drop it (or choose another output column name)");
            }
            out = out.add(f);
        }
        return out;
    }
}
