package io.github.phi3v.core.runtime;

import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.OperatorHandle;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;


/**
 * ATen operators that libtorch registers but the JavaCPP presets expose no Java function for (the
 * underscore ops of weight-only quantization and oneDNN weight packing), called by name through the c10 dispatcher's boxed calling
 * convention: the arguments go on a stack of {@code IValue}s, the operator replaces them with its result.
 * The same kernels PyTorch's {@code torch.ops.aten.*} reach; the dispatcher checks the argument types
 * against the registered schema and throws a {@code RuntimeException} naming the operator on a mismatch.
 *
 * <p>Used by the int4 decoder linears, the packed decode weights and by the tooling's kernel probes. Thread-safe: the operator handles
 * are looked up once and are immutable; each call has its own stack.
 * Results are new tensors registered in the caller's {@code PointerScope} like any other op's.
 */
public final class AtenOps {

    /**
     * The operator handles, looked up on first use. Not a class initialiser: a lookup that fails (its
     * native allocation, inside whatever scope the first caller has open) must leave the class usable for
     * the next call instead of failing every later one with {@code NoClassDefFoundError}.
     */
    private static volatile Handles handles;

    /**
     * The operator handles. Each holds one reference of its own that nothing releases (the operators are
     * registered for the life of the process): the scope the first caller happens to have open releases only
     * the reference it took, so closing that scope (a finished or a failed model load) never frees them.
     */
    private record Handles(OperatorHandle int4Pack, OperatorHandle int4Mm, OperatorHandle int8Mm,
            OperatorHandle reorderLinear) {

        private static final String[] NAMES = {"aten::_convert_weight_to_int4pack_for_cpu",
            "aten::_weight_int4pack_mm_for_cpu", "aten::_weight_int8pack_mm", "mkldnn::_reorder_linear_weight"};

        static Handles lookUp() {
            Dispatcher d = Dispatcher.singleton();
            OperatorHandle[] found = new OperatorHandle[NAMES.length];
            int n = 0;
            try {
                for (; n < NAMES.length; n++) {
                    OperatorHandle h = d.findSchemaOrThrow(NAMES[n], "");
                    h.retainReference();
                    found[n] = h;
                }
                return new Handles(found[0], found[1], found[2], found[3]);
            } catch (RuntimeException | Error e) {
                for (int i = 0; i < n; i++) {
                    found[i].releaseReference();   // a failed lookup leaves nothing behind; the next call tries again
                }
                throw e;
            }
        }
    }

    private static Handles handles() {
        Handles h = handles;
        if (h == null) {
            synchronized (AtenOps.class) {
                h = handles;
                if (h == null) {
                    TorchRuntime.ensureInitialized();
                    h = Handles.lookUp();
                    handles = h;
                }
            }
        }
        return h;
    }

    private AtenOps() {
    }

    /**
     * {@code aten::_convert_weight_to_int4pack_for_cpu(Tensor self, int innerKTiles) -> Tensor}: packs
     * 4-bit values for {@link #weightInt4PackMm}. The packed layout is the CPU kernel's own (it depends on
     * the instruction set libtorch runs with), so it is made at load and never stored.
     *
     * @param q {@code [out, in]} int32 values in 0..15
     * @return {@code [out, in / 2]} uint8
     */
    public static Tensor convertWeightToInt4Pack(Tensor q) {
        return call(handles().int4Pack(), new IValue(q), new IValue(8L));
    }

    /**
     * {@code aten::_weight_int4pack_mm_for_cpu(Tensor self, Tensor mat2, int qGroupSize, Tensor
     * qScaleAndZeros) -> Tensor}: {@code x W^T} with {@code W[o, k] = (q[o, k] - 8) * scale[g, o] +
     * zero[g, o]}, {@code g = k / groupSize}.
     *
     * @param x {@code [n, in]} activations (bf16, fp16 or fp32)
     * @param packed {@link #convertWeightToInt4Pack}'s result
     * @param groupSize 32, 64, 128 or 256
     * @param scaleAndZeros {@code [in / groupSize, out, 2]} in {@code x}'s dtype
     * @return {@code [n, out]} in {@code x}'s dtype
     */
    public static Tensor weightInt4PackMm(Tensor x, Tensor packed, long groupSize, Tensor scaleAndZeros) {
        return call(handles().int4Mm(), new IValue(x), new IValue(packed), new IValue(groupSize), new IValue(scaleAndZeros));
    }

    /**
     * The activation dtype to give ATen's weight-only int4 and int8 kernels ({@link #weightInt4PackMm},
     * {@link #weightInt8PackMm}) for a model dtype: the model dtype, except bf16 for a float32 model on a CPU
     * without AVX-512. libtorch's AVX2 build vectorizes these kernels for 16-bit activations only and runs
     * float32 ones on scalar loops: on an AMD EPYC a full-size float32 model with int4 decoded 0.216 tokens/s
     * against 2.719 with bf16 activations, and one float32 row of int8 {@code qkv_proj} took 26.5 ms against
     * 3.2 ms (docs/benchmarks.md, "int8 without AVX-512 VNNI" and "Full size on the AVX2 machine"). The bf16
     * rounding of the activations (and of the kernels' bf16 output) is far below the quantized weights' error.
     *
     * @param modelType the model dtype
     * @return the dtype of the activations, scales and output of the kernel call
     */
    public static ScalarType weightOnlyActivationType(ScalarType modelType) {
        return modelType == ScalarType.Float && !CpuFeatures.has("avx512f") ? ScalarType.BFloat16 : modelType;
    }

    /**
     * {@code aten::_weight_int8pack_mm(Tensor self, Tensor mat2, Tensor scales) -> Tensor}: {@code x (q *
     * scales[:, None])^T}.
     *
     * @param x {@code [n, in]} activations (bf16, fp16 or fp32)
     * @param q {@code [out, in]} int8 weights
     * @param scales {@code [out]} in {@code x}'s dtype
     * @return {@code [n, out]} in {@code x}'s dtype
     */
    public static Tensor weightInt8PackMm(Tensor x, Tensor q, Tensor scales) {
        return call(handles().int8Mm(), new IValue(x), new IValue(q), new IValue(scales));
    }

    /**
     * {@code mkldnn::_reorder_linear_weight(Tensor self, int? batch_size=None) -> Tensor}: the weight of a
     * linear layer in oneDNN's own blocked layout, for {@code torch.mkldnn_linear} on oneDNN ({@code
     * to_mkldnn}) inputs. The layout is chosen for the CPU libtorch runs on, so it is made at load and never
     * stored; no batch-size hint, so one packed weight serves every row count.
     *
     * @param weight {@code [out, in]} float32 or bf16, dense and contiguous
     * @return the same weight as an opaque oneDNN tensor
     */
    public static Tensor reorderLinearWeight(Tensor weight) {
        return call(handles().reorderLinear(), new IValue(weight), new IValue());
    }

    private static Tensor call(OperatorHandle op, IValue... args) {
        IValueVector stack = new IValueVector(args);
        try {
            op.callBoxed(stack);
            // toTensor() views the tensor inside the stack's IValue; the copy is a reference of its own (in the
            // caller's scope) that survives the stack.
            return new Tensor(stack.get(0).toTensor());
        } finally {
            stack.close();
            for (IValue a : args) {
                a.close();
            }
        }
    }
}
