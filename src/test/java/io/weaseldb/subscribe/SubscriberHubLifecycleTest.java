package io.weaseldb.subscribe;

import static io.weaseldb.subscribe.SubscriptionLagTest.subscribeAfter;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.local.LocalChannel;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.testing.ManualClock;
import io.weaseldb.testing.ManualObjectStore;
import io.weaseldb.txn.Transaction;
import java.lang.ref.WeakReference;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What a hub holds on to: streams waiting for history reads, and its event loops' ticks after its term. */
class SubscriberHubLifecycleTest {

    static Transaction txn(long v) {
        return new Transaction("id-" + v, v, v - 1, 0, List.of());
    }

    /**
     * A hub over log objects 1..10 (one transaction each, stored in {@code store}), with the event
     * cache starting after them (every stream from 0 reads history) and {@code maxReads} history
     * reads at once.
     */
    static SubscriberHub hubOverTenObjects(ManualObjectStore store, LogLayout layout, int maxReads) {
        LogIndex index = new LogIndex();
        for (long v = 1; v <= 10; v++) {
            BatchCodec.Encoder e = new BatchCodec.Encoder();
            e.append(txn(v));
            store.putDirect(layout.objectKey(v),
                    e.seal(new BatchHeader(BatchHeader.DATA, 1, "L", v, v, v - 1, v - 1, v, 0, 1, 0)));
            index.add(v);
        }
        return hub(new EventCache(1 << 20, 64, 10), index, store, TimeUnit.SECONDS.toNanos(30), maxReads);
    }

    static SubscriberHub hub(EventCache cache, LogIndex index, ManualObjectStore store, long tickNanos, int maxReads) {
        return new SubscriberHub(new SubscriberHub.Settings(10, Long.MAX_VALUE, tickNanos, 2, maxReads), cache, index,
                store, new LogLayout(""), Runnable::run, new SubscribeMetrics(new SimpleMeterRegistry()),
                new ManualClock());
    }

    /**
     * A stream replaying history that finds every read slot taken is pumped again on each
     * publisher step and tick; it waits in the queue once, not once per pump (the queue grew by
     * thousands of entries a second under load), and leaves it when it closes.
     */
    @Test
    void aStreamWaitingForAHistoryReadIsQueuedOnce() throws Exception {
        ManualObjectStore store = new ManualObjectStore(); // reads stay pending
        LogLayout layout = new LogLayout("");
        // the cache starts after 10: both streams read history; one read slot server-wide
        SubscriberHub hub = hubOverTenObjects(store, layout, 1);
        EmbeddedChannel a = new EmbeddedChannel();
        EmbeddedChannel b = new EmbeddedChannel();
        subscribeAfter(hub, a, 0); // takes the slot; its read stays pending
        Subscription waiting = subscribeAfter(hub, b, 0);
        // both wait: the first for its second read ahead, the second for its first read
        assertEquals(2, hub.readWaiterCount());
        for (int i = 0; i < 1000; i++) {
            waiting.pump();
        }
        assertEquals(2, hub.readWaiterCount(), "each waits once");
        waiting.end(null);
        assertEquals(1, hub.readWaiterCount(), "a closed stream no longer waits");
        a.close();
        b.close();
    }

    /**
     * Streams replaying history share one read slot here: each is woken when the slot frees up,
     * and every one of them gets its whole history, in order.
     */
    @Test
    void streamsSharingOneHistoryReadSlotEachGetTheirWholeHistory() throws Exception {
        ManualObjectStore store = new ManualObjectStore(); // reads stay pending until answered
        LogLayout layout = new LogLayout("");
        SubscriberHub hub = hubOverTenObjects(store, layout, 1);
        List<EmbeddedChannel> channels = List.of(new EmbeddedChannel(), new EmbeddedChannel(), new EmbeddedChannel());
        List<List<String>> received = List.of(new java.util.ArrayList<>(), new java.util.ArrayList<>(),
                new java.util.ArrayList<>());
        for (EmbeddedChannel ch : channels) {
            assertNull(hub.admit(0));
            hub.open(ch, 0, true, "L");
        }
        for (int i = 0; i < 100 && store.pendingCount() > 0; i++) {
            assertEquals(1, store.pendingCount(), "one read at a time, server-wide");
            store.take().succeed();
            for (int c = 0; c < channels.size(); c++) {
                received.get(c).addAll(SseStream.read(channels.get(c)));
            }
        }
        List<String> all = List.of("1", "2", "3", "4", "5", "6", "7", "8", "9", "10");
        for (List<String> r : received) {
            assertEquals(all, r);
        }
        assertEquals(0, hub.readWaiterCount());
        for (EmbeddedChannel ch : channels) {
            ch.close();
        }
    }

    /**
     * A read slot that frees up goes to a waiting stream that can use it. The first in the queue
     * here has a client that stopped reading: woken, it asked for nothing (it reads only while
     * its connection takes bytes), and the stream behind it waited with the slot free until that
     * client read again, or was dropped 10 s later. It keeps its place and reads once its
     * connection is writable again.
     */
    @Test
    void aFreedReadSlotGoesToAStreamThatCanUseIt() throws Exception {
        ManualObjectStore store = new ManualObjectStore(); // reads stay pending until answered
        LogLayout layout = new LogLayout("");
        SubscriberHub hub = hubOverTenObjects(store, layout, 1);
        EmbeddedChannel stalled = new EmbeddedChannel();
        EmbeddedChannel reader = new EmbeddedChannel();
        Subscription first = subscribeAfter(hub, stalled, 0); // takes the slot; queued for its read-ahead
        subscribeAfter(hub, reader, 0); // queued behind it
        stalled.unsafe().outboundBuffer().setUserDefinedWritability(1, false); // its client stops reading
        store.takeFor(layout.objectKey(1)).succeed(); // its read lands: the slot is free
        stalled.runPendingTasks();
        reader.runPendingTasks();
        assertEquals(1, store.pendingCount(), "the reader reads in the free slot");

        stalled.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        first.pump(); // what its connection handler does when it is writable again
        List<String> fromStalled = new java.util.ArrayList<>();
        List<String> fromReader = new java.util.ArrayList<>();
        for (int i = 0; i < 100 && store.pendingCount() > 0; i++) {
            store.take().succeed();
            fromStalled.addAll(SseStream.read(stalled));
            fromReader.addAll(SseStream.read(reader));
        }
        fromStalled.addAll(SseStream.read(stalled));
        List<String> all = List.of("1", "2", "3", "4", "5", "6", "7", "8", "9", "10");
        assertEquals(all, fromStalled);
        assertEquals(all, fromReader);
        stalled.close();
        reader.close();
    }

    /**
     * A stream that holds history yields its next read to waiting streams that can read now, not
     * to one whose client takes nothing: that one is not woken, so the stream would pass its
     * wake-up on to itself for ever (the simulation found this livelock in a first version of the
     * change above).
     */
    @Test
    @org.junit.jupiter.api.Timeout(value = 10, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
    void aStreamHoldingHistoryDoesNotYieldToAWaiterThatCannotRead() throws Exception {
        ManualObjectStore store = new ManualObjectStore(); // reads stay pending until answered
        LogLayout layout = new LogLayout("");
        // two history reads server-wide, two read ahead per stream
        SubscriberHub hub = hubOverTenObjects(store, layout, 2);
        EmbeddedChannel first = new EmbeddedChannel();
        EmbeddedChannel stalled = new EmbeddedChannel();
        EmbeddedChannel holder = new EmbeddedChannel();
        subscribeAfter(hub, first, 0); // reads 1 and 2: both slots
        Subscription late = subscribeAfter(hub, stalled, 4); // waits
        store.takeFor(layout.objectKey(1)).succeed();
        stalled.runPendingTasks(); // it reads 5, and waits for a slot for 6
        stalled.unsafe().outboundBuffer().setUserDefinedWritability(1, false); // then its client stops reading
        subscribeAfter(hub, holder, 7); // waits behind it
        store.takeFor(layout.objectKey(5)).succeed();
        holder.runPendingTasks(); // it reads 8, and waits for a slot for 9
        store.takeFor(layout.objectKey(2)).succeed(); // a slot frees up: the holder is woken, holding 8
        holder.runPendingTasks();
        assertEquals(store.pending().stream().map(p -> p.key).toList(), List.of(layout.objectKey(8), layout.objectKey(9)),
                "the holder took it: the stream ahead of it cannot read");
        stalled.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        late.pump(); // what its connection handler does when it is writable again
        List<EmbeddedChannel> channels = List.of(first, stalled, holder);
        List<List<String>> received = List.of(new java.util.ArrayList<>(), new java.util.ArrayList<>(),
                new java.util.ArrayList<>());
        for (int i = 0; i < 100; i++) {
            for (int c = 0; c < channels.size(); c++) {
                received.get(c).addAll(SseStream.read(channels.get(c)));
            }
            if (store.pendingCount() == 0) {
                break;
            }
            store.take().succeed();
        }
        assertEquals(List.of("1", "2", "3", "4", "5", "6", "7", "8", "9", "10"), received.get(0));
        assertEquals(List.of("5", "6", "7", "8", "9", "10"), received.get(1));
        assertEquals(List.of("8", "9", "10"), received.get(2));
        for (EmbeddedChannel ch : channels) {
            ch.close();
        }
    }

    /**
     * Event loops outlive terms. A hub whose term ended must not stay reachable through the
     * periodic tick it scheduled on a loop: it holds the term's event cache (up to
     * memory_window_bytes), and a server that gains and loses leadership would keep one per term.
     */
    @Test
    void anEndedHubIsNotKeptAliveByItsEventLoops() throws Exception {
        DefaultEventLoop loop = new DefaultEventLoop();
        try {
            WeakReference<SubscriberHub> ended = endedHubThatHadAStream(loop);
            for (int i = 0; i < 100 && ended.get() != null; i++) {
                System.gc();
                Thread.sleep(20);
            }
            assertNull(ended.get(), "the ended hub was collected");
        } finally {
            loop.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
    }

    private static WeakReference<SubscriberHub> endedHubThatHadAStream(DefaultEventLoop loop) throws Exception {
        SubscriberHub hub = hub(new EventCache(1 << 20, 64, 0), new LogIndex(), new ManualObjectStore().auto(true),
                TimeUnit.MILLISECONDS.toNanos(10), 4);
        LocalChannel ch = new LocalChannel();
        loop.register(ch).sync();
        assertNull(hub.admit(0));
        loop.submit(() -> hub.open(ch, 0, true, "L")).sync();
        hub.endAll("leader_changed");
        ch.close().sync();
        return new WeakReference<>(hub);
    }
}
