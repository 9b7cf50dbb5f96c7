package io.github.phi3v.spark;

import java.util.Collections;
import java.util.Iterator;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;

/**
 * The work of {@link Phi3VisionTransformer} on one partition, as Spark ships it to the executors: the
 * settings only (a few strings and numbers); the model is the executor's ({@link ExecutorModels}).
 *
 * @param spec which model
 * @param imageIndex the image column's position in the input rows
 * @param imageColumn how that column holds images
 * @param promptIndex the prompt column's position, or -1 to use {@code prompt} for every row
 * @param prompt the prompt of every row when there is no prompt column
 * @param maxNewTokens the most tokens per answer
 * @param numCrops the crop budget per image, or 0 for the model's
 */
record PartitionAnswerer(ModelSpec spec, int imageIndex, ImageColumn imageColumn, int promptIndex, String prompt,
        int maxNewTokens, int numCrops) implements MapPartitionsFunction<Row, Row> {

    private static final long serialVersionUID = 1L;

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        if (!rows.hasNext()) {
            return Collections.emptyIterator();   // an empty partition loads no model
        }
        return new AnsweredRows(this, ExecutorModels.get(spec), rows);
    }
}
