package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.Tensors;

class ScratchTest {
    @Test
    void scratch() {
        try (InferenceScope s = InferenceScope.open()) {
            Tensor a = torch.randn(1, 3072).to(ScalarType.BFloat16);
            Tensor w = torch.randn(32064, 3072).to(ScalarType.BFloat16);
            Tensor ref = torch.linear(a.to(ScalarType.Float), w.to(ScalarType.Float));
            Tensor o = torch.mm(a, w.t(), ScalarType.Float);
            System.out.println("dtype " + o.scalar_type() + " err " + GoldenCases.maxAbsDiff(Tensors.toFloats(o), Tensors.toFloats(ref)));
            Tensor lb = torch.linear(a, w);
            System.out.println("bf16 linear err " + GoldenCases.maxAbsDiff(Tensors.toFloats(lb), Tensors.toFloats(ref)));
            for (int rep = 0; rep < 3; rep++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < 20; i++) torch.mm(a, w.t(), ScalarType.Float);
                long t1 = System.nanoTime();
                for (int i = 0; i < 20; i++) torch.linear(a, w);
                long t2 = System.nanoTime();
                System.out.printf("mm out f32 %.2f ms, linear bf16 %.2f ms%n", (t1 - t0) / 20e6, (t2 - t1) / 20e6);
            }
            Tensor a8 = torch.randn(8, 3072).to(ScalarType.BFloat16);
            Tensor o8 = torch.mm(a8, w.t(), ScalarType.Float);
            System.out.println("8 rows ok " + o8.size(0));
        }
    }
}
