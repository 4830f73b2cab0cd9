package io.weaseldb.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** A header that breaks the log's invariants is refused (decoding turns that into a corrupt object). */
class BatchHeaderTest {

    static BatchHeader data(long first, long last, long prev, long prevTxn, long lastTxn, int count) {
        return new BatchHeader(BatchHeader.DATA, 1, "l", first, last, prev, prevTxn, lastTxn, 0, count, 0);
    }

    @Test
    void anObjectHoldsAtMostOneTransactionPerVersion() {
        assertEquals(3, data(10, 12, 9, 9, 12, 3).count());
        assertThrows(IllegalArgumentException.class, () -> data(10, 12, 9, 9, 12, 4));
        assertThrows(IllegalArgumentException.class, () -> data(10, 10, 9, 9, 10, 2));
    }

    /** The previous object ends before this one starts (-1: none); a link at or past its first version is refused. */
    @Test
    void thePreviousObjectEndsBeforeThisOne() {
        assertEquals(9, data(10, 12, 9, 9, 12, 1).prevVersion());
        assertEquals(-1, data(10, 12, -1, 9, 12, 1).prevVersion());
        assertEquals(4, data(10, 12, 4, 4, 12, 1).prevVersion(), "below a hole truncation left");
        assertThrows(IllegalArgumentException.class, () -> data(10, 12, 10, 9, 12, 1));
        assertThrows(IllegalArgumentException.class, () -> data(10, 12, 11, 9, 12, 1));
        assertThrows(IllegalArgumentException.class, () -> data(10, 12, 12, 9, 12, 1));
    }

    @Test
    void thePreviousTransactionPrecedesTheObject() {
        assertEquals(9, data(10, 12, 9, 9, 12, 1).prevTxnVersion());
        assertThrows(IllegalArgumentException.class, () -> data(10, 12, 9, 10, 12, 1));
        assertThrows(IllegalArgumentException.class, () -> data(10, 12, 9, 10, 10, 0));
    }

    @Test
    void onlyKnownKindsAndValidRangesAreHeaders() {
        for (int kind : new int[] {-1, 3}) {
            assertThrows(IllegalArgumentException.class,
                    () -> new BatchHeader(kind, 1, "l", 10, 10, 9, 9, 9, 0, 0, 0));
        }
        assertEquals(BatchHeader.TERM_END, new BatchHeader(BatchHeader.TERM_END, 1, "l", 10, 10, 9, 9, 9, 0, 0, 0).kind());
        assertThrows(IllegalArgumentException.class, () -> data(10, 9, 8, 8, 8, 0));
        assertThrows(IllegalArgumentException.class, () -> data(-1, 0, -2, -2, -2, 0));
        assertThrows(IllegalArgumentException.class, () -> new BatchHeader(BatchHeader.TERM_START, 1, "l", 10, 11, 9, 9, 9, 0, 0, 0));
    }
}
