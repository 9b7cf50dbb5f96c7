package io.github.phi3v.spark;

import java.util.Arrays;
import java.util.Objects;

import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import io.github.phi3v.core.generate.GenerationConfig;

/**
 * A Spark ML {@link Transformer} that asks Phi-3-Vision about the image of every row and adds the answer:
 * columns {@code answer} (the name is {@link #setOutputCol}), {@code prompt_tokens},
 * {@code completion_tokens}, {@code finish_reason} and {@code error}. A row whose image cannot be read
 * (corrupt, missing, too large) or whose prompt does not fit gets no answer and the reason in
 * {@code error}; the job goes on.
 *
 * <pre>{@code
 * Dataset<Row> images = spark.read().format("binaryFile").load("s3a://bucket/photos/");
 * Dataset<Row> answers = new Phi3VisionTransformer()
 *         .setModel(ModelSpec.of("microsoft/Phi-3-vision-128k-instruct").withHfHome("/mnt/shared/hf"))
 *         .setImageCol("content")            // binary image bytes, or a string column of paths/URLs
 *         .setPrompt("Describe this product photo in one sentence.")
 *         .setMaxNewTokens(64)
 *         .transform(images)
 *         .drop("content");
 * }</pre>
 *
 * <p>Each executor JVM loads the model once ({@link ExecutorModels}), with the executor's cores as libtorch
 * threads, and its tasks share it; the rows of a partition are submitted to the model's continuous batching
 * ({@link io.github.phi3v.core.Phi3Vision#submit}) up to {@link ModelSpec#maxBatchSize()} at a time, so
 * they are decoded together. Greedy answers equal what {@link io.github.phi3v.core.Phi3Vision#chat} gives
 * for the same image and prompt. Give each executor one task slot per core it can spare, and few large
 * partitions rather than many small ones.
 *
 * <p>Parameters: {@code imageCol} (default {@code content}, the column of Spark's {@code binaryFile}
 * source), {@code promptCol} or {@code prompt} (default {@value #DEFAULT_PROMPT}), {@code outputCol}
 * (default {@code answer}), {@code maxNewTokens} (default {@value GenerationConfig#DEFAULT_MAX_NEW_TOKENS}),
 * {@code numCrops} (default 0 = the model's processor setting), {@code model} (required).
 */
public final class Phi3VisionTransformer extends Transformer {

    private static final long serialVersionUID = 1L;

    /** The prompt of every row when neither {@link #setPrompt} nor {@link #setPromptCol} is set. */
    public static final String DEFAULT_PROMPT = "Describe this image.";

    private final String uid;
    private final Param<String> imageCol;
    private final Param<String> promptCol;
    private final Param<String> prompt;
    private final Param<String> outputCol;
    private final IntParam maxNewTokens;
    private final IntParam numCrops;
    private final Param<ModelSpec> model;

    /** A transformer with a random uid. */
    public Phi3VisionTransformer() {
        this(Identifiable$.MODULE$.randomUID("phi3vision"));
    }

    /**
     * A transformer with the given uid (Spark ML's copy and persistence use this constructor).
     *
     * @param uid the uid
     */
    public Phi3VisionTransformer(String uid) {
        this.uid = Objects.requireNonNull(uid, "uid");
        imageCol = new Param<>(this, "imageCol", "column of the images: binary (encoded bytes) or string (path/URL)");
        promptCol = new Param<>(this, "promptCol", "string column of each row's prompt (overrides prompt)");
        prompt = new Param<>(this, "prompt", "prompt of every row when promptCol is not set");
        outputCol = new Param<>(this, "outputCol", "name of the answer column");
        maxNewTokens = new IntParam(this, "maxNewTokens", "most tokens per answer (>= 1)");
        numCrops = new IntParam(this, "numCrops", "crop budget per image (>= 1), 0 for the model's setting");
        model = new Param<>(this, "model", "the model (ModelSpec)");
        setDefault(imageCol, "content");
        setDefault(prompt, DEFAULT_PROMPT);
        setDefault(outputCol, "answer");
        setDefault(maxNewTokens, GenerationConfig.DEFAULT_MAX_NEW_TOKENS);
        setDefault(numCrops, 0);
    }

    @Override
    public String uid() {
        return uid;
    }

    /** @return the image column parameter */
    public Param<String> imageCol() {
        return imageCol;
    }

    /** @return the prompt column parameter */
    public Param<String> promptCol() {
        return promptCol;
    }

    /** @return the fixed prompt parameter */
    public Param<String> prompt() {
        return prompt;
    }

    /** @return the answer column parameter */
    public Param<String> outputCol() {
        return outputCol;
    }

    /** @return the answer length parameter */
    public IntParam maxNewTokens() {
        return maxNewTokens;
    }

    /** @return the crop budget parameter */
    public IntParam numCrops() {
        return numCrops;
    }

    /** @return the model parameter */
    public Param<ModelSpec> model() {
        return model;
    }

    /**
     * Sets the image column: binary (encoded image bytes) or string (a path, {@code file:}/{@code http(s)} URL
     * or {@code data:} URI).
     *
     * @param column the column name
     * @return this
     */
    public Phi3VisionTransformer setImageCol(String column) {
        set(imageCol, Objects.requireNonNull(column, "column"));
        return this;
    }

    /**
     * Takes each row's prompt from a string column (instead of {@link #setPrompt}).
     *
     * @param column the column name
     * @return this
     */
    public Phi3VisionTransformer setPromptCol(String column) {
        set(promptCol, Objects.requireNonNull(column, "column"));
        return this;
    }

    /**
     * Sets the prompt of every row (used when no prompt column is set).
     *
     * @param text the question about the image
     * @return this
     */
    public Phi3VisionTransformer setPrompt(String text) {
        set(prompt, Objects.requireNonNull(text, "text"));
        return this;
    }

    /**
     * Sets the name of the answer column.
     *
     * @param column the name
     * @return this
     */
    public Phi3VisionTransformer setOutputCol(String column) {
        set(outputCol, Objects.requireNonNull(column, "column"));
        return this;
    }

    /**
     * Sets the most tokens per answer.
     *
     * @param n at least 1
     * @return this
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public Phi3VisionTransformer setMaxNewTokens(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + n);
        }
        set(maxNewTokens, n);
        return this;
    }

    /**
     * Sets the crop budget of every image (more crops: finer detail, more tokens).
     *
     * @param n at least 1, or 0 for the model's processor setting
     * @return this
     * @throws IllegalArgumentException if {@code n < 0}
     */
    public Phi3VisionTransformer setNumCrops(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("numCrops must be >= 1, or 0 for the model's setting, got " + n);
        }
        set(numCrops, n);
        return this;
    }

    /**
     * Sets the model each executor loads.
     *
     * @param spec the model
     * @return this
     */
    public Phi3VisionTransformer setModel(ModelSpec spec) {
        set(model, Objects.requireNonNull(spec, "spec"));
        return this;
    }

    /**
     * Sets the model each executor loads, with the default options ({@link ModelSpec#of(String)}).
     *
     * @param idOrPath a hub id, a model folder or {@code tiny-random}
     * @return this
     */
    public Phi3VisionTransformer setModel(String idOrPath) {
        return setModel(ModelSpec.of(idOrPath));
    }

    @Override
    public StructType transformSchema(StructType schema) {
        if (!isDefined(model)) {
            throw new IllegalStateException("no model: call setModel(\"microsoft/Phi-3-vision-128k-instruct\"), a "
                    + "model folder, or setModel(ModelSpec)");
        }
        String image = getOrDefault(imageCol);
        ImageColumn.of(image, schema.apply(requireColumn(schema, image, "imageCol")).dataType());
        if (isDefined(promptCol)) {
            String column = getOrDefault(promptCol);
            if (!schema.apply(requireColumn(schema, column, "promptCol")).dataType().equals(DataTypes.StringType)) {
                throw new IllegalArgumentException("prompt column '" + column + "' must be a string column");
            }
        }
        return AnswerColumns.addTo(schema, getOrDefault(outputCol));
    }

    private static String requireColumn(StructType schema, String column, String param) {
        if (!Arrays.asList(schema.fieldNames()).contains(column)) {
            throw new IllegalArgumentException(param + " '" + column + "' is not a column of the input; its columns are "
                    + Arrays.toString(schema.fieldNames()));
        }
        return column;
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType input = dataset.schema();
        StructType output = transformSchema(input);
        String image = getOrDefault(imageCol);
        PartitionAnswerer answerer = new PartitionAnswerer(getOrDefault(model), input.fieldIndex(image),
                ImageColumn.of(image, input.apply(image).dataType()),
                isDefined(promptCol) ? input.fieldIndex(getOrDefault(promptCol)) : -1, getOrDefault(prompt),
                (Integer) getOrDefault(maxNewTokens), (Integer) getOrDefault(numCrops));
        return dataset.toDF().mapPartitions(answerer, Encoders.row(output));
    }

    @Override
    public Phi3VisionTransformer copy(ParamMap extra) {
        return (Phi3VisionTransformer) defaultCopy(extra);
    }
}
