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
