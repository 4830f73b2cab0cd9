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
        return hub(cache, maxBufferBytes, SubscriberHub.Settings.DEFAULT_IN_FLIGHT_BYTES);
    }

    SubscriberHub hub(EventCache cache, long maxBufferBytes, long inFlightBytes) {
        return new SubscriberHub(new SubscriberHub.Settings(10, maxBufferBytes, TimeUnit.SECONDS.toNanos(30), 2, 4,
                inFlightBytes), cache, index, store, layout, Runnable::run, new SubscribeMetrics(registry), clock);
    }

    /** Appends versions first..last to the cache, 100 bytes of events each, durable at once. */
    static void append(EventCache cache, long first, long last) {
        appendSized(cache, first, last, 100);
    }

    /** A durable subscription from version 0 on its own channel, admitted and opened. */
    static Subscription subscribeFromTheStart(SubscriberHub hub, EmbeddedChannel ch) {
        assertEquals(null, hub.admit(0));
        return hub.open(ch, 0, true, "L");
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
        Subscription s = subscribeFromTheStart(hub, ch); // its read of [1..10] stays pending
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
        Subscription s = subscribeFromTheStart(hub, ch);
        for (int i = 0; i < 5; i++) {
            s.tick(clock.nanoTime());
            clock.advanceMillis(5_000);
            append(cache, 41 + 10 * i, 50 + 10 * i);
        }
        assertTrue(ch.isOpen(), "5,000 bytes behind, under the 1 MiB bound");
    }

    /** Appends versions first..last to the cache, {@code bytesEach} bytes of events each, durable at once. */
    static void appendSized(EventCache cache, long first, long last, int bytesEach) {
        int n = (int) (last - first + 1);
        int[] offsets = new int[n + 1];
        for (int i = 0; i <= n; i++) {
            offsets[i] = bytesEach * i;
        }
        byte[] data = new byte[bytesEach * n];
        Arrays.fill(data, (byte) 'x');
        cache.append(first, last, data, offsets);
        cache.durable(last);
    }

    @Test
    void aReplayingSubscriberCatchingUpIsNotCutWhenTheTermsEventsGrowLarger() {
        for (long f = 1; f <= 901; f += 100) {
            storedBatch(f, f + 99);
        }
        EventCache cache = new EventCache(1 << 24, 64, 1000); // a new term started at 1000
        appendSized(cache, 1001, 1010, 1); // its first transactions are tiny: 1 byte per version
        SubscriberHub hub = hub(cache, 1024);
        EmbeddedChannel ch = new EmbeddedChannel();
        Subscription s = subscribeFromTheStart(hub, ch);
        s.tick(clock.nanoTime()); // first sample: ~1010 versions * 1 byte behind
        // the client reads 500 versions of history over the next 10 s
        for (int i = 0; i < 5; i++) {
            store.takeFor(layout.objectKey(1 + 100L * i)).succeed();
            ch.runPendingTasks();
        }
        assertEquals(500, s.cursor());
        clock.advanceMillis(10_000);
        appendSized(cache, 1011, 1020, 10_000); // meanwhile load arrives: 10 versions of 10 kB
        s.tick(clock.nanoTime());
        // behind went from 1010 versions to 520: catching up fast (its estimate in bytes grew with the average)
        assertTrue(ch.isOpen(), "its distance in versions halved: not cut, however the bytes per version moved");
    }

    @Test
    void aReplayingSubscriberCatchingUpIsNotCutWhenFirstJudgedOnMarkersOnly() {
        for (long f = 1; f <= 901; f += 100) {
            storedBatch(f, f + 99);
        }
        EventCache cache = new EventCache(1 << 24, 64, 1000); // a new term started at 1000, no transaction yet
        cache.durable(1005); // heartbeats only
        SubscriberHub hub = hub(cache, 1024);
        EmbeddedChannel ch = new EmbeddedChannel();
        Subscription s = subscribeFromTheStart(hub, ch);
        s.tick(clock.nanoTime()); // first sample: bytesPerVersion 0, so the mark is 0
        for (int i = 0; i < 9; i++) {
            store.takeFor(layout.objectKey(1 + 100L * i)).succeed();
            ch.runPendingTasks();
        }
        assertEquals(900, s.cursor());
        clock.advanceMillis(10_000);
        appendSized(cache, 1006, 1010, 200); // ordinary 200-byte transactions arrive
        s.tick(clock.nanoTime());
        // 1005 versions behind -> 110 (the first sample had no bytes per version to judge with)
        assertTrue(ch.isOpen(), "from 1005 to 110 versions behind: not cut");
    }

    /**
     * What a subscriber was sent may still sit in buffers between the server and the client when
     * its connection breaks, and the client resumes from the last event it received. The
     * truncator keeps the stream's position as of max_buffer_size_bytes plus the sockets'
     * buffers ago (here 800 + 0 bytes), not its cursor, and for 15 s after the stream ends.
     */
    @Test
    void truncationKeepsWhatMayStillBeInFlightToASubscriber() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, 800, 0);
        EmbeddedChannel ch = new EmbeddedChannel();
        Subscription s = subscribeFromTheStart(hub, ch);
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

        // Its connection breaks: the hold stays for 15 s, for its client to reconnect at once (as
        // the contract says) from the last event it received, and find it still there.
        s.end(null);
        assertEquals(20, hub.minCursor(), "held for its client to come back");
        clock.advanceMillis(14_000);
        assertEquals(20, hub.minCursor());
        clock.advanceMillis(1_000);
        assertEquals(Long.MAX_VALUE, hub.minCursor(), "15 s after the close nothing holds the log");
    }

    /**
     * A quiet log (heartbeat markers, few bytes) must not hold truncation back for good: what was
     * written 15 s ago has reached a client that reads, so the floor follows a quiet stream 15 s
     * behind.
     */
    @Test
    void aQuietStreamsFloorFollowsIt15SecondsBehind() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, 10 << 20);
        EmbeddedChannel ch = new EmbeddedChannel();
        Subscription s = subscribeFromTheStart(hub, ch);
        append(cache, 1, 1); // 100 bytes, far below the byte margin
        long version = 1;
        for (int second = 0; second < 14; second++) {
            cache.durable(++version); // a heartbeat marker a second
            s.tick(clock.nanoTime());
            clock.advanceMillis(1_000);
        }
        assertEquals(version, s.cursor());
        assertEquals(0, hub.minCursor(), "nothing written is 15 s old yet");
        for (int second = 0; second < 30; second++) {
            cache.durable(++version);
            s.tick(clock.nanoTime());
            clock.advanceMillis(1_000);
        }
        long floor = hub.minCursor();
        assertTrue(floor >= version - 30 + 1 && floor <= version - 15, "about 15 s behind: " + floor + " of " + version);
    }

    /**
     * An empty Netty buffer says only that the kernel took the bytes: a client reading slowly
     * (audit 27: 50 KB/s, replaying history) has megabytes of them still unread in its socket's
     * buffers, and the 15 s rule let truncation pass them, so its reconnect got 410. A stream
     * that writes more than a trickle is paced by its client and keeps its hold by bytes.
     */
    @Test
    void aSlowReadersFloorIsNotReleasedByTimeWhileItsStreamWritesMoreThanATrickle() {
        EventCache cache = new EventCache(1 << 24, 64, 0);
        SubscriberHub hub = hub(cache, 10 << 20);
        EmbeddedChannel ch = new EmbeddedChannel(); // takes everything written: drained after each write
        Subscription s = subscribeFromTheStart(hub, ch);
        long version = 0;
        for (int second = 0; second < 60; second++) {
            // 50 KB a second, as fast as the client reads: 3 MB in the minute, under the byte margin
            appendSized(cache, version + 1, version + 50, 1000);
            version += 50;
            s.tick(clock.nanoTime());
            clock.advanceMillis(1_000);
        }
        assertEquals(version, s.cursor());
        assertEquals(0, hub.minCursor(), "a stream that writes 50 KB/s is not quiet: it keeps its hold by bytes");

        // the log goes quiet (heartbeats only): from 15 s on, the floor follows 15 s behind
        for (int second = 0; second < 40; second++) {
            cache.durable(++version);
            s.tick(clock.nanoTime());
            clock.advanceMillis(1_000);
        }
        long floor = hub.minCursor();
        assertTrue(floor >= 3000 && floor <= version - 15, "quiet again: about 15 s behind: " + floor + " of " + version);
        ch.close();
    }
}
