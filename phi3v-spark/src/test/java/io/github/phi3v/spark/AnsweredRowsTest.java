package io.github.phi3v.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.testsupport.SharedData;

/**
 * A partition's rows outside Spark: in input order, each with the answer {@link Phi3Vision#chat} gives, also
 * when the model's request limit is below the task's window (the rows wait for a place instead of failing).
 */
class AnsweredRowsTest {

    @Test
    void rowsWaitForAPlaceWhenTheModelIsFullAndComeOutInOrder() throws Exception {
        Path modelDir = SharedData.tinyA().resolve("model-f32");
        String[] files = {"a01_rgb_500x300.png", "a02_rgb_336x336.png", "a06_tiny_40x30.png", "a07_gray_L_640x480.png",
            "a10_rgb_42x19.png", "a08_rgba_420x260.png"};
        List<Row> rows = new ArrayList<>();
        for (String f : files) {
            rows.add(RowFactory.create(f, Files.readAllBytes(SharedData.tinyA().resolve("images/" + f))));
        }
        // A window of 4 rows against a model that takes 2 requests at a time.
        PartitionAnswerer settings = new PartitionAnswerer(ModelSpec.of(modelDir.toString()).withMaxBatchSize(4), 1,
                ImageColumn.BYTES, -1, "What is in the image?", 6, 1);
        try (Phi3Vision model = Phi3Vision.builder().modelDir(modelDir).dtype("float32").maxConcurrentRequests(2)
                .build()) {
            List<String> expected = new ArrayList<>();
            for (Row row : rows) {
                expected.add(model.chat(ChatRequest.builder()
                        .user("What is in the image?", ImageInput.ofBytes((byte[]) row.get(1)))
                        .maxNewTokens(6).numCrops(1).build()).text());
            }
            Iterator<Row> out = new AnsweredRows(settings, model, rows.iterator());
            for (int i = 0; i < rows.size(); i++) {
                assertTrue(out.hasNext());
                Row r = out.next();
                assertEquals(files[i], r.getString(0));
                assertNull(r.get(6), files[i]);
                assertEquals(expected.get(i), r.getString(2), files[i]);
                assertEquals(7, r.size());
            }
            assertFalse(out.hasNext());
            assertThrows(NoSuchElementException.class, out::next);
        }
    }
}
