package example.internals;

import io.github.phi3v.core.runtime.Logits;

/** Uses a class of a package phi3v-core keeps internal; the module system must refuse it. */
public final class UsesRuntime {

    public static void main(String[] args) {
        System.out.println(Logits.argmax(new float[] {0f, 1f}));
    }
}
