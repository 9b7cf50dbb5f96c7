package io.github.phi3v.spark;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The example {@code spark-submit} job: reads every image of a folder (Spark's {@code binaryFile} source,
 * any Hadoop file system: local, HDFS, S3, ...), asks Phi-3-Vision the same question about each and writes
 * Parquet with the columns {@code path}, {@code modificationTime}, {@code length}, {@code answer},
 * {@code prompt_tokens}, {@code completion_tokens}, {@code finish_reason} and {@code error}. See
 * docs/spark.md for the {@code spark-submit} lines (local mode and cluster).
 *
 * <pre>
 * spark-submit --master 'local[2]' --class io.github.phi3v.spark.ImageCaptionJob \
 *   phi3v-spark-VERSION-job.jar --input ./images --output ./captions.parquet --model tiny-random
 * </pre>
 */
public final class ImageCaptionJob {

    static final String USAGE = """
            Usage: ImageCaptionJob --input DIR --output DIR [options]
              --input DIR            folder of images (read recursively; any Hadoop file system)
              --output DIR           Parquet output folder (must not exist)
              --model ID|DIR|tiny-random   hub id, model folder on every executor, or the tiny random model
                                     (default microsoft/Phi-3-vision-128k-instruct)
              --prompt TEXT          question asked about every image (default "%s")
              --max-new-tokens N     longest answer in tokens (default 256)
              --num-crops N          crop budget per image (default: the model's, 16 for Phi-3-Vision)
              --dtype NAME           float32, bfloat16, ... (default: the library's for the CPU)
              --batch N              rows decoded together per executor (default 8)
              --threads N            libtorch threads per executor (default: the executor's cores)
              --hf-home DIR          HF_HOME of the executors for hub ids (shared storage: one download)
              --partitions N         repartition the images into N partitions (default: as read)
              --glob PATTERN         file name filter (default *.{png,jpg,jpeg,gif,bmp,webp,PNG,JPG,JPEG})
            """.formatted(Phi3VisionTransformer.DEFAULT_PROMPT);

    private static final System.Logger LOG = System.getLogger(ImageCaptionJob.class.getName());

    private ImageCaptionJob() {
    }

    /**
     * Runs the job in the session {@code spark-submit} configured.
     *
     * @param args the options ({@link #USAGE})
     * @throws IllegalArgumentException for a missing or malformed option (the message holds the usage)
     */
    public static void main(String[] args) {
        Options options = Options.parse(args);
        SparkSession spark = SparkSession.builder().appName("phi3v-image-captions").getOrCreate();
        try {
            Summary s = run(spark, options);
            // the job's result line: through System.Logger like all library output (JUL shows INFO on stderr
            // by default; Spark's logging configuration decides where it goes)
            LOG.log(System.Logger.Level.INFO, s.toString());
        } finally {
            spark.stop();
        }
    }

    /**
     * Captions the images and writes the Parquet output.
     *
     * @param spark the session
     * @param options the options
     * @return counts and timing, read back from the written output
     */
    static Summary run(SparkSession spark, Options options) {
        long start = System.nanoTime();
        Dataset<Row> images = spark.read().format("binaryFile").option("pathGlobFilter", options.glob())
                .option("recursiveFileLookup", "true").load(options.input());
        if (options.partitions() > 0) {
            images = images.repartition(options.partitions());
        }
        Phi3VisionTransformer captions = new Phi3VisionTransformer().setModel(options.spec())
                .setPrompt(options.prompt()).setMaxNewTokens(options.maxNewTokens()).setNumCrops(options.numCrops());
        captions.transform(images).drop("content").write().parquet(options.output());
        double seconds = (System.nanoTime() - start) / 1e9;

        Row counts = spark.read().parquet(options.output())
                .selectExpr("count(*)", "count(error)", "coalesce(sum(completion_tokens), 0)").first();
        return new Summary(counts.getLong(0), counts.getLong(1), counts.getLong(2), seconds);
    }

    /**
     * What a run did.
     *
     * @param images rows written (one per image)
     * @param errors rows with an error instead of an answer
     * @param completionTokens generated tokens over all rows
     * @param seconds wall time of reading, answering and writing
     */
    record Summary(long images, long errors, long completionTokens, double seconds) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "ImageCaptionJob: %d images (%d errors), %d tokens generated, %.1f s,"
                    + " %.2f images/s, %.1f tokens/s", images, errors, completionTokens, seconds, images / seconds,
                    completionTokens / seconds);
        }
    }

    /**
     * The job's options.
     *
     * @param input the image folder
     * @param output the Parquet folder
     * @param spec the model
     * @param prompt the question
     * @param maxNewTokens the longest answer
     * @param numCrops the crop budget, 0 for the model's
     * @param partitions the partition count, 0 to keep the input's
     * @param glob the file name filter
     */
    record Options(String input, String output, ModelSpec spec, String prompt, int maxNewTokens, int numCrops,
            int partitions, String glob) {

        static Options parse(String[] args) {
            Map<String, String> values = new LinkedHashMap<>();
            List<String> known = List.of("--input", "--output", "--model", "--prompt", "--max-new-tokens",
                    "--num-crops", "--dtype", "--batch", "--threads", "--hf-home", "--partitions", "--glob");
            for (int i = 0; i < args.length; i++) {
                if (!known.contains(args[i])) {
                    throw new IllegalArgumentException("unknown option '" + args[i] + "'\n" + USAGE);
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("option " + args[i] + " needs a value\n" + USAGE);
                }
                values.put(args[i], args[++i]);
            }
            List<String> missing = new ArrayList<>();
            for (String required : List.of("--input", "--output")) {
                if (!values.containsKey(required)) {
                    missing.add(required);
                }
            }
            if (!missing.isEmpty()) {
                throw new IllegalArgumentException("missing " + String.join(" and ", missing) + "\n" + USAGE);
            }
            ModelSpec spec = ModelSpec.of(values.getOrDefault("--model", "microsoft/Phi-3-vision-128k-instruct"))
                    .withMaxBatchSize(number(values, "--batch", 8, 1))
                    .withThreads(number(values, "--threads", 0, 1));
            if (values.containsKey("--dtype")) {
                spec = spec.withDtype(values.get("--dtype"));
            }
            if (values.containsKey("--hf-home")) {
                spec = spec.withHfHome(values.get("--hf-home"));
            }
            return new Options(values.get("--input"), values.get("--output"), spec,
                    values.getOrDefault("--prompt", Phi3VisionTransformer.DEFAULT_PROMPT),
                    number(values, "--max-new-tokens", 256, 1), number(values, "--num-crops", 0, 1),
                    number(values, "--partitions", 0, 1),
                    values.getOrDefault("--glob", "*.{png,jpg,jpeg,gif,bmp,webp,PNG,JPG,JPEG}"));
        }

        private static int number(Map<String, String> values, String option, int absent, int min) {
            String v = values.get(option);
            if (v == null) {
                return absent;
            }
            try {
                int n = Integer.parseInt(v);
                if (n >= min) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(option + " must be a whole number >= " + min + ", got '" + v + "'\n"
                    + USAGE);
        }
    }
}
