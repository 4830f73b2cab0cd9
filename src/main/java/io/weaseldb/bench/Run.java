package io.weaseldb.bench;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * State one run shares between its event loops: the time window, the newest version seen (the
 * read version source), the request budget and the count of requests still unanswered.
 * Everything here is thread-safe; per-loop measurements live in {@link LoopStats}.
 *
 * @param startNanos   when sending starts (warmup included)
 * @param measureNanos when recording starts (end of warmup)
 * @param endNanos     when sending stops; answers to earlier requests are still recorded
 */
record Run(BenchOptions options, long startNanos, long measureNanos, long endNanos, String runId,
           AtomicLong newestVersion, AtomicLong budget, LongAdder outstanding) {

    static Run start(BenchOptions o, long nowNanos, String runId, long initialVersion) {
        long start = nowNanos;
        long measure = start + o.warmupSeconds() * 1_000_000_000L;
        long end = measure + o.durationSeconds() * 1_000_000_000L;
        return new Run(o, start, measure, end, runId, new AtomicLong(initialVersion),
                new AtomicLong(o.countLimit() > 0 ? o.countLimit() : Long.MAX_VALUE), new LongAdder());
    }

    /** The version preconditions are read at: the newest seen minus the configured lag. */
    long readVersion() {
        return Math.max(0, newestVersion.get() - options.readVersionLag());
    }

    /** Raises the newest version seen (answers arrive out of order across connections). */
    void sawVersion(long v) {
        long cur = newestVersion.get();
        while (v > cur && !newestVersion.compareAndSet(cur, v)) {
            cur = newestVersion.get();
        }
    }

    /** Whether --count is set and its budget is spent: the run ends, nothing more is due. */
    boolean budgetSpent() {
        return options.countLimit() > 0 && budget.get() <= 0;
    }

    /** Takes one measured request from the --count budget; false once it is spent. */
    boolean takeBudget() {
        return options.countLimit() == 0 || budget.getAndDecrement() > 0;
    }

    /** Second of the measured window that {@code nanos} falls in (negative during warmup). */
    int second(long nanos) {
        return (int) Math.floorDiv(nanos - measureNanos, 1_000_000_000L);
    }
}
