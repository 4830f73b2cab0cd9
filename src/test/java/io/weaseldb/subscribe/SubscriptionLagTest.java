package io.weaseldb.subscribe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** How far behind a subscriber may be, and what of the log its stream holds back from truncation. */
class SubscriptionLagTest {
    final ManualObjectStore store = new ManualObjectStore(); // history reads stay pending unless answered
    final LogLayout layout = new LogLayout("");
    final LogIndex index = new LogIndex();
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final ManualClock clock = new ManualClock();

    SubscriberHub hub(EventCache cache, long maxBufferBytes) {
        return new SubscriberHub(new SubscriberHub.Settings(10, maxBufferBytes, TimeUnit.SECONDS.toNanos(30), 2, 4),
                cache, index, store, layout, Runnable::run, new SubscribeMetrics(registry), clock);
    }

    /** Appends versions first..last to the cache, 100 bytes of events each, durable at once. */
    static void append(EventCache cache, long first, long last) {
        int n = (int) (last - first + 1);
        int[] offsets = new int[n + 1];
        for (int i = 0; i <= n; i++) {
            offsets[i] = 100 * i;
        }
        byte[] data = new byte[100 * n];
        Arrays.fill(data, (byte) 'x');
        cache.append(first, last, data, offsets);
        cache.durable(last);
    }

    void storedBatch(long first, long last) {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        for (long v = first; v <= last; v++) {
            e.append(new Transaction("id-" + v, v, v - 1, 0, List.of()));
        }
        store.putDirect(layout.objectKey(first), e.seal(new BatchHeader(BatchHeader.DATA, 1, "L", first, last,
                first - 1, first - 1, last, 0, (int) (last - first + 1), 0)));
        index.add(first);
    }

    /**
     * The contract: a subscriber more than max_buffer_size_bytes behind is disconnected. One
     * replaying history (older than the cache) was only ever cut for taking nothing at all, so
     * one that read steadily but slower than the log grew stayed connected, ever further behind,
     * holding back truncation for good.
     */
    @Test
    void aReplayingSubscriberThatDoesNotCatchUpIsDisconnectedAsSlow() {
        storedBatch(1, 10);
        EventCache cache = new EventCache(1 << 20, 64, 10); // versions up to 10 only in storage
        append(cache, 11, 40); // 100 bytes per version
        SubscriberHub hub = hub(cache, 1000);
        EmbeddedChannel ch = new EmbeddedChannel();
        assertEquals(null, hub.admit(0));
        Subscription s = hub.open(ch, 0, true, "L"); // its read of [1..10] stays pending
        s.tick(clock.nanoTime());
        clock.advanceMillis(5_000);
        append(cache, 41, 60);
        s.tick(clock.nanoTime());
        assertTrue(ch.isOpen(), "judged over 10 s, not per tick (a history read can take a while)");
        clock.advanceMillis(5_000);
        append(cache, 61, 80);
        s.tick(clock.nanoTime());
        assertFalse(ch.isOpen(), "8,000 bytes behind and further than 10 s ago: disconnected");
        assertEquals(1.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "slow").counter().count());
    }

    @Test
    void aReplayingSubscriberWithinTheBoundStays() {
        storedBatch(1, 10);
        EventCache cache = new EventCache(1 << 20, 64, 10);
        append(cache, 11, 40);
        SubscriberHub hub = hub(cache, 1 << 20);
        EmbeddedChannel ch = new EmbeddedChannel();
        assertEquals(null, hub.admit(0));
        Subscription s = hub.open(ch, 0, true, "L");
        for (int i = 0; i < 5; i++) {
            s.tick(clock.nanoTime());
            clock.advanceMillis(5_000);
            append(cache, 41 + 10 * i, 50 + 10 * i);
        }
        assertTrue(ch.isOpen(), "5,000 bytes behind, under the 1 MiB bound");
    }

    /**
     * What a subscriber was sent may still sit in buffers between the server and the client when
     * its connection breaks, and the client resumes from the last event it received. The
     * truncator keeps the stream's position as of max_buffer_size_bytes ago, not its cursor.
     */
    @Test
    void truncationKeepsWhatMayStillBeInFlightToASubscriber() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, 800);
        EmbeddedChannel ch = new EmbeddedChannel();
        assertEquals(null, hub.admit(0));
        Subscription s = hub.open(ch, 0, true, "L");
        append(cache, 1, 10); // 1,000 bytes
        s.pump();
        assertEquals(10, s.cursor());
        assertEquals(0, hub.minCursor(), "all of it may still be in flight");
        append(cache, 11, 20);
        s.pump();
        assertEquals(20, s.cursor());
        assertEquals(10, hub.minCursor(), "the position 1,000 bytes back, at least 800 behind the end");
        append(cache, 21, 30);
        s.pump();
        assertEquals(20, hub.minCursor());
    }
}
