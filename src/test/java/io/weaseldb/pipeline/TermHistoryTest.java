package io.weaseldb.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/**
 * Which leader wrote a version: a duplicate commit and a status answer name the leader that
 * committed it, which after a failover is not the one answering (audit 40's list: only one
 * lookup was tested, through the rebuild).
 */
class TermHistoryTest {
    @Test
    void namesTheLeaderOfTheTermHoldingEachVersion() {
        TermHistory h = new TermHistory();
        h.add(1, "A");
        h.add(4, "A"); // a later object of the same term: no new entry
        h.add(10, "B");
        h.add(20, "C");
        assertNull(h.leaderAt(0), "older than anything known");
        assertEquals("A", h.leaderAt(1));
        assertEquals("A", h.leaderAt(9));
        assertEquals("B", h.leaderAt(10));
        assertEquals("B", h.leaderAt(19));
        assertEquals("C", h.leaderAt(20));
        assertEquals("C", h.leaderAt(Long.MAX_VALUE));
    }

    @Test
    void growsPastItsFirstCapacity() {
        TermHistory h = new TermHistory();
        for (int t = 0; t < 100; t++) {
            h.add(t * 10L, "leader-" + t);
        }
        for (int t = 0; t < 100; t++) {
            assertEquals("leader-" + t, h.leaderAt(t * 10L + 9));
        }
    }

    @Test
    void aLeaderBackAfterAnotherStartsANewEntry() {
        TermHistory h = new TermHistory();
        h.add(1, "A");
        h.add(5, "B");
        h.add(9, "A");
        assertEquals("B", h.leaderAt(8));
        assertEquals("A", h.leaderAt(9));
    }
}
