package io.github.phi3v.spark;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;

/**
 * How many cores this executor JVM was given, which is how many libtorch threads its one model uses: the
 * executor's tasks share the model, and its batched decoding keeps those cores busy.
 */
final class ExecutorCores {

    private static final Pattern LOCAL = Pattern.compile("local(?:-cluster)?\\[(\\d+|\\*)(?:,\\s*\\d+)?\\]");

    private ExecutorCores() {
    }

    /** The cores of the executor this JVM runs, or all of the machine's outside Spark. */
    static int current() {
        SparkEnv env = SparkEnv.get();
        return env == null ? Runtime.getRuntime().availableProcessors()
                : of(env.conf(), Runtime.getRuntime().availableProcessors());
    }

    /**
     * The executor cores a configuration gives: {@code spark.executor.cores} when set, {@code N} of a
     * {@code local[N]} master (all cores for {@code local[*]}, 1 for {@code local}), else the machine's.
     *
     * @param conf the Spark configuration
     * @param machineCores the machine's cores
     * @return at least 1
     */
    static int of(SparkConf conf, int machineCores) {
        if (conf.contains("spark.executor.cores")) {
            return Math.max(1, conf.getInt("spark.executor.cores", 1));
        }
        String master = conf.get("spark.master", "");
        if (master.equals("local")) {
            return 1;
        }
        Matcher m = LOCAL.matcher(master);
        if (m.matches()) {
            return m.group(1).equals("*") ? machineCores : Math.max(1, Integer.parseInt(m.group(1)));
        }
        return Math.max(1, machineCores);
    }
}
