package io.github.phi3v.core.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.function.Supplier;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The project's own native kernel library ({@code libphi3v_kernels.so}, built from
 * {@code phi3v-core/src/main/c} by the Maven build on Linux x86-64 and shipped inside the jar): its loading,
 * and of its kernels the attention of a bf16 decode step over the KV cache (2-3x libtorch's two batched
 * GEMVs; for float32 caches with AVX2, {@link #decodeAttentionFloat}) and a bf16 lm_head with float32 logits
 * ({@link #bf16WeightMm}; docs/architecture.md, "Native kernels"; docs/benchmarks.md). The same library holds the int4 linear ({@link NativeInt4Kernel}), the int8
 * linear of CPUs without AVX-512 VNNI ({@link NativeInt8Kernel}) and the small ops of a bf16 decoder layer
 * ({@link NativeDecodeOps}).
 *
 * <p>Optional: {@link #available()} is false, and callers use ATen's kernels, when the jar carries no
 * library for this platform, the CPU lacks AVX-512 VNNI, the library cannot be loaded, or the system property
 * {@code phi3v.nativeKernels} is {@code false} (read once, at the first call). The int4 and int8 linears also
 * run on CPUs with AVX2 and FMA but without AVX-512 VNNI (their own {@code available()}). The library is loaded
 * after libtorch so that its OpenMP dependency resolves to libtorch's own {@code libgomp.so.1}: one thread pool.
 *
 * <p>Thread-safe: the kernels keep no state between calls; each call allocates its own scratch.
 */
public final class NativeKernels {

    /** System property that turns the native kernels off ({@code false}); on by default. */
    public static final String ENABLED_PROPERTY = "phi3v.nativeKernels";
    private static final String LIBRARY = "libphi3v_kernels.so";
    /** Names of the kernels in the messages of their refusals. */
    private static final String ATTENTION = "native decode attention";
    private static final String BF16_WEIGHT_MM = "native bf16-weight product";

    private static volatile Boolean available;
    private static volatile String unavailableReason;
    /** Whether the library is loaded, also on a CPU without AVX-512 (the int4 and int8 linears need AVX2 only). */
    private static volatile boolean loaded;

    private NativeKernels() {
    }

    /**
     * Whether the native kernels run on this machine (loads the library at the first call).
     *
     * @return true when the AVX-512 kernels may be called
     */
    public static boolean available() {
        Boolean a = available;
        if (a == null) {
            synchronized (NativeKernels.class) {
                a = available;
                if (a == null) {
                    a = load();
                    available = a;
                }
            }
        }
        return a;
    }

    /**
     * Whether the library is loaded (its AVX-512 kernels may still be unavailable on this CPU): the condition
     * for kernels of the same library that need less, {@link NativeInt8Kernel} and {@link NativeInt4Kernel}'s AVX2
     * twin. Loads it at the first call.
     *
     * @return true if the library is loaded
     */
    static boolean libraryLoaded() {
        available();
        return loaded;
    }

    /**
     * Why {@link #available()} is false, for logs and benchmark reports.
     *
     * @return the reason, or {@code null} when the kernels are available (or not yet probed)
     */
    public static String unavailableReason() {
        return unavailableReason;
    }

    private static boolean load() {
        if ("false".equalsIgnoreCase(System.getProperty(ENABLED_PROPERTY, "true").trim())) {
            unavailableReason = "turned off by -D" + ENABLED_PROPERTY + "=false";
            return false;
        }
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            unavailableReason = "no native kernels are built for " + os + "/" + arch;
            return false;
        }
        TorchRuntime.ensureInitialized();   // libtorch's libgomp.so.1 first: ours then resolves to it
        String resource = "linux-x86_64/" + LIBRARY;
        try {
            if (NativeKernels.class.getResource(resource) == null) {
                unavailableReason = "the jar carries no " + resource + " (built without a C compiler?)";
                return false;
            }
            Path cache = org.bytedeco.javacpp.Loader.getCacheDir().toPath();
            System.load(extract(resource, cache).toAbsolutePath().toString());
            loaded = true;
            if (cpuSupported() == 0) {
                unavailableReason = "this CPU lacks AVX-512 (F, BW, VL) with VNNI";
                return false;
            }
            return true;
        } catch (Exception | UnsatisfiedLinkError e) {
            unavailableReason = "cannot load " + resource + ": " + e;
            return false;
        }
    }

    /**
     * The library copied out of the jar into JavaCPP's cache folder, under a folder named by a hash of its
     * bytes, and reused while its bytes match. Not JavaCPP's {@code Loader.cacheResource}: that re-extracts
     * only when the size or the timestamp differ, and a reproducible build gives every build of the
     * library the same timestamp, so a changed library of the same size would load stale (the CLI's jar,
     * {@code phi3v.jar}, keeps one cache folder across versions). Safe between processes: a new copy is
     * written to a temporary file and moved into place atomically.
     *
     * @param resource the library's resource path, relative to this class
     * @param cacheDir the cache folder (JavaCPP's)
     * @return the library file
     * @throws IOException if the resource cannot be read or the cache folder not written
     */
    static Path extract(String resource, Path cacheDir) throws IOException {
        byte[] bytes;
        try (InputStream in = NativeKernels.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IOException("no resource " + resource);
            }
            bytes = in.readAllBytes();
        }
        String hash = sha256(bytes);
        Path dir = cacheDir.resolve("phi3v-kernels").resolve(hash.substring(0, 16));
        Path lib = dir.resolve(LIBRARY);
        if (Files.isRegularFile(lib) && hash.equals(sha256(Files.readAllBytes(lib)))) {
            return lib;
        }
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, LIBRARY, ".tmp");
        try {
            Files.write(tmp, bytes);
            Files.move(tmp, lib, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return lib;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** Largest head dimension {@link #decodeAttention} takes (its query and output stay in registers). */
    public static final long ATTENTION_MAX_HEAD_DIM = 256;

    /**
     * Whether {@link #decodeAttention} takes heads of this dimension: a multiple of 16 up to
     * {@value #ATTENTION_MAX_HEAD_DIM} (Phi-3: 96).
     *
     * @param headDim the head dimension
     * @return true if supported
     */
    public static boolean attends(long headDim) {
        return headDim > 0 && headDim % 16 == 0 && headDim <= ATTENTION_MAX_HEAD_DIM;
    }

    /**
     * The attention of one decode step over a bf16 KV cache, per head: {@code out = bf16(softmax(bf16(q ·
     * kᵀ) * scale) in float32, rounded to bf16) · v}, summed in float32: the formula of a libtorch decode
     * step with two bf16 batched GEMVs, reading each head's keys and values once. The sums run in another
     * order than oneDNN's, so a score can round to the neighbouring bf16 value.
     *
     * @param q {@code [heads, 1, d]} bf16, contiguous
     * @param keys {@code [heads, >= length, d]} bf16, each head's rows contiguous ({@code stride(1) == d},
     *     {@code stride(2) == 1})
     * @param values like {@code keys}, with the same strides
     * @param length the cached positions to attend to, at least 1
     * @param scale the score scale, {@code 1 / sqrt(d)}
     * @param out {@code [heads, 1, d]} bf16, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws OutOfMemoryError if the kernel's scratch memory cannot be allocated
     * @throws IllegalStateException if the kernels are not {@link #available()}
     */
    public static void decodeAttention(Tensor q, Tensor keys, Tensor values, long length, float scale, Tensor out) {
        requireAvailable();
        long heads = q.size(0);
        long d = q.dim() == 3 ? q.size(2) : -1;
        require(ATTENTION, q.dim() == 3 && q.size(1) == 1 && attends(d) && q.is_contiguous()
                && Tensors.dtype(q) == ScalarType.BFloat16, () -> "q must be [heads, 1, d] bf16 contiguous with d a "
                + "multiple of 16 up to " + ATTENTION_MAX_HEAD_DIM + ", found " + describe(q));
        for (Tensor kv : new Tensor[] {keys, values}) {
            require(ATTENTION, kv.dim() == 3 && kv.size(0) == heads && kv.size(1) >= length && kv.size(2) == d
                    && kv.stride(2) == 1 && kv.stride(1) == d && Tensors.dtype(kv) == ScalarType.BFloat16, () ->
                    "keys and values must be [" + heads + ", >= " + length + ", " + d + "] bf16 with contiguous "
                    + "rows, found " + describe(kv));
        }
        require(ATTENTION, keys.stride(0) == values.stride(0), () -> "keys and values must have the same head "
                + "stride, found " + keys.stride(0) + " and " + values.stride(0));
        require(ATTENTION, length >= 1, () -> "length must be at least 1, got " + length);
        require(ATTENTION, out.dim() == 3 && out.size(0) == heads && out.size(1) == 1 && out.size(2) == d
                && out.is_contiguous() && Tensors.dtype(out) == ScalarType.BFloat16, () ->
                "out must be [" + heads + ", 1, " + d + "] bf16 contiguous, found " + describe(out));
        int rc = decodeAttention(q.data_ptr().address(), keys.data_ptr().address(), values.data_ptr().address(),
                out.data_ptr().address(), heads, length, d, keys.stride(0), scale, TorchRuntime.threads());
        if (rc != 0) {
            throw new OutOfMemoryError("native decode attention: no scratch memory for " + heads + " heads of "
                    + length + " positions");
        }
    }

    /**
     * Whether {@link #decodeAttentionFloat} runs here: the library is loaded and {@code /proc/cpuinfo} lists AVX2
     * and FMA (it needs no AVX-512). Loads the library at the first call.
     *
     * @return true if the float32 decode attention may be called
     */
    public static boolean floatAttentionAvailable() {
        return libraryLoaded() && CpuFeatures.has("avx2", "fma");
    }

    /**
     * Whether {@link #decodeAttentionFloat} takes heads of this dimension: a multiple of 8 up to
     * {@value #ATTENTION_MAX_HEAD_DIM} (Phi-3: 96).
     *
     * @param headDim the head dimension
     * @return true if supported
     */
    public static boolean attendsFloat(long headDim) {
        return headDim > 0 && headDim % 8 == 0 && headDim <= ATTENTION_MAX_HEAD_DIM;
    }

    /**
     * The attention of one decode step over a float32 KV cache, per head: {@code out = softmax(q · kᵀ * scale)
     * · v} in float32 ({@code phi3v_attention_f32.c}, AVX2): the formula of a libtorch decode step with two
     * float32 batched GEMVs, reading each head's keys and values once. The sums run in another order than
     * libtorch's and exp is a polynomial within 2 ulp, so results differ from libtorch's in the last bits.
     *
     * @param q {@code [heads, 1, d]} float32, contiguous
     * @param keys {@code [heads, >= length, d]} float32, each head's rows contiguous ({@code stride(1) == d},
     *     {@code stride(2) == 1})
     * @param values like {@code keys}, with the same strides
     * @param length the cached positions to attend to, at least 1
     * @param scale the score scale, {@code 1 / sqrt(d)}
     * @param out {@code [heads, 1, d]} float32, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws OutOfMemoryError if the kernel's scratch memory cannot be allocated
     * @throws IllegalStateException if the kernel is not {@link #floatAttentionAvailable()}
     */
    public static void decodeAttentionFloat(Tensor q, Tensor keys, Tensor values, long length, float scale,
            Tensor out) {
        if (!floatAttentionAvailable()) {
            throw new IllegalStateException("native float32 decode attention unavailable: " + (libraryLoaded()
                    ? "this CPU lacks AVX2 and FMA" : unavailableReason));
        }
        long heads = q.size(0);
        long d = q.dim() == 3 ? q.size(2) : -1;
        require(ATTENTION, q.dim() == 3 && q.size(1) == 1 && attendsFloat(d) && q.is_contiguous()
                && Tensors.dtype(q) == ScalarType.Float, () -> "q must be [heads, 1, d] float32 contiguous with d a "
                + "multiple of 8 up to " + ATTENTION_MAX_HEAD_DIM + ", found " + describe(q));
        for (Tensor kv : new Tensor[] {keys, values}) {
            require(ATTENTION, kv.dim() == 3 && kv.size(0) == heads && kv.size(1) >= length && kv.size(2) == d
                    && kv.stride(2) == 1 && kv.stride(1) == d && Tensors.dtype(kv) == ScalarType.Float, () ->
                    "keys and values must be [" + heads + ", >= " + length + ", " + d + "] float32 with contiguous "
                    + "rows, found " + describe(kv));
        }
        require(ATTENTION, keys.stride(0) == values.stride(0), () -> "keys and values must have the same head "
                + "stride, found " + keys.stride(0) + " and " + values.stride(0));
        require(ATTENTION, length >= 1, () -> "length must be at least 1, got " + length);
        require(ATTENTION, out.dim() == 3 && out.size(0) == heads && out.size(1) == 1 && out.size(2) == d
                && out.is_contiguous() && Tensors.dtype(out) == ScalarType.Float, () ->
                "out must be [" + heads + ", 1, " + d + "] float32 contiguous, found " + describe(out));
        int rc = decodeAttentionFloat(q.data_ptr().address(), keys.data_ptr().address(),
                values.data_ptr().address(), out.data_ptr().address(), heads, length, d, keys.stride(0), scale,
                TorchRuntime.threads());
        if (rc != 0) {
            throw new OutOfMemoryError("native decode attention: no scratch memory for " + heads + " heads of "
                    + length + " positions");
        }
    }

    /**
     * Whether {@link #bf16WeightMm} takes rows of this width: a multiple of 16 (one AVX-512 vector of floats).
     *
     * @param k the weight's row width (Phi-3's lm_head: 3072)
     * @return true if supported
     */
    public static boolean multipliesBf16Rows(long k) {
        return k > 0 && k % 16 == 0;
    }

    /**
     * {@code out = x · wᵀ} for float32 rows and a bf16 weight, with float32 products, sums and output: each
     * bf16 value is exact in float32, so the products are those of a float32 copy of {@code w}; the order of
     * the sums differs from libtorch's. For the CPU lm_head of a bf16 model (float32 logits from the bf16
     * weight, on every thread).
     *
     * @param x {@code [m, k]} float32, contiguous, {@code k} a multiple of 16
     * @param w {@code [n, k]} bf16, contiguous
     * @param out {@code [m, n]} float32, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws IllegalStateException if the kernels are not {@link #available()}
     */
    public static void bf16WeightMm(Tensor x, Tensor w, Tensor out) {
        requireAvailable();
        require(BF16_WEIGHT_MM, w.dim() == 2 && multipliesBf16Rows(w.size(1)) && w.is_contiguous()
                && Tensors.dtype(w) == ScalarType.BFloat16, () ->
                "w must be [n, k] bf16 contiguous with k a multiple of 16, found " + describe(w));
        long n = w.size(0);
        long k = w.size(1);
        require(BF16_WEIGHT_MM, x.dim() == 2 && x.size(1) == k && x.is_contiguous()
                && Tensors.dtype(x) == ScalarType.Float, () ->
                "x must be [rows, " + k + "] float32 contiguous, found " + describe(x));
        long m = x.size(0);
        require(BF16_WEIGHT_MM, out.dim() == 2 && out.size(0) == m && out.size(1) == n && out.is_contiguous()
                && Tensors.dtype(out) == ScalarType.Float,
                () -> "out must be [" + m + ", " + n + "] float32 contiguous, found " + describe(out));
        if (m == 0) {
            return;
        }
        bf16WeightMm(x.data_ptr().address(), w.data_ptr().address(), out.data_ptr().address(), m, n, k,
                TorchRuntime.threads());
    }

    static String describe(Tensor t) {
        long[] strides = new long[(int) t.dim()];
        for (int i = 0; i < strides.length; i++) {
            strides[i] = t.stride(i);
        }
        return Tensors.dtype(t) + " " + java.util.Arrays.toString(Tensors.shape(t)) + " strides "
                + java.util.Arrays.toString(strides);
    }

    static void requireAvailable() {
        if (!available()) {
            throw new IllegalStateException("native kernels unavailable: " + unavailableReason);
        }
    }

    /**
     * Refuses a call whose arguments {@code kernel} cannot read. The message is built only then: these checks
     * run on every decode step, several per layer, and describing a tensor takes several JNI calls.
     */
    static void require(String kernel, boolean ok, Supplier<String> message) {
        if (!ok) {
            throw new IllegalArgumentException(kernel + ": " + message.get());
        }
    }

    private static native int cpuSupported();

    private static native void bf16WeightMm(long x, long w, long out, long m, long n, long k, int threads);

    private static native int decodeAttention(long q, long keys, long values, long out, long heads, long length,
            long headDim, long headStride, float scale, int threads);

    private static native int decodeAttentionFloat(long q, long keys, long values, long out, long heads,
            long length, long headDim, long headStride, float scale, int threads);

}
