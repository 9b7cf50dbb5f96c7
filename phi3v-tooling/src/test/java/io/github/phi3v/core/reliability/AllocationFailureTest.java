package io.github.phi3v.core.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.ImageEmbeddings;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.model.QuantizedCheckpoint;
import io.github.phi3v.core.model.WeightMismatchException;
import io.github.phi3v.core.runtime.AllocationFaults;
import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.core.runtime.TorchRuntime;
import io.github.phi3v.core.weights.DType;
import io.github.phi3v.core.weights.InvalidCheckpointException;
import io.github.phi3v.testsupport.SharedData;
import io.github.phi3v.tooling.random.RandomModel;

/**
 * (In phi3v-tooling because its load tests use the random models built there; it runs against core's test
 * fixture {@code AllocationFaults} from the phi3v-core test jar.)
 *
 * <p>Native memory on failure paths: for each operation that allocates several native objects (KV cache,
 * model load in float32 / bf16 / int8 / int4 and of pre-quantized folders, image encode), every single one
 * of its allocations is made to fail
 * in turn ({@link AllocationFaults}); each time the operation must throw that fault (or wrap it), JavaCPP's
 * counters ({@link Pointer#totalCount()}, {@link Pointer#totalBytes()}) must be exactly back at their
 * baseline, and whatever survived (the model) must still give the same results as before.
 */
class AllocationFailureTest {

    /** Prompt fed to check that a model or cache still works: a few text ids (below the small vocabulary). */
    private static final int[] IDS = {1, 450, 996, 17, 701, 432};
    /** Vocabulary of the random models the load tests use. */
    private static final int SMALL_VOCAB = 1024;
    /** KV cache capacity above original_max_position_embeddings (64): the long rotary table is allocated too. */
    private static final int CAPACITY = 100;

    private static int threads;

    @TempDir
    static Path tmp;
    private static Path randomF32;
    private static Path randomBf16;
    private static Path preQuantizedInt8;
    private static Path preQuantizedInt4;

    /**
     * One libtorch thread while this class runs (restored after): the operations here are tiny, and on a
     * loaded 2-core machine every parallel region waits for the OS to schedule the other worker (measured:
     * one tiny-model image encode 610 ms with 2 threads, 43 ms with one, under load averages of 12-18).
     * What is tested, the JavaCPP-level allocations, does not depend on the thread count.
     */
    @BeforeAll
    static void oneThread() {
        threads = TorchRuntime.threads();
        TorchRuntime.setThreads(1);
    }

    /**
     * The load tests use random models of the tiny architecture with a 1024-token vocabulary instead of
     * 32064: the same tensors, modules and allocations, but 0.6 MB of weights instead of 17, so that
     * several hundred loads (one per allocation) stay within seconds.
     */
    @BeforeAll
    static void randomModels() throws IOException {
        Phi3VConfig t = RandomModel.tinyConfig();
        Phi3VConfig small = new Phi3VConfig(SMALL_VOCAB, t.hiddenSize(), t.intermediateSize(), t.numHiddenLayers(),
                t.numAttentionHeads(), t.numKeyValueHeads(), t.rmsNormEps(), t.ropeTheta(), t.maxPositionEmbeddings(),
                t.originalMaxPositionEmbeddings(), t.ropeScaling(), t.slidingWindow(), t.bosTokenId(), 2, 0,
                t.tieWordEmbeddings(), t.torchDtype(), t.imageEmbedding());
        randomF32 = RandomModel.builder(small).build(tmp.resolve("f32"));
        randomBf16 = RandomModel.builder(small).dtype(DType.BF16).build(tmp.resolve("bf16"));
        preQuantizedInt8 = tmp.resolve("bf16-int8");
        QuantizedCheckpoint.write(randomBf16, preQuantizedInt8, Quantization.INT8);
        preQuantizedInt4 = tmp.resolve("bf16-int4");
        QuantizedCheckpoint.write(randomBf16, preQuantizedInt4, Quantization.INT4);
    }

    @AfterAll
    static void restoreThreads() {
        TorchRuntime.setThreads(threads);
    }

    private static Path f32() {
        return SharedData.tinyA().resolve("model-f32");
    }

    private static float[] logits(Phi3VModel model) {
        try (KvCache cache = model.newKvCache(CAPACITY)) {
            return model.forward(IDS, List.of(), cache, 0);
        }
    }

    /** JavaCPP's live native objects and their bytes, a snapshot. */
    private record Counters(long count, long bytes) {
        static Counters now() {
            return new Counters(Pointer.totalCount(), Pointer.totalBytes());
        }
    }

    /**
     * Fails allocation k = 1..n of {@code op} in turn and checks the fault surfaced and the counters are back
     * at baseline each time; then checks {@code afterwards} (the surviving objects still work).
     *
     * @return n, the number of native allocations of one successful {@code op}
     */
    private static int failEveryAllocation(String what, Runnable op, int minimum, Runnable afterwards) {
        op.run();   // warm: lazily created objects (e.g. thread-local state) are made once, outside the count
        int n = AllocationFaults.count(op);
        assertTrue(n >= minimum, what + ": expected at least " + minimum + " native allocations, found " + n);
        long t0 = System.nanoTime();
        for (int k = 1; k <= n; k++) {
            Counters before = Counters.now();
            AllocationFaults.Run run = AllocationFaults.failAt(k, op);
            Counters after = Counters.now();
            assertTrue(run.failedWithInjectedFault(), what + ": allocation " + k + " of " + n + " failed, but the "
                    + "operation " + (run.thrown() == null ? "completed" : "threw something else: " + run.thrown()));
            assertEquals(before, after, what + ": JavaCPP counters after failing allocation " + k + " of " + n
                    + " (" + run.injected().getMessage() + ")");
            afterwards.run();
        }
        // One more than it makes: nothing fails, so the count is exact and the operation is deterministic.
        AllocationFaults.Run clean = AllocationFaults.failAt(n + 1, op);
        assertNull(clean.thrown(), what + ": failing allocation " + (n + 1) + " must not be reached");
        assertEquals(n, clean.allocations(), what + ": allocations of a second successful run");
        System.out.printf("[reliability] %s: %d native allocations, each failed once: %.1f s%n", what, n,
                (System.nanoTime() - t0) / 1e9);
        return n;
    }

    @ParameterizedTest
    @EnumSource(value = Precision.class, names = {"FLOAT32", "BFLOAT16"})
    void kvCacheFreesWhatItMadeWhenAnAllocationFails(Precision precision) {
        try (Phi3VModel model = golden(precision)) {
            float[] expected = logits(model);
            Counters base = Counters.now();
            failEveryAllocation("newKvCache(" + CAPACITY + ") " + precision, () -> model.newKvCache(CAPACITY).close(),
                    10, () -> assertArrayEquals(expected, logits(model), "the model after a failed newKvCache"));
            assertEquals(base, Counters.now());
        }
    }

    /**
     * A forward that crosses a span of the cache's layout moves the heads ({@code KvCache} lays each layer out
     * in spans of 64 positions): failing each of its allocations leaves nothing behind, and the cache still
     * answers correctly afterwards, with its 60 cached positions intact (70 when only the logits failed) or
     * emptied (the layout's documented reaction to a failed move), never with half-moved heads.
     */
    @Test
    void aForwardThatMovesTheCachesHeadsFailsCleanlyAndTheCacheStillAnswers() {
        int[] ids = new int[70];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 1 + (i * 37) % 1000;
        }
        int[] prompt = Arrays.copyOf(ids, 60);
        int[] next = Arrays.copyOfRange(ids, 60, 70);
        try (Phi3VModel model = golden(Precision.FLOAT32)) {
            float[] incremental;
            float[] full;
            try (KvCache cache = model.newKvCache(CAPACITY)) {
                model.forward(prompt, List.of(), cache, 0);
                incremental = model.forward(next, List.of(), cache, 60);
            }
            try (KvCache cache = model.newKvCache(CAPACITY)) {
                full = model.forward(ids, List.of(), cache, 0);
            }
            Counters base = Counters.now();
            int n;
            try (KvCache cache = model.newKvCache(CAPACITY)) {
                model.forward(prompt, List.of(), cache, 0);
                n = AllocationFaults.count(() -> model.forward(next, List.of(), cache, 60));
            }
            assertTrue(n >= 10, "allocations of a forward that moves the heads: " + n);
            int emptied = 0;
            for (int k = 1; k <= n; k++) {
                try (KvCache cache = model.newKvCache(CAPACITY)) {
                    model.forward(prompt, List.of(), cache, 0);
                    AllocationFaults.Run run = AllocationFaults.failAt(k, () -> model.forward(next, List.of(), cache, 60));
                    assertTrue(run.failedWithInjectedFault(), "allocation " + k + " of " + n + ": " + run.thrown());
                    if (cache.length() == 0) {
                        emptied++;
                        assertArrayEquals(full, model.forward(ids, List.of(), cache, 0), "emptied cache, allocation " + k);
                    } else {
                        if (cache.length() == 70) {
                            cache.truncate(60);     // failed after every layer had written: the prefix is checked
                        }
                        assertEquals(60, cache.length(), "allocation " + k);
                        assertArrayEquals(incremental, model.forward(next, List.of(), cache, 60), "allocation " + k);
                    }
                }
            }
            assertEquals(base, Counters.now());
            System.out.printf("[reliability] forward moving the KV heads: %d native allocations, each failed once; "
                    + "%d failures emptied the cache, %d kept its 60 positions%n", n, emptied, n - emptied);
            assertTrue(emptied > 0 && emptied < n, "the failures hit both the move and the layers");
        }
    }

    /** bf16 also covers CLIP's float32 attention on 16-bit weights (the casts around it allocate too). */
    @ParameterizedTest
    @EnumSource(value = Precision.class, names = {"FLOAT32", "BFLOAT16"})
    void imageEncodeFreesWhatItMadeWhenAnAllocationFails(Precision precision) {
        // One sub-crop at num_crops 1: the global crop and the sub-crop go through CLIP, the HD transform and
        // the projection. The pixel values are arbitrary: only their determinism matters here.
        float[] px = new float[2 * 3 * 336 * 336];
        SplittableRandom r = new SplittableRandom(14);
        for (int i = 0; i < px.length; i++) {
            px[i] = (float) r.nextGaussian();
        }
        try (Phi3VModel model = golden(precision)) {
            float[] expected;
            try (ImageEmbeddings e = model.encodeImage(px, 1, 336, 336)) {
                expected = e.toFloatArray();
            }
            Counters base = Counters.now();
            failEveryAllocation("encodeImage(1 crop) " + precision, () -> model.encodeImage(px, 1, 336, 336).close(),
                    50, () -> {
                        try (ImageEmbeddings e = model.encodeImage(px, 1, 336, 336)) {
                            assertArrayEquals(expected, e.toFloatArray(), "the model after a failed encodeImage");
                        }
                    });
            assertEquals(base, Counters.now());
        }
    }

    /** The golden tiny-a checkpoint of that precision (model-f32 or model-bf16), computed in it. */
    private static Phi3VModel golden(Precision precision) {
        Path dir = SharedData.tinyA().resolve(precision == Precision.FLOAT32 ? "model-f32" : "model-bf16");
        return Phi3VModel.load(dir, ModelOptions.defaults().withPrecision(precision));
    }

    @Test
    void loadFreesWhatItMadeWhenAnAllocationFailsFloat32() {
        loadFailures("load float32", randomF32, ModelOptions.defaults().withPrecision(Precision.FLOAT32));
    }

    @Test
    void loadFreesWhatItMadeWhenAnAllocationFailsBf16() {
        loadFailures("load bf16", randomBf16, ModelOptions.defaults().withPrecision(Precision.BFLOAT16));
    }

    @Test
    void loadFreesWhatItMadeWhenAnAllocationFailsWithPackedDecodeWeights() {
        ModelOptions packed = ModelOptions.defaults().withPrecision(Precision.BFLOAT16).withPackedDecodeWeights(true);
        if (!CpuFeatures.oneDnnBf16Packing()) {
            // oneDNN cannot pack bf16 weights on this CPU: the load is refused before its first native object.
            int allocations = AllocationFaults.count(() -> assertThrows(IllegalStateException.class,
                    () -> Phi3VModel.load(randomBf16, packed)));
            assertEquals(0, allocations, "native objects made before the CPU refusal");
            return;
        }
        loadFailures("load bf16 packed", randomBf16, packed);
    }

    @Test
    void loadFreesWhatItMadeWhenAnAllocationFailsInt8() {
        loadFailures("load int8", randomBf16, ModelOptions.defaults().withPrecision(Precision.BFLOAT16)
                .withQuantization(Quantization.INT8));
    }

    @Test
    void loadFreesWhatItMadeWhenAnAllocationFailsInt4() {
        loadFailures("load int4", randomBf16, ModelOptions.defaults().withPrecision(Precision.BFLOAT16)
                .withQuantization(Quantization.INT4));
    }

    /** A pre-quantized folder: its stored int8 / int4 tensors are read and packed, not quantized. */
    @ParameterizedTest
    @EnumSource(value = Quantization.class, names = {"INT8", "INT4"})
    void loadFreesWhatItMadeWhenAnAllocationFailsPreQuantized(Quantization q) {
        loadFailures("load pre-quantized " + q, q == Quantization.INT8 ? preQuantizedInt8 : preQuantizedInt4,
                ModelOptions.defaults().withPrecision(Precision.BFLOAT16));
    }

    /**
     * {@code phi3v quantize}'s writer holds one linear's quantized tensors at a time, outside any scope:
     * int8 with each allocation failing in turn, int4 (the same writer, its quantizer covered by the int4
     * load above) once, successfully.
     */
    @Test
    void writingAPreQuantizedFolderFreesWhatItMade() {
        int[] folders = {0};
        failEveryAllocation("write pre-quantized int8", () -> write(Quantization.INT8, "w-int8-" + folders[0]++), 100,
                () -> { });
        Counters base = Counters.now();
        write(Quantization.INT4, "w-int4");
        assertEquals(base, Counters.now(), "after writing a pre-quantized int4 folder");
    }

    private static void write(Quantization q, String folder) {
        try {
            QuantizedCheckpoint.write(randomBf16, tmp.resolve(folder), q);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A load refused before the first tensor (no checkpoint; a checkpoint that does not fit config.json)
     * leaves nothing behind either: the compute device used to be made before these checks and leaked.
     */
    @Test
    void refusedLoadsLeaveNothingAllocated() throws IOException {
        Path noWeights = Files.createDirectories(tmp.resolve("no-weights"));
        Files.copy(randomF32.resolve("config.json"), noWeights.resolve("config.json"));
        Path mismatch = Files.createDirectories(tmp.resolve("mismatch"));
        Files.copy(randomF32.resolve("config.json"), mismatch.resolve("config.json"));
        Files.copy(f32().resolve("model.safetensors"), mismatch.resolve("model.safetensors"));   // vocab 32064
        ModelOptions options = ModelOptions.defaults().withPrecision(Precision.FLOAT32);
        Phi3VModel.load(randomF32, options).close();   // warm
        Counters base = Counters.now();
        assertThrows(InvalidCheckpointException.class, () -> Phi3VModel.load(noWeights, options));
        assertEquals(base, Counters.now(), "after a load without a checkpoint");
        assertThrows(WeightMismatchException.class, () -> Phi3VModel.load(mismatch, options));
        assertEquals(base, Counters.now(), "after a load of a checkpoint that does not fit config.json");
    }

    private static void loadFailures(String what, Path dir, ModelOptions options) {
        Supplier<Phi3VModel> load = () -> Phi3VModel.load(dir, options);
        float[] expected;
        try (Phi3VModel model = load.get()) {
            expected = logits(model);
        }
        Counters base = Counters.now();
        // Nothing survives a failed load; what must still work is the next load, checked at the end.
        failEveryAllocation(what, () -> load.get().close(), 200, () -> { });
        assertEquals(base, Counters.now());
        try (Phi3VModel model = load.get()) {
            assertArrayEquals(expected, logits(model), what + ": a load after all the failed ones");
        }
    }
}
