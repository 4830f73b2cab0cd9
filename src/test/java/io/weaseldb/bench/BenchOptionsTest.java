package io.weaseldb.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BenchOptionsTest {

    @Test
    void workloadPresetsApplyAndOptionsOverrideThem() {
        BenchOptions big = BenchOptions.parse(new String[] {"--port", "1", "--workload", "big-value"});
        assertEquals(10240, big.valueBytes());
        assertEquals(Workload.Reads.NONE, big.workload().reads());
        BenchOptions hot = BenchOptions.parse(new String[] {"--port", "1", "--workload", "hot-key", "--keys", "4"});
        assertEquals(4, hot.keys());
        assertEquals(100, BenchOptions.parse(new String[] {"--port", "1", "--workload", "txn-100"}).opsPerTxn());
        assertEquals("weaseldb-rmw", BenchOptions.parse(new String[] {"--port", "1"}).label());
    }

    @Test
    void badOptionsAreRefusedWithTheOptionNamed() {
        assertMessage("--rate", "--port", "1", "--mode", "open");
        assertMessage("--depth", "--port", "1", "--depth", "0");
        assertMessage("--workload", "--port", "1", "--workload", "nope");
        assertMessage("unknown option --bogus", "--port", "1", "--bogus");
        assertMessage("--port", "--connections", "1");
        assertMessage("--duration-s", "--port", "1", "--duration-s", "100000");
    }

    @Test
    void durableTakesOnlyTrueOrFalse() {
        assertMessage("--durable must be true or false", "--port", "1", "--durable", "flase");
        assertEquals(false, BenchOptions.parse(new String[] {"--port", "1", "--durable", "false"}).subscribersDurable());
        assertEquals(true, BenchOptions.parse(new String[] {"--port", "1", "--durable", "true"}).subscribersDurable());
    }

    @Test
    void aJsonFileInAMissingDirectoryIsRefusedBeforeTheRun() {
        assertEquals(2, LoadGenerator.cli(new String[] {"--port", "1", "--json", "/nonexistent-dir-for-bench/r.json"}));
    }

    @Test
    void aRateMustBeFiniteAndBounded() {
        assertMessage("--rate", "--port", "1", "--mode", "open", "--rate", "Infinity");
        assertMessage("--rate", "--port", "1", "--mode", "open", "--rate", "NaN");
        assertMessage("--rate", "--port", "1", "--mode", "open", "--rate", "20000000");
        assertEquals(1e7, BenchOptions.parse(new String[] {"--port", "1", "--mode", "open", "--rate", "1e7"}).rate());
        assertEquals(2, LoadGenerator.cli(new String[] {"--port", "1", "--mode", "open", "--rate", "Infinity"}),
                "exit status of a bad option");
    }

    @Test
    void aCountIsForTheClosedLoopOnly() {
        assertMessage("--count applies to the closed loop only", "--port", "1", "--mode", "open", "--rate", "100",
                "--count", "10");
        assertEquals(10, BenchOptions.parse(new String[] {"--port", "1", "--count", "10"}).countLimit());
    }

    private static void assertMessage(String part, String... args) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(args));
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }
}
