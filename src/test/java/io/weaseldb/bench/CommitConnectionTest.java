package io.weaseldb.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The end of an open-loop run accounts for what was never sent in bounded time, whatever the rate. */
class CommitConnectionTest {

    @Test
    void unsentRequestsAreRecordedInBulkAsLowerBounds() {
        // 10 M/s for 100 s on one connection, 10 s of warmup: 900 M measured requests never sent.
        // One histogram update each took seconds; the run must stop promptly.
        ArrivalSchedule schedule = ArrivalSchedule.of(0, 1e7, 0, 1);
        long measure = 10_000_000_000L;
        long end = 100_000_000_000L;
        long to = schedule.dueBy(end - 1);
        LoopStats stats = new LoopStats(1);
        assertTimeoutPreemptively(Duration.ofSeconds(2),
                () -> CommitConnection.recordUnsent(stats, schedule, 0, to, measure, end));

        assertEquals(900_000_000L, stats.unansweredRecorded);
        assertEquals(900_000_000L, stats.latencyMicros.getTotalCount());
        long longest = (end - measure) / 1000;
        assertTrue(stats.latencyMicros.getMaxValue() <= longest * 1.001, "no wait above the first's: " + stats.latencyMicros.getMaxValue());
        assertTrue(stats.latencyMicros.getMaxValue() >= longest * 0.99, "the first waited ~90 s: " + stats.latencyMicros.getMaxValue());
        double median = stats.latencyMicros.getValueAtPercentile(50);
        assertTrue(median > 44e6 && median <= 45.1e6, "evenly spread, so the median is ~45 s: " + median);
    }

    @Test
    void fewUnsentRequestsAreRecordedOneByOne() {
        ArrivalSchedule schedule = ArrivalSchedule.of(0, 1000, 0, 1); // one per ms
        LoopStats stats = new LoopStats(1);
        CommitConnection.recordUnsent(stats, schedule, 5, 20, 10_000_000L, 30_000_000L);
        assertEquals(10, stats.unansweredRecorded, "indexes 10..19: those before 10 ms were warmup");
        assertEquals(20_000, stats.latencyMicros.getMaxValue(), 20);
        assertEquals(11_000, stats.latencyMicros.getMinValue(), 20);
    }
}
