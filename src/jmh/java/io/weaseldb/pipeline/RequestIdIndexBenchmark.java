package io.weaseldb.pipeline;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The sequencer's work on the request-id index per commit, as it does it: look the id up, add it,
 * and (every 64 commits here) expire what fell out of the window. Each iteration starts from an
 * empty index with the default window (1,000,000 versions), so it covers the index's growth from
 * empty to full and then steady state. The score is the mean cost per commit; the secondary
 * results {@code worstCallNs} (the longest single commit in the iteration, by {@code nanoTime})
 * and {@code callsOver1ms} show the calls that paused, such as a table doubling (JMH sums such
 * counters over the measured iterations: divide by their count, or read each iteration's value).
 *
 * <p>{@code ./mvnw -q -B -o -Pbench -Djmh.args='RequestIdIndexBenchmark -f 1 -wi 2 -i 5 -w 3 -r 3'}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 5, time = 3)
public class RequestIdIndexBenchmark {
    private static final int IDS = 1 << 21; // more than the window: a reused id has expired

    private final String[] ids = new String[IDS];
    private RequestIdIndex index;
    private long version;

    @Setup(Level.Trial)
    public void ids() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(1);
        for (int i = 0; i < IDS; i++) {
            ids[i] = "req-" + Long.toHexString(random.nextLong()) + "-" + i;
        }
    }

    @Setup(Level.Iteration)
    public void emptyIndex() {
        index = new RequestIdIndex(11, 12, 1_000_000, TimeUnit.HOURS.toMillis(24), 0, 0);
        version = 0;
    }

    /** Per-iteration pause counters (summed over the one thread, so per iteration as they are). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Pauses {
        public long worstCallNs;
        public long callsOver1ms;

        @Setup(Level.Iteration)
        public void reset() {
            worstCallNs = 0;
            callsOver1ms = 0;
        }
    }

    @Benchmark
    public long commit(Pauses pauses) {
        long start = System.nanoTime();
        long v = ++version;
        String id = ids[(int) (v & (IDS - 1))];
        long known = index.lookup(id);
        index.committed(id, v, 0);
        if ((v & 63) == 0) {
            index.expire(v, 0, 1024);
        }
        long took = System.nanoTime() - start;
        if (took > pauses.worstCallNs) {
            pauses.worstCallNs = took;
        }
        if (took > 1_000_000) {
            pauses.callsOver1ms++;
        }
        return known;
    }
}
