package io.github.phi3v.spark;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.phi3v.core.Phi3Vision;

/**
 * The models loaded in this JVM, one per {@link ModelSpec}: loaded lazily by the first task that needs it,
 * then shared by every task the executor runs (a model holds gigabytes of weights; loading one per task
 * or per partition would exhaust memory and time). Closed by {@link #closeAll()} or, at the latest, by a
 * JVM shutdown hook when the executor exits.
 *
 * <p>Thread-safe: concurrent tasks asking for the same spec wait for one load.
 */
public final class ExecutorModels {

    /** Guarded by the class lock. */
    private static final Map<ModelSpec, Phi3Vision> MODELS = new HashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();
    /** Guarded by the class lock. */
    private static boolean shutdownHookAdded;

    private ExecutorModels() {
    }

    /**
     * The model of {@code spec} in this JVM, loaded now if it is not loaded yet, with
     * {@link ExecutorCores the executor's cores} as libtorch threads unless the spec fixes them.
     *
     * @param spec which model
     * @return the shared model: do not close it, {@link #closeAll()} does
     * @throws RuntimeException what loading throws (bad folder, unknown id, memory), each naming the problem
     */
    public static synchronized Phi3Vision get(ModelSpec spec) {
        Phi3Vision model = MODELS.get(spec);
        if (model != null && !model.isClosed()) {
            return model;
        }
        if (!shutdownHookAdded) {
            Runtime.getRuntime().addShutdownHook(new Thread(ExecutorModels::closeAll, "phi3v-executor-models-close"));
            shutdownHookAdded = true;
        }
        model = spec.load(ExecutorCores.current());
        LOADS.incrementAndGet();
        MODELS.put(spec, model);
        return model;
    }

    /**
     * How many models this JVM has loaded since it started (a reload after {@link #closeAll()} counts again).
     *
     * @return the count
     */
    public static int loadCount() {
        return LOADS.get();
    }

    /** Closes every loaded model (running requests end cancelled); the next {@link #get} loads again. */
    public static synchronized void closeAll() {
        for (Phi3Vision model : MODELS.values()) {
            model.close();
        }
        MODELS.clear();
    }
}
