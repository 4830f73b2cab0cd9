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
        return subscribeAfter(hub, ch, 0);
    }

    /** A durable subscription after version {@code after} on its own channel, admitted and opened. */
    static Subscription subscribeAfter(SubscriberHub hub, EmbeddedChannel ch, long after) {
        assertEquals(null, hub.admit(after));
        return hub.open(ch, after, true, "L");
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

    /** A connection whose flushes never reach the socket: what is written stays queued in Netty, as for a client that does not read. */
    static EmbeddedChannel clientThatTakesNothing() {
        return new EmbeddedChannel(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void flush(io.netty.channel.ChannelHandlerContext ctx) {
                // held back
            }
        });
    }

    /**
     * The contract: a live subscriber whose unsent events (in the cache, or queued for its
     * connection) exceed max_buffer_size_bytes and do not shrink is disconnected. Here they are
     * all queued for its connection already.
     */
    @Test
    void aLiveSubscriberWhoseQueuedEventsStayOverTheBoundIsDropped() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, 1000, 0);
        EmbeddedChannel ch = clientThatTakesNothing();
        Subscription s = subscribeFromTheStart(hub, ch);
        append(cache, 1, 20); // 2,000 bytes, queued for the connection at once
        s.pump();
        assertEquals(20, s.cursor(), "nothing left in the cache for it");
        s.tick(clock.nanoTime());
        assertEquals(1, hub.count(), "judged from the next tick: a client that reads may just not have yet");
        clock.advanceMillis(1_000);
        s.tick(clock.nanoTime());
        assertEquals(0, hub.count(), "2,000 bytes behind, not shrinking: dropped");
        assertEquals(1.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "slow").counter().count());
        assertEquals(2, registry.find("weaseldb.subscribe.lag").summary().count(), "lag sampled each tick");
        ch.close();
    }

    /** The bound itself is allowed: a subscriber exactly max_buffer_size_bytes behind stays. */
    @Test
    void aLiveSubscriberExactlyAtTheBoundStays() {
        for (long bound : new long[] {2000, 1999}) {
            EventCache cache = new EventCache(1 << 20, 64, 0);
            SubscriberHub hub = hub(cache, bound, 0);
            EmbeddedChannel ch = SubscriptionHistoryMemoryTest.clientThatStopsReading();
            Subscription s = subscribeFromTheStart(hub, ch);
            append(cache, 1, 10);
            s.pump(); // its client takes [1..10] and no more
            append(cache, 11, 30); // 2,000 bytes it does not take
            s.tick(clock.nanoTime());
            clock.advanceMillis(1_000);
            s.tick(clock.nanoTime());
            assertEquals(bound < 2000 ? 0 : 1, hub.count(), "2,000 bytes behind with a bound of " + bound);
            ch.close();
        }
    }

    /** A live subscriber far behind whose lag shrinks every tick is catching up: it stays. */
    @Test
    void aLiveSubscriberCatchingUpIsNotDropped() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, 500, 0);
        EmbeddedChannel ch = SubscriptionHistoryMemoryTest.clientThatStopsReading(); // one write per tick below
        Subscription s = subscribeFromTheStart(hub, ch);
        append(cache, 1, 10);
        append(cache, 11, 20);
        append(cache, 21, 30);
        for (int tick = 0; tick < 3; tick++) {
            ch.unsafe().outboundBuffer().setUserDefinedWritability(1, true); // the client took what it had
            s.tick(clock.nanoTime());
            clock.advanceMillis(1_000);
            assertTrue(ch.isOpen(), "2,000 then 1,000 then 0 bytes behind");
        }
        assertEquals(30, s.cursor());
        ch.close();
    }

    /** The contract: a subscriber replaying history that takes no bytes at all for 10 s is disconnected. */
    @Test
    void aReplayingSubscriberThatTakesNothingFor10SecondsIsDropped() {
        storedBatch(1, 10);
        storedBatch(11, 20);
        EventCache cache = new EventCache(1 << 20, 64, 20);
        SubscriberHub hub = hub(cache, Long.MAX_VALUE);
        EmbeddedChannel ch = SubscriptionHistoryMemoryTest.clientThatStopsReading();
        Subscription s = subscribeFromTheStart(hub, ch);
        store.takeFor(layout.objectKey(1)).succeed();
        ch.runPendingTasks();
        assertEquals(10, s.cursor(), "the first object went out; then the client stopped reading");
        s.tick(clock.nanoTime());
        clock.advanceMillis(1_000);
        s.tick(clock.nanoTime()); // nothing taken since the last tick: stalled from here
        clock.advanceMillis(9_999);
        s.tick(clock.nanoTime());
        assertTrue(ch.isOpen(), "not yet 10 s");
        clock.advanceMillis(1);
        s.tick(clock.nanoTime());
        assertFalse(ch.isOpen());
        assertEquals(1.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "slow").counter().count());
    }

    /** The contract: an idle stream gets ": keepalive" every keepalive interval (30 s here), looked at once a second. */
    @Test
    void anIdleStreamGetsAKeepaliveEveryInterval() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, Long.MAX_VALUE);
        EmbeddedChannel ch = new EmbeddedChannel();
        Subscription s = subscribeFromTheStart(hub, ch);
        List<Integer> at = new java.util.ArrayList<>();
        for (int second = 1; second <= 65; second++) {
            clock.advanceMillis(1_000);
            s.tick(clock.nanoTime());
            for (String e : SseStream.read(ch)) {
                assertEquals("keepalive", e);
                at.add(second);
            }
        }
        assertEquals(List.of(30, 60), at);
        ch.close();
    }

    /**
     * A live subscriber whose socket was full while the cache moved past it is not cut for that
     * at its next tick: it goes on from storage at its own pace (and is judged as a replay).
     */
    @Test
    void aLiveSubscriberLeftBehindByTheCacheGoesOnFromStorage() {
        for (long f = 1; f <= 21; f += 10) {
            storedBatch(f, f + 9);
        }
        EventCache cache = new EventCache(1000, 64, 0);
        SubscriberHub hub = hub(cache, 10_000);
        EmbeddedChannel ch = SubscriptionHistoryMemoryTest.clientThatStopsReading();
        Subscription s = subscribeFromTheStart(hub, ch);
        LiveStreamTest.appendEncoded(cache, 1, 10);
        s.pump(); // its client takes [1..10] and then nothing for a while
        LiveStreamTest.appendEncoded(cache, 11, 20);
        LiveStreamTest.appendEncoded(cache, 21, 30); // the cache keeps only what fits: [1..20] go
        assertEquals(20, cache.floorVersion());
        s.tick(clock.nanoTime());
        assertTrue(ch.isOpen(), "not cut: it replays from storage");
        ch.unsafe().outboundBuffer().setUserDefinedWritability(1, true); // its client reads again
        s.pump();
        store.takeFor(layout.objectKey(11)).succeed();
        ch.runPendingTasks();
        ch.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        s.pump();
        List<String> all = new java.util.ArrayList<>();
        for (long v = 1; v <= 30; v++) {
            all.add(String.valueOf(v));
        }
        assertEquals(all, SseStream.read(ch));
        ch.close();
    }

    /** An ended stream whose client takes nothing, not even the end, is closed 30 s later. */
    @Test
    void anEndedStreamWhoseClientTakesNothingIsClosedAfter30Seconds() {
        SubscriberHub hub = hub(new EventCache(1 << 20, 64, 0), 1000);
        EmbeddedChannel ch = clientThatTakesNothing();
        ch.freezeTime();
        Subscription s = subscribeFromTheStart(hub, ch);
        s.end("slow");
        ch.advanceTimeBy(29, TimeUnit.SECONDS);
        ch.runPendingTasks();
        assertTrue(ch.isOpen(), "the close waits for the client a while");
        ch.advanceTimeBy(1, TimeUnit.SECONDS);
        ch.runPendingTasks();
        assertFalse(ch.isOpen());
    }

    /** Judged over 10 s from its first sample, whenever that was (the server's clock is not at 0). */
    @Test
    void aReplayingSubscriberIsJudgedOver10SecondsFromItsFirstSample() {
        clock.advanceMillis(100_000);
        storedBatch(1, 10);
        EventCache cache = new EventCache(1 << 20, 64, 10);
        append(cache, 11, 40);
        SubscriberHub hub = hub(cache, 1000);
        EmbeddedChannel ch = new EmbeddedChannel();
        Subscription s = subscribeFromTheStart(hub, ch);
        s.tick(clock.nanoTime());
        clock.advanceMillis(5_000);
        append(cache, 41, 60);
        s.tick(clock.nanoTime());
        assertTrue(ch.isOpen(), "5 s after its first sample: not judged yet");
        clock.advanceMillis(5_000);
        s.tick(clock.nanoTime());
        assertFalse(ch.isOpen());
    }

    /** One that reads exactly as fast as the log grows is no closer after 10 s: it never catches up, and is dropped. */
    @Test
    void aReplayingSubscriberThatKeepsItsDistanceIsDropped() {
        for (long f = 1; f <= 91; f += 10) {
            storedBatch(f, f + 9);
        }
        EventCache cache = new EventCache(1 << 20, 64, 100);
        append(cache, 101, 120);
        SubscriberHub hub = hub(cache, 1000);
        EmbeddedChannel ch = new EmbeddedChannel();
        Subscription s = subscribeFromTheStart(hub, ch);
        s.tick(clock.nanoTime()); // 120 versions behind
        store.takeFor(layout.objectKey(1)).succeed();
        ch.runPendingTasks();
        assertEquals(10, s.cursor());
        append(cache, 121, 130);
        clock.advanceMillis(10_000);
        s.tick(clock.nanoTime()); // still 120 behind
        assertFalse(ch.isOpen());
        assertEquals(1.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "slow").counter().count());
    }

    /** The byte margin is max_buffer_size_bytes plus the sockets' buffers (here 500 + 300): both count. */
    @Test
    void truncationKeepsMaxBufferPlusTheSocketsBuffersBehindAStream() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, 500, 300);
        EmbeddedChannel ch = new EmbeddedChannel();
        Subscription s = subscribeFromTheStart(hub, ch);
        append(cache, 1, 10);
        s.pump();
        assertEquals(0, hub.minCursor());
        append(cache, 11, 20);
        s.pump();
        assertEquals(10, hub.minCursor(), "the position 1,000 bytes back, at least 800 behind the end");
        append(cache, 21, 30);
        s.pump();
        assertEquals(20, hub.minCursor());
        ch.close();
    }

    /**
     * The 15 s rule is for a connection that has taken everything written: a quiet stream whose
     * client takes nothing keeps its hold (what it was sent is still queued for it).
     */
    @Test
    void aQuietStreamWhoseClientTakesNothingKeepsItsHold() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, 10 << 20);
        EmbeddedChannel ch = clientThatTakesNothing();
        Subscription s = subscribeFromTheStart(hub, ch);
        append(cache, 1, 1);
        long version = 1;
        for (int second = 0; second < 40; second++) {
            cache.durable(++version); // a heartbeat marker a second
            s.tick(clock.nanoTime());
            clock.advanceMillis(1_000);
        }
        assertEquals(version, s.cursor());
        assertEquals(0, hub.minCursor(), "everything it was sent is still queued for it");
        ch.close();
    }

    /**
     * An ended stream whose connection does not close (its client takes nothing, not even the
     * end) holds the log until the close's own bound (30 s) plus 15 s.
     */
    @Test
    void anEndedStreamWhoseConnectionDoesNotCloseHoldsTheLogFor45Seconds() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, 800, 0);
        EmbeddedChannel ch = clientThatTakesNothing();
        Subscription s = subscribeFromTheStart(hub, ch);
        for (long v = 1; v <= 21; v += 10) {
            append(cache, v, v + 9);
            s.pump();
        }
        assertEquals(20, hub.minCursor());
        s.end("slow");
        assertTrue(ch.isOpen(), "the close waits for the client");
        clock.advanceMillis(44_000);
        assertEquals(20, hub.minCursor());
        clock.advanceMillis(1_000);
        assertEquals(Long.MAX_VALUE, hub.minCursor());
        ch.close();
    }

    /** Every recently ended stream holds the log, not just the last one. */
    @Test
    void eachEndedStreamKeepsItsOwnHold() {
        EventCache cache = new EventCache(1 << 20, 64, 0);
        SubscriberHub hub = hub(cache, 800, 0);
        EmbeddedChannel a = new EmbeddedChannel();
        EmbeddedChannel b = new EmbeddedChannel();
        assertEquals(null, hub.admit(5));
        Subscription first = hub.open(a, 5, true, "L");
        assertEquals(null, hub.admit(7));
        Subscription second = hub.open(b, 7, true, "L");
        first.end(null);
        second.end(null);
        assertEquals(5, hub.minCursor(), "the first one's client may come back too");
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
