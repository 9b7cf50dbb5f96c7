package io.github.phi3v.core.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Fake model and tokenizer for the decode-loop tests. */
final class Fakes {

    private Fakes() {
    }

    /** Logits whose argmax is {@code target} (10 there, 0 elsewhere). */
    static float[] peak(int vocab, int target) {
        float[] logits = new float[vocab];
        logits[target] = 10f;
        return logits;
    }

    /** Logits ln(p) so that softmax gives back p. */
    static float[] logOf(double... probs) {
        float[] logits = new float[probs.length];
        for (int i = 0; i < probs.length; i++) {
            logits[i] = (float) Math.log(probs[i]);
        }
        return logits;
    }

    /** A model that predicts a fixed script of tokens (then repeats the last) and records its inputs. */
    static final class ScriptedSource implements LogitsSource {
        final int vocab;
        final int[] script;
        final List<int[]> calls = new ArrayList<>();

        ScriptedSource(int vocab, int... script) {
            this.vocab = vocab;
            this.script = script;
        }

        @Override
        public synchronized float[] next(int[] newIds) {
            calls.add(newIds.clone());
            int step = Math.min(calls.size() - 1, script.length - 1);
            return peak(vocab, script[step]);
        }

        synchronized int callCount() {
            return calls.size();
        }
    }

    /** A model that always returns the same logits. */
    static LogitsSource constant(float[] logits) {
        return newIds -> logits.clone();
    }

    /** A tokenizer whose token i renders as pieces[i]. */
    static TextDecoder table(String... pieces) {
        return id -> pieces[id];
    }

    /** A decoder that renders every id as "&lt;id&gt;". */
    static TextDecoder ids() {
        return id -> "<" + id + ">";
    }

    static String show(int[] ids) {
        return Arrays.toString(ids);
    }
}
