package io.weaseldb.subscribe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.testing.ManualClock;
import io.weaseldb.testing.ManualObjectStore;
import io.weaseldb.txn.Transaction;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Live fan-out: the publisher turns what the persister hands it into cache chunks, and every
 * subscriber's event loop is woken to send what it is missing, once, in order; durable=true
 * streams only what is durable, durable=false everything with checkpoints (docs/api.md).
 */
class LiveStreamTest {
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final LogIndex index = new LogIndex();
    final EventCache cache = new EventCache(1 << 20, 64, 0);
    final SubscriberHub hub = new SubscriberHub(new SubscriberHub.Settings(10, Long.MAX_VALUE, TimeUnit.SECONDS.toNanos(30),
            2, 4), cache, index, new ManualObjectStore().auto(true), new LogLayout(""), Runnable::run,
            new SubscribeMetrics(registry), new ManualClock());
    final Publisher publisher = new Publisher(64, cache, index, hub, "L");

    static Transaction txn(long version, long prev) {
        return new Transaction("r" + version, version, prev, 0, List.of());
    }

    static BatchHeader header(long first, long last) {
        return new BatchHeader(BatchHeader.DATA, 1, "L", first, last, first - 1, first - 1, last, 0,
                (int) (last - first + 1), 0);
    }

    /** Appends versions first..last to {@code cache} as the publisher encodes them, durable at once. */
    static void appendEncoded(EventCache cache, long first, long last) {
        List<Transaction> txns = new ArrayList<>();
        for (long v = first; v <= last; v++) {
            txns.add(txn(v, v - 1));
        }
        int[] offsets = new int[txns.size() + 1];
        cache.append(first, last, new SseEncoder().encode(txns, "L", offsets), offsets);
        cache.durable(last);
    }

    EmbeddedChannel subscribe(long after, boolean durable) {
        EmbeddedChannel ch = new EmbeddedChannel();
        assertNull(hub.admit(after));
        hub.open(ch, after, durable, "L");
        return ch;
    }

    void sequence(long... versions) {
        for (long v : versions) {
            publisher.sequenced(txn(v, v - 1));
        }
    }

    @Test
    void everyLiveSubscriberGetsEachTransactionOnceInOrderAndDurableOnesOnlyWhatIsDurable() {
        EmbeddedChannel eager = subscribe(0, false);
        EmbeddedChannel durable = subscribe(0, true);
        List<String> eagerSaw = new ArrayList<>();
        List<String> durableSaw = new ArrayList<>();

        sequence(1, 2, 3, 6); // 4 and 5 are markers
        assertEquals(4, publisher.doWork(0), "each message handed over is one unit of work");
        eagerSaw.addAll(SseStream.read(eager));
        durableSaw.addAll(SseStream.read(durable));
        assertEquals(List.of("1", "2", "3", "6"), eagerSaw, "durable=false: as soon as sequenced");
        assertEquals(List.of(), durableSaw, "durable=true: nothing is durable yet");

        publisher.durable(header(1, 6), List.of());
        publisher.doWork(0);
        eagerSaw.addAll(SseStream.read(eager));
        durableSaw.addAll(SseStream.read(durable));
        assertEquals(1, index.floor(6), "the durable object is in the index for history replay and retention");

        sequence(7, 8);
        publisher.durable(header(7, 7), List.of()); // 8 is not durable yet: the stream stops inside the chunk
        publisher.doWork(0);
        eagerSaw.addAll(SseStream.read(eager));
        durableSaw.addAll(SseStream.read(durable));
        publisher.durable(header(8, 8), List.of());
        publisher.doWork(0);
        eagerSaw.addAll(SseStream.read(eager));
        durableSaw.addAll(SseStream.read(durable));

        publisher.durable(header(9, 10), List.of()); // a heartbeat: markers only
        publisher.doWork(0);
        eagerSaw.addAll(SseStream.read(eager));
        durableSaw.addAll(SseStream.read(durable));

        assertEquals(List.of("1", "2", "3", "6", "cp6", "7", "8", "cp7", "cp8", "cp10"), eagerSaw);
        assertEquals(List.of("1", "2", "3", "6", "7", "8", "cp10"), durableSaw, "as docs/api.md shows for durable=true");
        assertEquals(12.0, registry.find("weaseldb.subscribe.events").counter().count(), "transaction events sent");
        eager.close();
        durable.close();
    }

    @Test
    void aSubscriberFromInsideAChunkStartsRightAfterItsPosition() {
        sequence(1, 2, 3, 4);
        publisher.durable(header(1, 4), List.of());
        publisher.doWork(0);
        EmbeddedChannel ch = subscribe(2, true);
        assertEquals(List.of("3", "4"), SseStream.read(ch));
        sequence(5);
        publisher.durable(header(5, 5), List.of());
        publisher.doWork(0);
        assertEquals(List.of("5"), SseStream.read(ch));
        ch.close();
    }

    /** What an operator sees: events and bytes sent, the bytes the cache holds; and the default position of a new stream. */
    @Test
    void theHubReportsTheLatestDurableVersionAndTheStreamsTraffic() {
        SubscribeMetrics metrics = new SubscribeMetrics(registry);
        metrics.cacheGauge(cache::retainedBytesApprox);
        EmbeddedChannel ch = subscribe(0, true);
        sequence(1, 2, 3);
        publisher.durable(header(1, 2), List.of());
        publisher.doWork(0);
        assertEquals(2, hub.latestVersion(), "a subscription without after starts at the latest durable version");
        String sent = SseStream.drain(ch);
        assertEquals(List.of("1", "2"), SseStream.events(sent));
        assertEquals(sent.length(), registry.find("weaseldb.subscribe.sent").counter().count());
        assertEquals(cache.totalBytes(), registry.find("weaseldb.subscribe.buffered").gauge().value());
        assertTrue(cache.totalBytes() > 0);
        ch.close();
    }

    /** A stream whose connection is gone gives back its max_subscribers slot at its next pump, counted as no drop. */
    @Test
    void aStreamWhoseConnectionIsGoneEndsAtItsNextPump() {
        EmbeddedChannel ch = subscribe(0, false);
        assertEquals(1, hub.count());
        ch.close();
        sequence(1);
        publisher.doWork(0);
        ch.runPendingTasks();
        assertEquals(0, hub.count());
        double dropped = registry.find("weaseldb.subscribers.dropped").counters().stream()
                .mapToDouble(io.micrometer.core.instrument.Counter::count).sum();
        assertEquals(0.0, dropped, "the client left: not a drop");
    }

    /** A stream that fails (here a corrupt chunk) is ended as an error; its event loop's other work goes on. */
    @Test
    void aStreamThatFailsIsEndedAsAnError() {
        EmbeddedChannel ch = subscribe(0, false);
        cache.append(1, 1, new byte[10], new int[] {0, 100}); // offsets past its data
        hub.notifyLoops();
        ch.runPendingTasks();
        assertFalse(ch.isOpen());
        assertEquals(1.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "error").counter().count());
        assertEquals(0, hub.count());
    }

    /** Each event loop ticks its streams by itself (keepalives, lag), and a stream whose tick fails is ended as an error. */
    @Test
    void theLoopsTickSendsKeepalivesAndEndsAStreamWhoseTickFails() {
        ManualClock clock = new ManualClock();
        SubscriberHub ticking = new SubscriberHub(new SubscriberHub.Settings(10, Long.MAX_VALUE,
                TimeUnit.SECONDS.toNanos(1), 2, 4), cache, index, new ManualObjectStore().auto(true), new LogLayout(""),
                Runnable::run, new SubscribeMetrics(registry), clock);
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        assertNull(ticking.admit(0));
        ticking.open(ch, 0, false, "L");
        clock.advanceMillis(1_000);
        ch.advanceTimeBy(1, TimeUnit.SECONDS);
        ch.runPendingTasks();
        assertEquals(List.of("keepalive"), SseStream.read(ch), "an idle stream's keepalive, from the loop's own tick");
        cache.append(1, 1, new byte[10], new int[] {0, 100}); // no wake-up: the next tick finds it
        clock.advanceMillis(1_000);
        ch.advanceTimeBy(1, TimeUnit.SECONDS);
        ch.runPendingTasks();
        assertFalse(ch.isOpen());
        assertEquals(1.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "error").counter().count());
    }

    /** The contract: the stream of every subscriber ends when this server loses the log; new ones are refused. */
    @Test
    void aFencedPublisherEndsEveryStreamAsLeaderChanged() {
        EmbeddedChannel streaming = subscribe(0, false);
        assertNull(hub.admit(0)); // admitted; its 200 head still on its way
        publisher.fenced("another server claimed the log");
        publisher.doWork(0);
        streaming.runPendingTasks();
        assertFalse(streaming.isOpen(), "ended");
        EmbeddedChannel late = new EmbeddedChannel();
        hub.open(late, 0, false, "L");
        late.runPendingTasks();
        assertFalse(late.isOpen(), "a stream admitted before the end ends as it starts");
        assertEquals(2.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "leader_changed").counter().count());
        assertInstanceOf(SubscriberHub.Refusal.NotLeading.class, hub.admit(0));
    }

    @Test
    void aShutdownEndsStreamsAsShutdown() {
        EmbeddedChannel ch = subscribe(0, false);
        hub.endAll("shutdown: the server stops");
        ch.runPendingTasks();
        assertFalse(ch.isOpen());
        assertEquals(1.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "shutdown").counter().count());
        assertEquals(0.0, registry.find("weaseldb.subscribers.dropped").tag("reason", "leader_changed").counter().count());
    }

    /** The persister offers only while the publisher has room; what it offers then never overflows the queue. */
    @Test
    void whileThePublisherHasRoomItsQueueTakesWhatIsOffered() {
        int offered = 0;
        while (publisher.hasRoom()) {
            assertTrue(offered < 1000, "room without bound");
            publisher.sequenced(txn(offered + 1, offered));
            offered++;
        }
        assertTrue(offered >= 32, "room for most of the queue: " + offered);
        assertEquals(offered, publisher.queueSize());
        assertEquals(offered, publisher.doWork(0));
        assertTrue(publisher.hasRoom());
        assertEquals(offered, cache.sequencedVersion());
    }
}
