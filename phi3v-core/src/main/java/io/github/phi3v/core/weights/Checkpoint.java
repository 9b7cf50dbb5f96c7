package io.github.phi3v.core.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * An open safetensors checkpoint: {@code model.safetensors}, or {@code model.safetensors.index.json}
 * with its shards. {@link #open} validates every header (and the index against the shards) before
 * anything is mapped, so a malformed checkpoint fails with an {@link InvalidCheckpointException} that
 * names the file and tensor, never with a JVM crash.
 *
 * <p>Each tensor's byte range is memory-mapped on its own, on first use (a JDK 17
 * {@link MappedByteBuffer} cannot exceed 2 GiB; the real shards are ~4 GB). The mappings stay
 * referenced by this object until {@link #close()}, and {@link #tensor} wraps them with libtorch's
 * {@code from_blob}: no byte passes through the Java heap. Thread-safe.
 */
public final class Checkpoint implements AutoCloseable {

    /** File name of a single-file checkpoint. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** File name of the index of a sharded checkpoint. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path source;
    private final Map<String, TensorInfo> infos;
    private final Map<Path, FileChannel> channels = new HashMap<>();
    private final Map<String, MappedByteBuffer> mappings = new HashMap<>();
    private final Map<DType, TensorOptions> options = new EnumMap<>(DType.class);
    private boolean closed;

    private Checkpoint(Path source, Map<String, TensorInfo> infos) {
        this.source = source;
        this.infos = Collections.unmodifiableMap(infos);
    }

    /**
     * Opens a checkpoint and validates it completely (headers, byte ranges, index versus shards).
     *
     * @param modelDirOrFile a model folder holding {@code model.safetensors} or
     *     {@code model.safetensors.index.json} + shards (the single file wins when both exist, as in
     *     transformers), or the path of a {@code .safetensors} file or an index file
     * @return the open checkpoint; close it when the tensors are no longer used
     * @throws InvalidCheckpointException if nothing loadable is there or anything is malformed
     */
    public static Checkpoint open(Path modelDirOrFile) {
        if (Files.isDirectory(modelDirOrFile)) {
            Path single = modelDirOrFile.resolve(SINGLE_FILE);
            Path index = modelDirOrFile.resolve(INDEX_FILE);
            if (Files.exists(single)) {
                return openSingle(single);
            }
            if (Files.exists(index)) {
                return openIndex(index);
            }
            throw new InvalidCheckpointException(modelDirOrFile + ": expected " + SINGLE_FILE + " or " + INDEX_FILE
                    + " in the model folder, found neither" + otherWeightsHint(modelDirOrFile));
        }
        if (!Files.exists(modelDirOrFile)) {
            throw new InvalidCheckpointException(modelDirOrFile + ": expected a model folder or a safetensors file, "
                    + "found no such file or directory");
        }
        return modelDirOrFile.getFileName().toString().endsWith(".json") ? openIndex(modelDirOrFile)
                : openSingle(modelDirOrFile);
    }

    private static String otherWeightsHint(Path dir) {
        if (Files.exists(dir.resolve("pytorch_model.bin")) || Files.exists(dir.resolve("pytorch_model.bin.index.json"))) {
            return " (pytorch_model.bin pickles are not supported: convert them to safetensors)";
        }
        return "";
    }

    private static Checkpoint openSingle(Path file) {
        return new Checkpoint(file, new LinkedHashMap<>(SafetensorsFile.read(file).tensors()));
    }

    private static Checkpoint openIndex(Path indexFile) {
        return new Checkpoint(indexFile, ShardIndex.read(indexFile));
    }

    /**
     * The file this checkpoint was opened from.
     *
     * @return the single safetensors file or the index file
     */
    public Path source() {
        return source;
    }

    /**
     * All tensor names.
     *
     * @return an unmodifiable set in file (or index) order
     */
    public Set<String> names() {
        return infos.keySet();
    }

    /**
     * Whether a tensor exists.
     *
     * @param name a checkpoint tensor name
     * @return true if the checkpoint has it
     */
    public boolean contains(String name) {
        return infos.containsKey(name);
    }

    /**
     * The location, dtype and shape of a tensor.
     *
     * @param name a checkpoint tensor name
     * @return its validated description
     * @throws InvalidCheckpointException if the checkpoint has no such tensor (the message lists the
     *     closest names)
     */
    public TensorInfo info(String name) {
        TensorInfo t = infos.get(name);
        if (t == null) {
            throw new InvalidCheckpointException(source + ": tensor '" + name + "': expected in the checkpoint, "
                    + "found no such tensor among its " + infos.size() + " tensors" + closest(name));
        }
        return t;
    }

    /**
     * Total bytes of all tensors.
     *
     * @return the sum of the tensors' data sizes in bytes (headers excluded)
     */
    public long totalBytes() {
        long n = 0;
        for (TensorInfo t : infos.values()) {
            n += t.byteLength();
        }
        return n;
    }

    /**
     * A read-only little-endian view of a tensor's bytes (memory-mapped, no copy). Valid until
     * {@link #close()}.
     *
     * @param name a checkpoint tensor name
     * @return a buffer of exactly {@code info(name).byteLength()} bytes, position 0
     * @throws InvalidCheckpointException if there is no such tensor
     * @throws IllegalStateException if the checkpoint is closed
     */
    public ByteBuffer bytes(String name) {
        return mapping(info(name)).duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * A libtorch CPU tensor over the mapped bytes of a checkpoint tensor, in its stored dtype and shape,
     * made with {@code from_blob}: no copy, and the pages are read-only. Calls
     * {@link TorchRuntime#ensureInitialized()}.
     *
     * <p>The tensor is valid until {@link #close()} of this checkpoint and must not be written to (a
     * write to a read-only page kills the process). Convert it ({@code to(dtype)}, {@code clone()}) for
     * a private copy. Closing the returned Java object releases only its reference, not the mapping.
     *
     * @param name a checkpoint tensor name
     * @return a new tensor object viewing the checkpoint's bytes
     * @throws InvalidCheckpointException if there is no such tensor
     * @throws IllegalStateException if the checkpoint is closed
     */
    public Tensor tensor(String name) {
        TensorInfo t = info(name);
        TensorReader.checkSize(t);   // before anything is allocated or mapped
        TorchRuntime.ensureInitialized();
        TensorOptions opts = options(t.dtype());
        long[] shape = t.shape();
        if (t.byteLength() == 0) {
            // An empty mapping has no address to wrap; an empty tensor is the same value.
            return torch.zeros(shape, opts);
        }
        MappedByteBuffer buf = mapping(t);
        return torch.from_blob(new Pointer(buf), shape, opts);
    }

    /**
     * A libtorch CPU tensor holding a copy of a checkpoint tensor, in its stored dtype and shape, read from
     * the file with positional reads instead of through a memory mapping: the file's pages then never
     * count in this process's resident set (a mapping's pages do until {@link #close()}: 17 GB peak for
     * the 8.3 GB full-size bf16 model, against 8.9 GB this way). Calls {@link TorchRuntime#ensureInitialized()}.
     *
     * <p>The tensor belongs to the caller's {@code PointerScope} if one is open, otherwise the caller
     * closes it. It stays valid after {@link #close()}. On failure nothing is left allocated.
     *
     * @param name a checkpoint tensor name
     * @return a new tensor owning a copy of the bytes
     * @throws InvalidCheckpointException if there is no such tensor, it is larger than 2 GiB - 1 bytes
     *     (the same limit as {@link #tensor}), or its bytes cannot be read in full (the file shrank or
     *     vanished after {@link #open}, or an I/O error); the message names the file and the tensor
     * @throws IllegalStateException if the checkpoint is closed
     */
    public Tensor read(String name) {
        TensorInfo t = info(name);
        TensorReader.checkSize(t);
        TorchRuntime.ensureInitialized();
        FileChannel ch;
        try {
            ch = channel(t);
        } catch (IOException e) {
            throw new InvalidCheckpointException(t.file() + ": tensor '" + t.name() + "': cannot open the file: " + e,
                    e);
        }
        return TensorReader.read(ch, t);
    }

    /**
     * Touches every page of every tensor so the first forward pass does not pay the page faults
     * (~3.5 µs per 4 KiB here). Maps all tensors.
     *
     * @return the number of bytes made resident
     * @throws IllegalStateException if the checkpoint is closed
     */
    public long prefault() {
        long n = 0;
        for (TensorInfo t : infos.values()) {
            if (t.byteLength() > 0) {
                mapping(t).load();
                n += t.byteLength();
            }
        }
        return n;
    }

    /**
     * Releases the mappings, file handles and native options. Tensors obtained from {@link #tensor}
     * must not be used afterwards. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            mappings.clear();
            for (TensorOptions o : options.values()) {
                o.close();
            }
            options.clear();
            for (FileChannel ch : channels.values()) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // Nothing to recover: the mappings stay valid until collected, and we drop them.
                }
            }
            channels.clear();
        }
    }

    /** The open channel of {@code t}'s file, opened on first use and shared (positional reads are thread-safe). */
    private synchronized FileChannel channel(TensorInfo t) throws IOException {
        if (closed) {
            throw new IllegalStateException(source + ": checkpoint is closed; cannot read tensor '" + t.name() + "'");
        }
        FileChannel ch = channels.get(t.file());
        if (ch == null) {
            ch = FileChannel.open(t.file(), StandardOpenOption.READ);
            channels.put(t.file(), ch);
        }
        return ch;
    }

    private synchronized MappedByteBuffer mapping(TensorInfo t) {
        if (closed) {
            throw new IllegalStateException(source + ": checkpoint is closed; cannot read tensor '" + t.name() + "'");
        }
        MappedByteBuffer m = mappings.get(t.name());
        if (m != null) {
            return m;
        }
        TensorReader.checkSize(t);
        try {
            FileChannel ch = channel(t);
            // The header was validated against the size at open; a file shrunk since then would make
            // a mapped read fault (SIGBUS), so check again before mapping.
            long size = ch.size();
            if (t.fileOffset() + t.byteLength() > size) {
                throw new InvalidCheckpointException(t.file(), t.name(), "expected the file to hold bytes up to "
                        + (t.fileOffset() + t.byteLength()) + ", found " + size + " bytes: it was truncated after "
                        + "the checkpoint was opened");
            }
            m = ch.map(FileChannel.MapMode.READ_ONLY, t.fileOffset(), t.byteLength());
        } catch (IOException e) {
            throw new InvalidCheckpointException(t.file() + ": tensor '" + t.name() + "': cannot map: " + e, e);
        }
        mappings.put(t.name(), m);
        return m;
    }

    /**
     * One {@link TensorOptions} per dtype, created in a scope of its own and retained, so that a caller's
     * open {@link PointerScope} does not free it; released in {@link #close()}.
     */
    private synchronized TensorOptions options(DType dtype) {
        if (closed) {
            throw new IllegalStateException(source + ": checkpoint is closed");
        }
        TensorOptions o = options.get(dtype);
        if (o == null) {
            PointerScope scope = new PointerScope();
            try {
                o = new TensorOptions(dtype.scalarType());
                o.retainReference();
            } finally {
                scope.close();
            }
            options.put(dtype, o);
        }
        return o;
    }

    /** Up to three existing names sharing the longest prefix with {@code name}, for error messages. */
    private String closest(String name) {
        TreeMap<Integer, List<String>> byPrefix = new TreeMap<>(Collections.reverseOrder());
        for (String n : infos.keySet()) {
            int p = 0;
            while (p < n.length() && p < name.length() && n.charAt(p) == name.charAt(p)) {
                p++;
            }
            byPrefix.computeIfAbsent(p, k -> new ArrayList<>()).add(n);
        }
        List<String> best = new ArrayList<>();
        for (List<String> l : byPrefix.values()) {
            for (String n : l) {
                if (best.size() < 3) {
                    best.add("'" + n + "'");
                }
            }
        }
        return best.isEmpty() ? "" : "; closest: " + String.join(", ", best);
    }
}
