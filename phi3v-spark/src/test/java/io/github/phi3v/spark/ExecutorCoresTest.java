package io.github.phi3v.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The libtorch thread count an executor's model gets from the Spark configuration. */
class ExecutorCoresTest {

    private static int cores(String master, String executorCores) {
        SparkConf conf = new SparkConf(false).set("spark.master", master);
        if (executorCores != null) {
            conf.set("spark.executor.cores", executorCores);
        }
        return ExecutorCores.of(conf, 16);
    }

    @Test
    void executorCoresWinThenTheLocalMasterThenTheMachine() {
        assertEquals(4, cores("spark://host:7077", "4"));
        assertEquals(4, cores("local[2]", "4"));
        assertEquals(2, cores("local[2]", null));
        assertEquals(3, cores("local[3, 2]", null));
        assertEquals(16, cores("local[*]", null));
        assertEquals(1, cores("local", null));
        assertEquals(16, cores("yarn", null));
    }
}
