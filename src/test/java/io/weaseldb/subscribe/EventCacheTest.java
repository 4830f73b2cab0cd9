package io.weaseldb.subscribe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The shared cache of encoded events: what a subscriber at a given position finds next, what it
 * must read from storage instead, and the memory bound, which never drops what is not durable.
 */
class EventCacheTest {
    /** Appends versions first..last, {@code bytesEach} bytes of events each, not durable. */
    static void append(EventCache cache, long first, long last, int bytesEach) {
        int n = (int) (last - first + 1);
        int[] offsets = new int[n + 1];
        for (int i = 0; i <= n; i++) {
            offsets[i] = bytesEach * i;
        }
        cache.append(first, last, new byte[bytesEach * n], offsets);
    }

    static long firstOf(EventCache.Chunk c) {
        return c == null ? -2 : c.firstVersion();
    }

    @Test
    void findGivesTheChunkHoldingAVersionOrTheFirstAfterItsMarkers() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        append(cache, 1, 3, 100);
        append(cache, 6, 8, 100); // 4 and 5 are markers
        append(cache, 9, 9, 100);
        assertSame(EventCache.EVICTED, cache.find(0), "the term's start marker and before: from storage");
        assertEquals(1, firstOf(cache.find(1)));
        assertEquals(1, firstOf(cache.find(3)), "a chunk's last version is in it");
        assertEquals(6, firstOf(cache.find(4)), "markers lead to the next chunk");
        assertEquals(6, firstOf(cache.find(8)));
        assertEquals(9, firstOf(cache.find(9)), "the newest version");
        assertNull(cache.find(10), "nothing after the newest yet");
    }

    @Test
    void bytesAfterAPositionAreWhatASubscriberThereHasYetToSend() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        append(cache, 1, 3, 100);
        append(cache, 6, 8, 10);
        assertEquals(330, cache.bytesAfter(0));
        assertEquals(230, cache.bytesAfter(1));
        assertEquals(30, cache.bytesAfter(3));
        assertEquals(30, cache.bytesAfter(5), "markers hold no bytes");
        assertEquals(10, cache.bytesAfter(7));
        assertEquals(0, cache.bytesAfter(8));
        assertEquals(0, cache.bytesAfter(20), "ahead of the log");
        assertEquals(330, cache.totalBytes());
        cache.durable(8);
        append(cache, 9, 9, 1 << 20); // over the bound: the durable chunks go
        assertEquals(Long.MAX_VALUE, cache.bytesAfter(1), "evicted: only storage has it, so the lag is unbounded");
        assertEquals(1 << 20, cache.bytesAfter(8));
    }

    @Test
    void bytesPerVersionAverageThisTermsVersions() {
        EventCache cache = new EventCache(1 << 20, 64, 10); // the term started at 10
        assertEquals(0, cache.bytesPerVersion(), "nothing yet");
        append(cache, 11, 15, 100);
        cache.durable(20); // five markers
        append(cache, 21, 30, 50);
        assertEquals(50, cache.bytesPerVersion(), "1,000 bytes over 20 versions");
    }

    @Test
    void onlyDurableChunksAreEvictedPastTheBoundAndTheNewestStays() {
        EventCache cache = new EventCache(1000, 64, 0);
        append(cache, 1, 5, 100);
        append(cache, 6, 10, 100);
        assertEquals(0, cache.floorVersion(), "1,000 bytes is within the bound");
        append(cache, 11, 15, 100);
        assertEquals(0, cache.floorVersion(), "over the bound, but nothing is durable: a durable=false subscriber needs it");
        assertEquals(1, firstOf(cache.find(1)));
        cache.durable(5);
        assertEquals(5, cache.floorVersion(), "[1..5] is durable now: evicted, back within the bound");
        assertSame(EventCache.EVICTED, cache.find(5), "its last version too comes from storage");
        assertEquals(6, firstOf(cache.find(6)));
        assertEquals(1000, cache.retainedBytesApprox());
        cache.durable(15);
        assertEquals(5, cache.floorVersion(), "within the bound: kept");
        append(cache, 16, 25, 100); // 2,000 bytes: the durable ones go, the newest stays
        assertEquals(15, cache.floorVersion());
        assertEquals(1000, cache.retainedBytesApprox());
        EventCache tiny = new EventCache(10, 64, 0);
        append(tiny, 1, 5, 100);
        tiny.durable(5);
        assertEquals(0, tiny.floorVersion(), "the newest chunk stays, whatever its size");
    }

    @Test
    void aRingFullOfNonDurableChunksTakesNoMoreUntilTheOldestIsDurable() {
        EventCache cache = new EventCache(1 << 30, 16, 0);
        int slots = cache.maxChunks();
        assertTrue(slots >= 16, "at least what was asked for: " + slots);
        for (long v = 1; v <= slots; v++) {
            append(cache, v, v, 10);
        }
        assertFalse(cache.canAppend());
        assertThrows(IllegalStateException.class, () -> append(cache, slots + 1, slots + 1, 10));
        cache.durable(1);
        assertTrue(cache.canAppend());
        append(cache, slots + 1, slots + 1, 10);
        assertEquals(1, cache.floorVersion(), "the durable oldest made room");
        assertSame(EventCache.EVICTED, cache.find(1));
        for (long v = 2; v <= slots + 1; v++) {
            assertEquals(v, firstOf(cache.find(v)), "every other chunk is still found after the wrap-around");
        }
        cache.durable(slots + 1);
        assertThrows(IllegalStateException.class, () -> append(cache, slots + 1, slots + 2, 10),
                "a chunk must follow the newest version");
        // round the ring again, and again: every slot is reused once the oldest is durable
        for (long v = slots + 2; v <= 3L * slots; v++) {
            append(cache, v, v, 10);
            cache.durable(v);
        }
        assertEquals(2L * slots, cache.floorVersion());
        assertSame(EventCache.EVICTED, cache.find(2L * slots));
        for (long v = 2L * slots + 1; v <= 3L * slots; v++) {
            assertEquals(v, firstOf(cache.find(v)));
        }
    }

    /** A ring with free slots takes a chunk whatever its oldest chunk is; the publisher fails the server otherwise. */
    @Test
    void aRingWithFreeSlotsTakesMoreWhileItsOldestIsNotDurable() {
        EventCache cache = new EventCache(1000, 16, 0);
        for (long v = 1; v <= 20; v++) {
            append(cache, v, v, 100);
            cache.durable(v);
        }
        append(cache, 21, 30, 100); // not durable: [1..20] all went for it
        assertEquals(20, cache.floorVersion());
        for (long v = 31; v <= 40; v++) {
            assertTrue(cache.canAppend(), "one chunk in the ring: room for more");
            append(cache, v, v, 1);
        }
    }

    /** At the memory bound exactly, durable chunks stay; past it they go, but never the newest one. */
    @Test
    void theBoundItselfIsAllowedAndTheNewestChunkStaysInEveryCase() {
        EventCache cache = new EventCache(1000, 64, 0);
        append(cache, 1, 5, 100);
        cache.durable(5);
        append(cache, 6, 10, 100);
        cache.durable(10);
        assertEquals(0, cache.floorVersion(), "1,000 bytes of a 1,000-byte bound: kept");
        append(cache, 11, 11, 1);
        assertEquals(5, cache.floorVersion(), "one byte over: the oldest durable chunk goes");
        cache.durable(11);
        append(cache, 12, 12, 5000);
        cache.durable(12);
        assertEquals(11, cache.floorVersion(), "everything before the newest went");
        assertEquals(12, firstOf(cache.find(12)), "the newest stays, over the bound or not");
        cache.durable(13); // a marker after it
        assertEquals(12, firstOf(cache.find(12)));
    }
}
