package io.weaseldb.subscribe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.testing.ManualClock;
import io.weaseldb.testing.ManualObjectStore;
import io.weaseldb.txn.Transaction;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Replaying history from storage, against log objects written here directly. */
class SubscriptionHistoryTest {
    final ManualObjectStore store = new ManualObjectStore().auto(true);
    final LogLayout layout = new LogLayout("");
    final LogIndex index = new LogIndex();
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    // the cache starts after version 10: everything up to it comes from storage
    final SubscriberHub hub = new SubscriberHub(new SubscriberHub.Settings(10, Long.MAX_VALUE, TimeUnit.SECONDS.toNanos(30), 2, 4),
            new EventCache(1 << 20, 64, 10), index, store, layout, Runnable::run, new SubscribeMetrics(registry),
            new ManualClock());

    void batch(long first, long last, long prev) {
        batch(1, first, last, prev);
    }

    void batch(long term, long first, long last, long prev) {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        for (long v = first; v <= last; v++) {
            e.append(new Transaction("id-" + v, v, v - 1, 0, List.of()));
        }
        store.putDirect(layout.objectKey(first), e.seal(new BatchHeader(BatchHeader.DATA, term, "L" + term, first, last, prev, prev, last,
                0, (int) (last - first + 1), 0)));
        index.add(first);
    }

    /** A durable subscription from version 0, admitted and opened, after its first pump. */
    EmbeddedChannel subscribeFromTheStart() {
        EmbeddedChannel ch = new EmbeddedChannel();
        assertEquals(null, hub.admit(0));
        hub.open(ch, 0, true, "L");
        ch.runPendingTasks();
        return ch;
    }

    /** Versions first..last into the cache as the publisher puts them there, durable. */
    void live(long first, long last) {
        List<Transaction> txns = new java.util.ArrayList<>();
        for (long v = first; v <= last; v++) {
            txns.add(new Transaction("id-" + v, v, v - 1, 0, List.of()));
        }
        int[] offsets = new int[txns.size() + 1];
        hub.cache().append(first, last, new SseEncoder().encode(txns, "L", offsets), offsets);
        hub.cache().durable(last);
    }

    /**
     * A log object of {@code first..last} after {@code prev} holding transactions at {@code txns}
     * only (the rest are markers); {@code prevTxn} is the transaction before them.
     */
    void batchOf(long first, long last, long prev, long prevTxn, long... txns) {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        long before = prevTxn;
        for (long v : txns) {
            e.append(new Transaction("id-" + v, v, before, 0, List.of()));
            before = v;
        }
        store.putDirect(layout.objectKey(first), e.seal(new BatchHeader(BatchHeader.DATA, 1, "L1", first, last, prev,
                prevTxn, txns.length == 0 ? prevTxn : txns[txns.length - 1], 0, txns.length, 0)));
        index.add(first);
    }

    EmbeddedChannel subscribe(long after) {
        EmbeddedChannel ch = new EmbeddedChannel();
        assertEquals(null, hub.admit(after));
        hub.open(ch, after, true, "L");
        ch.runPendingTasks();
        return ch;
    }

    static List<String> versions(long first, long last) {
        List<String> out = new java.util.ArrayList<>();
        for (long v = first; v <= last; v++) {
            out.add(String.valueOf(v));
        }
        return out;
    }

    /** The contract: history from storage, then live events, with no gap and no duplicate, from any position. */
    @Test
    void historyThenLiveHasNoGapAndNoDuplicateFromAnyPosition() {
        batch(1, 5, 0);
        batch(6, 10, 5);
        live(11, 13);
        long[] positions = {0, 3, 5, 7, 10, 12};
        List<EmbeddedChannel> streams = new java.util.ArrayList<>();
        for (long after : positions) {
            EmbeddedChannel ch = subscribe(after);
            assertEquals(versions(after + 1, 13), SseStream.read(ch), "after " + after);
            streams.add(ch);
        }
        live(14, 15); // and each goes on live
        hub.notifyLoops();
        for (int i = 0; i < positions.length; i++) {
            assertEquals(List.of("14", "15"), SseStream.read(streams.get(i)), "after " + positions[i]);
            streams.get(i).close();
        }
        assertEquals(6.0, registry.find("weaseldb.subscribe.history.objects").counter().count(),
                "log objects read (2, 2, 1, 1, 0 and 0 of them)");
    }

    /** A log that starts at version 0 (the first term's start marker) replays from it. */
    @Test
    void aLogStartingAtVersionZeroIsReplayedFromTheStart() {
        batchOf(0, 5, -1, -1, 1, 2, 3, 4, 5);
        batch(6, 10, 5);
        EmbeddedChannel ch = subscribe(0);
        assertEquals(versions(1, 10), SseStream.read(ch));
        assertTrue(ch.isOpen());
        ch.close();
    }

    /** Markers inside and at the end of stored objects: the stream passes them and switches to live. */
    @Test
    void storedMarkersArePassedOnTheWayToLiveEvents() {
        batchOf(1, 5, 0, 0, 1, 2, 4); // 3 and 5 are markers
        batchOf(6, 10, 5, 4, 6, 7); // 8..10 are markers, and the cache starts after 10
        live(11, 12);
        EmbeddedChannel ch = subscribe(0);
        assertEquals(List.of("1", "2", "4", "6", "7", "11", "12"), SseStream.read(ch));
        ch.close();
        ch = subscribe(2);
        assertEquals(List.of("4", "6", "7", "11", "12"), SseStream.read(ch), "from a position just before a marker");
        ch.close();
        ch = subscribe(4);
        assertEquals(List.of("6", "7", "11", "12"), SseStream.read(ch), "from the last transaction of an object");
        ch.close();
    }

    /** A transaction larger than a history slice (64 KiB) goes out whole, between its neighbours. */
    @Test
    void aTransactionLargerThanASliceIsSentWhole() {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        e.append(new Transaction("id-1", 1, 0, 0, List.of()));
        e.append(new Transaction("id-2", 2, 1, 0, List.of(new io.weaseldb.txn.Operation.Write(new byte[] {1},
                new byte[200_000]))));
        e.append(new Transaction("id-3", 3, 2, 0, List.of()));
        store.putDirect(layout.objectKey(1), e.seal(new BatchHeader(BatchHeader.DATA, 1, "L1", 1, 3, 0, 0, 3, 0, 3, 0)));
        index.add(1);
        batch(4, 10, 3);
        EmbeddedChannel ch = subscribe(0);
        String text = SseStream.drain(ch);
        assertEquals(versions(1, 10), SseStream.events(text));
        assertTrue(text.length() > 200_000 * 4 / 3, "the large value is all there");
        ch.close();
    }

    /** History that reaches the end of the stored log before the cache waits for the next object, then goes on. */
    @Test
    void aReplayThatReachesTheEndOfTheStoredLogGoesOnWhenTheNextObjectIsStored() {
        batchOf(0, 5, -1, -1, 1, 2, 3, 4, 5);
        EmbeddedChannel ch = subscribe(0);
        assertEquals(versions(1, 5), SseStream.read(ch));
        batch(6, 10, 5); // durable now
        live(11, 11);
        hub.notifyLoops();
        assertEquals(versions(6, 11), SseStream.read(ch));
        ch.close();
    }

    /** The contract: a history read that fails ends the stream (the client resumes), and gives its share of history_memory_bytes back. */
    @Test
    void aFailedHistoryReadEndsTheStreamAsAnErrorAndGivesItsBudgetBack() {
        index.add(1); // listed in the index, but the read fails
        EmbeddedChannel ch = subscribe(0);
        assertFalse(ch.isOpen());
        assertEquals(1.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "error").counter().count());
        assertEquals(0, hub.historyHeld());
    }

    /** A skipped orphan's bytes go back to history_memory_bytes like any object's. */
    @Test
    void aSkippedOrphanGivesItsBudgetBack() {
        batch(1, 2, 0);
        batch(3, 8, 2);
        batch(0, 5, 6, 4);
        batch(9, 10, 8);
        EmbeddedChannel ch = subscribe(0);
        assertEquals(versions(1, 10), SseStream.read(ch), "the orphan's 5..6 are not sent");
        assertEquals(0, hub.historyHeld());
        ch.close();
    }

    /** Retention deleted what a stream still had to read (it fell behind the cache meanwhile): it ends as truncated. */
    @Test
    void aStreamWhoseHistoryWasTruncatedEndsAsTruncated() {
        batch(1, 5, 0);
        batch(6, 10, 5);
        assertEquals(null, hub.admit(0));
        index.removeBefore(6); // a pass that ran before the stream started (it would now be refused with 410)
        EmbeddedChannel ch = new EmbeddedChannel();
        hub.open(ch, 0, true, "L");
        ch.runPendingTasks();
        assertFalse(ch.isOpen());
        assertEquals(1.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "truncated").counter().count());
    }

    @Test
    void aBrokenChainInStoredHistoryEndsTheStreamAsAnError() {
        // [1..2], then an object claiming to follow 4: versions 3..4 are missing from the log.
        // Streaming on past the gap would hand the reader a history with a hole; stalling would
        // leave it waiting for ever. The stream ends, counted as an error, and the reader resumes.
        batch(1, 2, 0);
        batch(5, 6, 4);
        batch(7, 10, 6);
        EmbeddedChannel ch = subscribeFromTheStart();
        assertFalse(ch.isOpen(), "the stream ended");
        var dropped = registry.find("weaseldb.subscribers.dropped").tag("reason", "error").counter();
        assertNotNull(dropped, "counted as dropped{reason=\"error\"}");
        assertEquals(1.0, dropped.count());
    }

    @Test
    void anOlderTermsOrphanInsideTheLogIsSkippedNotAnError() {
        // a deposed leader's late write at 5, inside [3..8] of the term that took over: never
        // acknowledged, never part of the log; the stream goes on past it
        batch(1, 2, 0);
        batch(3, 8, 2);
        batch(0, 5, 6, 4);
        batch(9, 10, 8);
        EmbeddedChannel ch = subscribeFromTheStart();
        assertTrue(ch.isOpen(), "the stream goes on");
        assertEquals(0.0, registry.find("weaseldb.subscribers.dropped").counters().stream()
                .mapToDouble(io.micrometer.core.instrument.Counter::count).sum());
        ch.close();
    }
}
