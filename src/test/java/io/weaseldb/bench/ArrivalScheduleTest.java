package io.weaseldb.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class ArrivalScheduleTest {

    @Test
    void connectionsTogetherProduceEvenlySpacedArrivalsAtTheRate() {
        int connections = 7;
        double rate = 3000; // per second: one arrival every 333,333.3 ns
        List<Long> all = new ArrayList<>();
        for (int c = 0; c < connections; c++) {
            ArrivalSchedule s = ArrivalSchedule.of(1_000, rate, c, connections);
            for (int i = 0; i < 100; i++) {
                all.add(s.intendedNanos(i));
            }
        }
        Collections.sort(all);
        assertEquals(1_000, all.get(0));
        for (int i = 1; i < all.size(); i++) {
            long gap = all.get(i) - all.get(i - 1);
            assertTrue(gap == 333_333 || gap == 333_334, "gap " + gap + " at " + i);
        }
    }

    @Test
    void dueByCountsExactlyTheArrivalsIntendedAtOrBeforeNow() {
        ArrivalSchedule s = ArrivalSchedule.of(5_000_000, 12345.6, 3, 16);
        for (long now = 0; now < 50_000_000; now += 7_919) {
            long n = s.dueBy(now);
            assertTrue(n == 0 || s.intendedNanos(n - 1) <= now, "arrival " + (n - 1) + " is due at " + now);
            assertTrue(s.intendedNanos(n) > now, "arrival " + n + " is not yet due at " + now);
        }
    }

    @Test
    void nothingIsDueBeforeTheConnectionsFirstArrival() {
        ArrivalSchedule s = ArrivalSchedule.of(1_000_000, 1000, 5, 10); // first arrival at 1 ms + 5 ms
        assertEquals(0, s.dueBy(5_999_999));
        assertEquals(1, s.dueBy(6_000_000));
        assertEquals(2, s.dueBy(16_000_000));
    }
}
