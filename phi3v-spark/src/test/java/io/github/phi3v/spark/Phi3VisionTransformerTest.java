package io.github.phi3v.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.testsupport.SharedData;

/**
 * The transformer in Spark local mode ({@code local[2]}) on the golden images with the golden tiny model
 * (float32): every row gets exactly the answer {@link Phi3Vision#chat} gives for its image and prompt,
 * corrupt images get an error while the other rows get their answers, and the model is loaded once per JVM.
 */
class Phi3VisionTransformerTest {

    private static final int MAX_NEW_TOKENS = 8;
    private static final int NUM_CROPS = 1;
    private static final String[] PROMPTS = {"What is shown in this image?", "Describe the colours.",
        "Is there any text?"};

    private static SparkSession spark;
    private static Phi3Vision reference;
    private static ModelSpec spec;
    private static Path images;

    @BeforeAll
    static void start() {
        Path modelDir = SharedData.tinyA().resolve("model-f32");
        images = SharedData.tinyA().resolve("images");
        spec = ModelSpec.of(modelDir.toString()).withDtype("float32").withMaxBatchSize(4);
        reference = Phi3Vision.builder().modelDir(modelDir).dtype("float32").build();
        spark = SparkSession.builder().master("local[2]").appName("Phi3VisionTransformerTest")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
        ExecutorModels.closeAll();
        if (reference != null) {
            reference.close();
        }
    }

    /** The golden images (the PNGs and the JPEG). */
    private static List<Path> goldenImages() throws IOException {
        try (Stream<Path> s = Files.list(images)) {
            List<Path> files = new ArrayList<>(s.filter(p -> p.toString().endsWith(".png") || p.toString().endsWith(".jpg"))
                    .sorted().toList());
            assertTrue(files.size() >= 10, "golden images: " + files);
            return files;
        }
    }

    private static Answer chat(byte[] image, String prompt) {
        return reference.chat(ChatRequest.builder().user(prompt, ImageInput.ofBytes(image))
                .maxNewTokens(MAX_NEW_TOKENS).numCrops(NUM_CROPS).build());
    }

    private static final StructType INPUT = new StructType()
            .add("name", DataTypes.StringType).add("image", DataTypes.BinaryType).add("question", DataTypes.StringType);

    private Phi3VisionTransformer transformer() {
        return new Phi3VisionTransformer().setModel(spec).setImageCol("image").setPromptCol("question")
                .setMaxNewTokens(MAX_NEW_TOKENS).setNumCrops(NUM_CROPS);
    }

    @Test
    void everyRowGetsTheAnswerChatGivesAndCorruptImagesGetAnError() throws IOException {
        List<Row> rows = new ArrayList<>();
        Map<String, Answer> expected = new HashMap<>();
        List<Path> files = goldenImages();
        for (int i = 0; i < files.size(); i++) {
            byte[] bytes = Files.readAllBytes(files.get(i));
            String prompt = PROMPTS[i % PROMPTS.length];
            String name = files.get(i).getFileName().toString();
            rows.add(RowFactory.create(name, bytes, prompt));
            expected.put(name, chat(bytes, prompt));
        }
        byte[] png = Files.readAllBytes(files.get(0));
        rows.add(RowFactory.create("corrupt-truncated.png", Arrays.copyOf(png, 100), PROMPTS[0]));
        rows.add(RowFactory.create("corrupt-text.png", "not an image at all".getBytes(), PROMPTS[1]));

        Dataset<Row> input = spark.createDataFrame(rows, INPUT).repartition(3);
        Dataset<Row> out = transformer().transform(input);

        assertEquals(List.of("name", "image", "question", "answer", "prompt_tokens", "completion_tokens",
                "finish_reason", "error"), Arrays.asList(out.schema().fieldNames()));
        List<Row> result = out.drop("image").collectAsList();
        assertEquals(rows.size(), result.size());
        int answered = 0;
        int failed = 0;
        for (Row r : result) {
            String name = r.getString(0);
            if (name.startsWith("corrupt")) {
                assertNull(r.get(2), name);
                assertNull(r.get(3), name);
                assertNull(r.get(5), name);
                String error = r.getString(6);
                assertNotNull(error, name);
                assertTrue(error.startsWith("ImageProcessingException"), name + ": " + error);
                failed++;
            } else {
                Answer a = expected.get(name);
                assertEquals(a.text(), r.getString(2), name);
                assertEquals(a.usage().promptTokens(), r.getInt(3), name);
                assertEquals(a.usage().generatedTokens(), r.getInt(4), name);
                assertEquals(a.finishReason().name(), r.getString(5), name);
                assertNull(r.get(6), name);
                assertTrue(r.getString(2).length() > 0, name);
                answered++;
            }
        }
        assertEquals(files.size(), answered);
        assertEquals(2, failed);
    }

    @Test
    void binaryFileSourceWithOnePromptForEveryRow() throws IOException {
        String prompt = "Describe this image in one word.";
        Dataset<Row> files = spark.read().format("binaryFile").option("pathGlobFilter", "a0[1-4]*.png")
                .load(images.toString());
        List<Row> result = new Phi3VisionTransformer().setModel(spec).setPrompt(prompt).setOutputCol("caption")
                .setMaxNewTokens(MAX_NEW_TOKENS).setNumCrops(NUM_CROPS).transform(files)
                .select("path", "caption", "error").collectAsList();
        assertEquals(4, result.size());
        for (Row r : result) {
            Path file = Path.of(java.net.URI.create(r.getString(0)));
            assertNull(r.get(2), file.toString());
            assertEquals(chat(Files.readAllBytes(file), prompt).text(), r.getString(1), file.toString());
        }
    }

    @Test
    void pathColumnWithAMissingFile() throws IOException {
        List<Path> files = goldenImages().subList(0, 3);
        List<Row> rows = new ArrayList<>();
        for (Path f : files) {
            rows.add(RowFactory.create(f.toString()));
        }
        rows.add(RowFactory.create(images.resolve("no-such-image.png").toUri().toString()));
        StructType schema = new StructType().add("url", DataTypes.StringType);
        List<Row> result = new Phi3VisionTransformer().setModel(spec).setImageCol("url").setPrompt(PROMPTS[0])
                .setMaxNewTokens(MAX_NEW_TOKENS).setNumCrops(NUM_CROPS)
                .transform(spark.createDataFrame(rows, schema)).collectAsList();
        assertEquals(4, result.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(chat(Files.readAllBytes(files.get(i)), PROMPTS[0]).text(), result.get(i).getString(1));
            assertNull(result.get(i).get(5));
        }
        assertNull(result.get(3).get(1));
        assertTrue(result.get(3).getString(5).contains("no-such-image.png"), result.get(3).getString(5));
    }

    @Test
    void theModelIsLoadedOncePerJvmHoweverManyPartitionsRun() throws IOException {
        ExecutorModels.closeAll();
        int before = ExecutorModels.loadCount();
        List<Row> rows = new ArrayList<>();
        byte[] image = Files.readAllBytes(images.resolve("a06_tiny_40x30.png"));
        for (int i = 0; i < 16; i++) {
            rows.add(RowFactory.create("row" + i, image, PROMPTS[i % PROMPTS.length]));
        }
        Dataset<Row> input = spark.createDataFrame(rows, INPUT).repartition(8);
        assertEquals(8, input.rdd().getNumPartitions());
        Map<String, String> expected = new HashMap<>();
        for (String prompt : PROMPTS) {
            expected.put(prompt, chat(image, prompt).text());
        }

        List<Row> result = transformer().transform(input).select("question", "answer", "error").collectAsList();
        assertEquals(16, result.size());
        for (Row r : result) {
            assertNull(r.get(2));
            assertEquals(expected.get(r.getString(0)), r.getString(1));
        }
        assertEquals(before + 1, ExecutorModels.loadCount(), "8 partitions on 2 task threads load one model");

        // A second job reuses it.
        assertEquals(16, transformer().transform(input).filter("answer IS NOT NULL").count());
        assertEquals(before + 1, ExecutorModels.loadCount());
    }

    @Test
    void badSettingsAreRefusedBeforeAnyTaskRuns() {
        StructType schema = new StructType().add("id", DataTypes.LongType).add("question", DataTypes.StringType);
        IllegalStateException noModel = assertThrows(IllegalStateException.class,
                () -> new Phi3VisionTransformer().transformSchema(INPUT));
        assertTrue(noModel.getMessage().contains("setModel"), noModel.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> new Phi3VisionTransformer().setModel(spec).transformSchema(schema));
        assertTrue(missing.getMessage().contains("imageCol 'content'"), missing.getMessage());
        IllegalArgumentException wrongType = assertThrows(IllegalArgumentException.class,
                () -> new Phi3VisionTransformer().setModel(spec).setImageCol("id").transformSchema(schema));
        assertTrue(wrongType.getMessage().contains("expected binary"), wrongType.getMessage());
        IllegalArgumentException clash = assertThrows(IllegalArgumentException.class,
                () -> transformer().setOutputCol("question").transformSchema(INPUT));
        assertTrue(clash.getMessage().contains("'question'"), clash.getMessage());
        assertThrows(IllegalArgumentException.class, () -> transformer().setMaxNewTokens(0));
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.of(" "));
        Phi3VisionTransformer copy = transformer().copy(new org.apache.spark.ml.param.ParamMap());
        assertEquals("question", copy.getOrDefault(copy.promptCol()));
    }
}
