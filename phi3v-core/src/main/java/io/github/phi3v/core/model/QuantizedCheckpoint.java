package io.github.phi3v.core.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.core.config.InvalidConfigException;
import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.core.weights.DType;
import io.github.phi3v.core.weights.InvalidCheckpointException;
import io.github.phi3v.core.weights.SafetensorsWriter;
import io.github.phi3v.core.weights.TensorInfo;

/**
 * Pre-quantized model folders: {@link #write} turns a model folder into one whose decoder linears are
 * stored int8 or int4 (what {@link Quantization#INT8} / {@link Quantization#INT4} compute at load), and
 * the model loader reads such a folder without quantizing again. Layout ({@code docs/model-loading.md}):
 * <ul>
 *   <li>{@code config.json} gains {@code "quantization_config": {"quant_method": "phi3v", "weights":
 *       "int8"|"int4", "group_size": 32 (int4 only), "modules": [...]}};</li>
 *   <li>int8: {@code <linear>.weight} I8 {@code [out, in]}, {@code <linear>.weight_scale} F32
 *       {@code [out]} ({@code w = q * scale});</li>
 *   <li>int4: {@code <linear>.weight} U8 {@code [out, in / 2]} (column {@code 2j} in the low nibble of
 *       byte {@code j}), {@code <linear>.weight_scale} and {@code <linear>.weight_zero} BF16
 *       {@code [out, in / 32]} ({@code w = (q - 8) * scale + zero});</li>
 *   <li>every other tensor and file unchanged.</li>
 * </ul>
 * Stateless and thread-safe.
 */
public final class QuantizedCheckpoint {

    /** The {@code config.json} key of the quantization description. */
    public static final String CONFIG_KEY = "quantization_config";
    /** {@code quant_method} of folders this class writes. */
    public static final String QUANT_METHOD = "phi3v";
    /** Suffix of the scale tensor's name, appended to the weight's name. */
    public static final String SCALE_SUFFIX = "_scale";
    /** Suffix of the int4 zero tensor's name, appended to the weight's name. */
    public static final String ZERO_SUFFIX = "_zero";

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The decoder layer's linears that quantization applies to (suffixes for {@link WeightNames#decoderLayer}). */
    static final List<String> LINEARS = List.of(WeightNames.QKV_PROJ, WeightNames.O_PROJ,
            WeightNames.GATE_UP_PROJ, WeightNames.DOWN_PROJ);

    private QuantizedCheckpoint() {
    }

    /**
     * The quantization a model folder's {@code config.json} declares in {@value #CONFIG_KEY}.
     *
     * @param modelDir the folder
     * @return {@link Quantization#NONE} if there is no {@value #CONFIG_KEY}
     * @throws InvalidConfigException if {@value #CONFIG_KEY} is present but not one this library wrote
     */
    public static Quantization of(Path modelDir) {
        Path file = modelDir.resolve(Phi3VConfig.FILE_NAME);
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new InvalidConfigException(file + ": cannot read: " + e.getMessage());
        }
        JsonNode q = root == null ? null : root.get(CONFIG_KEY);
        if (q == null || q.isNull()) {
            return Quantization.NONE;
        }
        String method = q.path("quant_method").asText("");
        String weights = q.path("weights").asText("");
        if (!QUANT_METHOD.equals(method) || !(weights.equals("int8") || weights.equals("int4"))) {
            throw new InvalidConfigException(file + ": " + CONFIG_KEY + " " + q + " is not supported: expected "
                    + "quant_method \"" + QUANT_METHOD + "\" with weights \"int8\" or \"int4\" (a folder written by "
                    + "phi3v quantize)");
        }
        if (weights.equals("int4") && q.path("group_size").asInt(-1) != Quantization.INT4_GROUP_SIZE) {
            throw new InvalidConfigException(file + ": " + CONFIG_KEY + ".group_size " + q.get("group_size")
                    + " is not supported: expected " + Quantization.INT4_GROUP_SIZE);
        }
        return Quantization.parse(weights);
    }

    /**
     * The checkpoint names of the decoder linears a quantized folder stores quantized, in layer order.
     *
     * @param cfg the model configuration
     * @return {@code model.layers.<i>.self_attn.qkv_proj.weight}, ... for every layer
     */
    public static List<String> quantizedWeights(Phi3VConfig cfg) {
        List<String> names = new ArrayList<>();
        for (int layer = 0; layer < cfg.numHiddenLayers(); layer++) {
            for (String suffix : LINEARS) {
                names.add(WeightNames.decoderLayer(layer, suffix));
            }
        }
        return names;
    }

    /**
     * Checks a checkpoint against what {@code config.json} and its {@value #CONFIG_KEY} say, the quantized
     * tensors first (dtype, packed length, group count, scale shape), then every other tensor by
     * {@link WeightNames#validate} on the weights' logical {@code [out, in]} shapes.
     *
     * @throws InvalidCheckpointException naming the file and the first malformed quantized tensor
     * @throws WeightMismatchException if the tensors do not fit the config
     */
    static void validate(Phi3VConfig cfg, Checkpoint checkpoint, Quantization q) {
        Map<String, long[]> expected = WeightNames.computed(cfg);
        Set<String> companions = new HashSet<>();
        Map<String, long[]> logical = new LinkedHashMap<>();
        if (q == Quantization.NONE) {
            for (String n : checkpoint.names()) {
                DType t = checkpoint.info(n).dtype();
                if (t == DType.I8 || t == DType.U8) {
                    throw new InvalidCheckpointException(checkpoint.info(n).file(), n, "dtype " + t + " belongs only "
                            + "in a pre-quantized folder, but config.json has no " + CONFIG_KEY);
                }
            }
        } else {
            for (String name : quantizedWeights(cfg)) {
                long[] shape = expected.get(name);
                if (!checkpoint.contains(name)) {
                    continue;                           // reported with all other missing tensors below
                }
                logical.put(name, shape.clone());
                checkQuantized(checkpoint, name, shape, q);
                companions.add(name + SCALE_SUFFIX);
                if (q == Quantization.INT4) {
                    companions.add(name + ZERO_SUFFIX);
                }
            }
        }
        Set<String> names = new HashSet<>(checkpoint.names());
        names.removeAll(companions);
        WeightNames.validate(cfg, names, n -> logical.containsKey(n) ? logical.get(n) : checkpoint.info(n).shape(),
                checkpoint.source().toString());
    }

    private static void checkQuantized(Checkpoint c, String name, long[] shape, Quantization q) {
        long out = shape[0];
        long in = shape[1];
        TensorInfo w = c.info(name);
        if (q == Quantization.INT8) {
            require(w, w.dtype() == DType.I8, "dtype " + w.dtype() + ": an int8 folder stores its decoder linears as I8");
            require(w, Arrays.equals(w.shape(), shape), "shape " + Arrays.toString(w.shape()) + ": expected "
                    + Arrays.toString(shape) + " (one int8 per weight)");
            checkCompanion(c, w, name + SCALE_SUFFIX, new long[] {out}, "one scale per output channel");
        } else {
            require(w, w.dtype() == DType.U8, "dtype " + w.dtype() + ": an int4 folder stores its decoder linears as U8 "
                    + "(two 4-bit weights per byte)");
            require(w, in % Quantization.INT4_GROUP_SIZE == 0, "in-features " + in + " are not a multiple of the group "
                    + "size " + Quantization.INT4_GROUP_SIZE);
            long[] packed = {out, in / 2};
            require(w, Arrays.equals(w.shape(), packed), "packed shape " + Arrays.toString(w.shape()) + ": expected "
                    + Arrays.toString(packed) + " (two 4-bit weights per byte of a [" + out + ", " + in + "] weight)");
            long[] groups = {out, in / Quantization.INT4_GROUP_SIZE};
            String why = "one per output channel and group of " + Quantization.INT4_GROUP_SIZE + " inputs, "
                    + groups[1] + " groups";
            checkCompanion(c, w, name + SCALE_SUFFIX, groups, why);
            checkCompanion(c, w, name + ZERO_SUFFIX, groups, why);
        }
    }

    private static void checkCompanion(Checkpoint c, TensorInfo weight, String name, long[] shape, String why) {
        if (!c.contains(name)) {
            throw new InvalidCheckpointException(weight.file(), name, "missing: the quantized weight '" + weight.name()
                    + "' needs it (" + why + ")");
        }
        TensorInfo t = c.info(name);
        require(t, t.dtype().isFloating(), "dtype " + t.dtype() + ": expected a floating-point type");
        require(t, Arrays.equals(t.shape(), shape), "shape " + Arrays.toString(t.shape()) + ": expected "
                + Arrays.toString(shape) + " (" + why + ")");
    }

    private static void require(TensorInfo t, boolean ok, String problem) {
        if (!ok) {
            throw new InvalidCheckpointException(t.file(), t.name(), problem);
        }
    }

    /**
     * Writes a pre-quantized copy of a model folder: one {@code model.safetensors} with the decoder linears
     * quantized exactly as loading with {@code to} quantizes them, every other tensor unchanged, the other
     * files copied and {@value #CONFIG_KEY} added to {@code config.json}.
     *
     * @param source a model folder (not itself pre-quantized)
     * @param target the folder to write (created; must not contain a {@code config.json} yet)
     * @param to {@link Quantization#INT8} or {@link Quantization#INT4}
     * @throws IOException if reading or writing fails
     * @throws IllegalArgumentException for {@link Quantization#NONE}, a pre-quantized source or an existing target
     * @throws WeightMismatchException if the source's tensors do not fit its config
     */
    public static void write(Path source, Path target, Quantization to) throws IOException {
        Objects.requireNonNull(to, "to");
        if (to == Quantization.NONE) {
            throw new IllegalArgumentException("quantize to int8 or int4, not none");
        }
        if (of(source) != Quantization.NONE) {
            throw new IllegalArgumentException(source + " is already pre-quantized (" + of(source).name()
                    .toLowerCase(Locale.ROOT) + "); quantize the original model folder");
        }
        if (Files.exists(target.resolve(Phi3VConfig.FILE_NAME))) {
            throw new IllegalArgumentException(target + " already holds a model (config.json): choose an empty folder");
        }
        Phi3VConfig cfg = Phi3VConfig.fromDirectory(source);
        TorchRuntime.ensureInitialized();
        try (Checkpoint ckpt = Checkpoint.open(source); PendingLayer pending = new PendingLayer()) {
            validate(cfg, ckpt, Quantization.NONE);
            // The writer asks for a linear's weight first, then its scale (and zero): quantize on the weight.
            writeLayout(source, cfg, ckpt, target, to, (name, part, sink) -> {
                if (part == Part.WEIGHT) {
                    pending.quantize(ckpt, name, to);
                }
                sink.putBytes(pending.get(part.ordinal()));
            });
        }
    }

    /** The stored tensors of one quantized linear, in the order they are written. */
    public enum Part {
        /** {@code <linear>.weight}: int8 {@code [out, in]} or packed int4 {@code [out, in / 2]} (U8). */
        WEIGHT,
        /** {@code <linear>.weight_scale}: F32 {@code [out]} (int8) or BF16 {@code [out, in / 32]} (int4). */
        SCALE,
        /** {@code <linear>.weight_zero}: BF16 {@code [out, in / 32]} (int4 only). */
        ZERO
    }

    /** The elements of a pre-quantized folder's quantized tensors, for {@link #write(Path, Path, Quantization, Values)}. */
    @FunctionalInterface
    public interface Values {

        /**
         * Writes all elements of one stored tensor, in the dtype and shape of {@link Part}'s layout. Called
         * for each linear in checkpoint order, its parts in {@link Part} order.
         *
         * @param weight the checkpoint name of the linear's weight (e.g. {@code model.layers.0.mlp.down_proj.weight})
         * @param part which of its stored tensors
         * @param sink receives the elements
         * @throws IOException if writing fails
         */
        void write(String weight, Part part, SafetensorsWriter.Sink sink) throws IOException;
    }

    /**
     * Writes a folder in the pre-quantized layout with given quantized values instead of quantizing the
     * source's weights: every other tensor and file as {@link #write(Path, Path, Quantization)} writes them.
     * For tools whose weights are meaningless anyway (e.g. random benchmark models, where quantizing
     * billions of random weights would take minutes).
     *
     * @param source an unquantized model folder
     * @param target the folder to write (created)
     * @param to {@link Quantization#INT8} or {@link Quantization#INT4}
     * @param values the quantized tensors' elements
     * @throws IOException if reading or writing fails
     * @throws IllegalArgumentException for {@link Quantization#NONE}
     */
    public static void write(Path source, Path target, Quantization to, Values values) throws IOException {
        Objects.requireNonNull(values, "values");
        if (to == Quantization.NONE) {
            throw new IllegalArgumentException("quantize to int8 or int4, not none");
        }
        Phi3VConfig cfg = Phi3VConfig.fromDirectory(source);
        try (Checkpoint ckpt = Checkpoint.open(source)) {
            writeLayout(source, cfg, ckpt, target, to, values);
        }
    }

    /** The one walk over a checkpoint that writes the pre-quantized layout: tensors, config, other files. */
    private static void writeLayout(Path source, Phi3VConfig cfg, Checkpoint ckpt, Path target, Quantization to,
            Values values) throws IOException {
        Files.createDirectories(target);
        Set<String> quantized = new HashSet<>(quantizedWeights(cfg));
        List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
        for (String name : ckpt.names()) {
            TensorInfo info = ckpt.info(name);
            if (!quantized.contains(name)) {
                tensors.add(SafetensorsWriter.Tensor.ofBytes(name, info.dtype(), info.shape(), ckpt.bytes(name)));
                continue;
            }
            long out = info.dim(0);
            long in = info.dim(1);
            if (to == Quantization.INT8) {
                tensors.add(part(name, Part.WEIGHT, DType.I8, new long[] {out, in}, values));
                tensors.add(part(name, Part.SCALE, DType.F32, new long[] {out}, values));
            } else {
                long[] groups = {out, in / Quantization.INT4_GROUP_SIZE};
                tensors.add(part(name, Part.WEIGHT, DType.U8, new long[] {out, in / 2}, values));
                tensors.add(part(name, Part.SCALE, DType.BF16, groups, values));
                tensors.add(part(name, Part.ZERO, DType.BF16, groups, values));
            }
        }
        SafetensorsWriter.write(target.resolve(Checkpoint.SINGLE_FILE), Map.of("format", "pt"), tensors);
        writeFolderFiles(source, target, to);
    }

    private static SafetensorsWriter.Tensor part(String weight, Part part, DType type, long[] shape, Values values) {
        String name = switch (part) {
            case WEIGHT -> weight;
            case SCALE -> weight + SCALE_SUFFIX;
            case ZERO -> weight + ZERO_SUFFIX;
        };
        return new SafetensorsWriter.Tensor(name, type, shape, sink -> values.write(weight, part, sink));
    }

    /**
     * Writes everything of a pre-quantized folder but its weights: the source's other files (tokenizer,
     * processor config, ...) copied, and its {@code config.json} with {@value #CONFIG_KEY} added.
     */
    private static void writeFolderFiles(Path source, Path target, Quantization to) throws IOException {
        copyOtherFiles(source, target);
        ObjectNode config = (ObjectNode) JSON.readTree(source.resolve(Phi3VConfig.FILE_NAME).toFile());
        ObjectNode q = config.putObject(CONFIG_KEY);
        q.put("quant_method", QUANT_METHOD);
        q.put("weights", to.name().toLowerCase(Locale.ROOT));
        if (to == Quantization.INT4) {
            q.put("group_size", Quantization.INT4_GROUP_SIZE);
        }
        q.putArray("modules").add("qkv_proj").add("o_proj").add("gate_up_proj").add("down_proj");
        JSON.writerWithDefaultPrettyPrinter().writeValue(target.resolve(Phi3VConfig.FILE_NAME).toFile(), config);
    }

    /** Copies every regular file but the weights and config.json (tokenizer, processor config, ...). */
    private static void copyOtherFiles(Path source, Path target) throws IOException {
        try (Stream<Path> files = Files.list(source)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String n = f.getFileName().toString();
                if (Files.isRegularFile(f) && !n.endsWith(".safetensors") && !n.equals(Checkpoint.INDEX_FILE)
                        && !n.equals(Phi3VConfig.FILE_NAME)) {
                    Files.copy(f, target.resolve(n), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    /**
     * The stored tensors of the linear being written: the writer asks for the weight first and then for
     * its scale (and zero); the next weight frees them, so one layer's quantized tensors are alive at a time.
     */
    private static final class PendingLayer implements AutoCloseable {
        private InferenceScope scope;
        private final List<Tensor> tensors = new ArrayList<>();

        PendingLayer quantize(Checkpoint ckpt, String name, Quantization to) {
            close();
            scope = InferenceScope.open();
            Tensor f = ckpt.read(name).to(ScalarType.Float);
            // The stored tensors are handed over outside any scope: close() releases them.
            if (to == Quantization.INT8) {
                Int8Linear.Stored s = Int8Linear.toStored(f, name);
                tensors.addAll(List.of(s.q(), s.scale()));
            } else {
                Int4Linear.Stored s = Int4Linear.quantize(f, name);
                tensors.addAll(List.of(s.nibbles(), s.scale(), s.zero()));
            }
            return this;
        }

        /** The i-th tensor's bytes (contiguous, little-endian as libtorch stores them on x86). */
        ByteBuffer get(int i) {
            Tensor t = tensors.get(i).contiguous();
            long n = t.numel() * t.element_size();
            return new BytePointer(t.data_ptr()).capacity(n).limit(n).asByteBuffer();
        }

        @Override
        public void close() {
            tensors.forEach(Tensor::close);
            tensors.clear();
            if (scope != null) {
                scope.close();
                scope = null;
            }
        }
    }
}
