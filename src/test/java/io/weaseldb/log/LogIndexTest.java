package io.weaseldb.log;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Which object holds a version: readers find log objects through the index, never by listing. */
class LogIndexTest {

    @Test
    void anEmptyIndexHoldsNothing() {
        LogIndex index = new LogIndex();
        assertEquals(-1, index.floor(0));
        assertEquals(-1, index.next(0));
        assertEquals(-1, index.oldest());
        assertEquals(0, index.size());
        assertArrayEquals(new long[0], index.snapshot());
    }

    @Test
    void findsTheObjectHoldingAVersionAndTheOneAfterIt() {
        LogIndex index = new LogIndex();
        for (long first : new long[] {5, 6, 10, 20}) {
            index.add(first);
        }
        assertEquals(-1, index.floor(4), "before the oldest object");
        assertEquals(5, index.floor(5));
        assertEquals(6, index.floor(6));
        assertEquals(6, index.floor(9));
        assertEquals(10, index.floor(10));
        assertEquals(10, index.floor(19));
        assertEquals(20, index.floor(1_000));
        assertEquals(6, index.next(5));
        assertEquals(10, index.next(6));
        assertEquals(20, index.next(10));
        assertEquals(-1, index.next(20));
        assertEquals(10, index.next(7), "from a version inside an object: the next object's first");
        assertEquals(5, index.next(2));
        assertEquals(5, index.oldest());
        assertEquals(4, index.size());
    }

    @Test
    void growsOnlyInOrder() {
        LogIndex index = new LogIndex();
        index.add(5);
        index.add(7);
        assertThrows(IllegalStateException.class, () -> index.add(7), "the same object twice");
        assertThrows(IllegalStateException.class, () -> index.add(6));
        assertThrows(IllegalStateException.class, () -> index.add(0));
        assertArrayEquals(new long[] {5, 7}, index.snapshot());
    }

    @Test
    void forgetsTruncatedObjectsAndOneOrphan() {
        LogIndex index = new LogIndex();
        for (long first = 0; first < 10; first++) {
            index.add(first * 10);
        }
        index.removeBefore(35);
        assertEquals(40, index.oldest());
        assertEquals(-1, index.floor(39), "a truncated version is held by no object");
        assertEquals(40, index.floor(45));
        assertEquals(6, index.size());
        index.removeBefore(40);
        assertEquals(6, index.size(), "nothing below 40 is left");
        index.remove(60);
        assertArrayEquals(new long[] {40, 50, 70, 80, 90}, index.snapshot());
        assertEquals(50, index.floor(65), "the orphan's versions belong to the object before it");
        assertEquals(70, index.next(50));
        index.remove(55);
        assertEquals(5, index.size(), "an object not in the index: nothing removed");
        index.remove(90);
        assertArrayEquals(new long[] {40, 50, 70, 80}, index.snapshot());
        index.remove(40);
        assertArrayEquals(new long[] {50, 70, 80}, index.snapshot(), "the oldest object retained");
        assertEquals(-1, index.floor(45));
        LogIndex fresh = new LogIndex();
        fresh.add(0);
        fresh.add(10);
        fresh.remove(0);
        assertArrayEquals(new long[] {10}, fresh.snapshot(), "the first object ever added");
        index.removeBefore(1_000);
        assertEquals(0, index.size());
        assertEquals(-1, index.oldest());
        index.add(1_000);
        assertEquals(1_000, index.floor(2_000));
    }

    /** A long-lived index grows past its first array and reuses the room truncation frees; every lookup still holds. */
    @Test
    void staysCorrectAcrossGrowthAndCompaction() {
        LogIndex index = new LogIndex();
        long next = 0;
        long oldest = 0;
        for (int round = 0; round < 12; round++) {
            for (int i = 0; i < 700; i++) {
                index.add(next);
                next += 3;
            }
            oldest = next - 3L * 300; // keep the newest 300 objects
            index.removeBefore(oldest);
            assertEquals(300, index.size(), "round " + round);
            assertEquals(oldest, index.oldest());
            assertEquals(-1, index.floor(oldest - 1));
            for (long v = oldest; v < next; v += 7) {
                assertEquals(v - v % 3, index.floor(v), "version " + v);
            }
            assertEquals(oldest + 3, index.next(oldest));
            long[] snapshot = index.snapshot();
            assertEquals(300, snapshot.length);
            for (int i = 0; i < snapshot.length; i++) {
                assertEquals(oldest + 3L * i, snapshot[i]);
            }
        }
        // and growth with nothing truncated
        LogIndex all = new LogIndex();
        for (long v = 0; v < 5_000; v++) {
            all.add(v * 2);
        }
        assertEquals(5_000, all.size());
        assertEquals(9_996, all.floor(9_997));
        assertEquals(0, all.oldest());
    }
}
