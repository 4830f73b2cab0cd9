package io.weaseldb.subscribe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weaseldb.conflict.BTreeConflictSet;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.Term;
import io.weaseldb.pipeline.Outcome;
import io.weaseldb.pipeline.Persister;
import io.weaseldb.pipeline.Releaser;
import io.weaseldb.pipeline.RequestIdIndex;
import io.weaseldb.pipeline.Sequencer;
import io.weaseldb.pipeline.SequencerMessage;
import io.weaseldb.pipeline.TermHistory;
import io.weaseldb.testing.ManualClock;
import io.weaseldb.testing.ManualObjectStore;
import io.weaseldb.testing.RecordingCompletion;
import io.weaseldb.time.IdSource;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The sequencer, persister, releaser and publisher stepped together over a manual store, with a
 * small event cache ring (the server's holds 65,536 chunks).
 */
class PublisherPipelineTest {
    final ManualClock clock = new ManualClock();
    final ManualObjectStore store = new ManualObjectStore();
    final LogLayout layout = new LogLayout("");
    final LogIndex index = new LogIndex();
    final EventCache cache = new EventCache(1 << 30, 16, 0); // a ring of 32 chunks
    final SubscriberHub hub = new SubscriberHub(
            new SubscriberHub.Settings(10, Long.MAX_VALUE, TimeUnit.SECONDS.toNanos(30), 2, 4), cache, index, store,
            layout, Runnable::run, new SubscribeMetrics(new SimpleMeterRegistry()), clock);
    final Publisher publisher = new Publisher(256, cache, index, hub, "leader-1");
    final Releaser releaser = new Releaser(1024);
    final Persister persister = new Persister(new Persister.Settings(1, 1 << 20, 2, 10, 100, 60_000, 1, 4096, 0),
            store, layout, releaser, publisher, Persister.Observer.NONE, clock, IdSource.seeded(7));
    final Sequencer sequencer = new Sequencer(new Sequencer.Settings(5_000, 4096, 1), new BTreeConflictSet(), clock,
            IdSource.seeded(8), persister);

    PublisherPipelineTest() {
        Term term = new Term(1, "leader-1", 0, -1);
        persister.markerSource(sequencer::requestMarker);
        persister.lead(term);
        sequencer.lead(term, new RequestIdIndex(1, 2, 1_000_000, 3_600_000, 0, clock.epochMillis()), new TermHistory());
    }

    void step() {
        for (int i = 0; i < 1000; i++) {
            long now = clock.nanoTime();
            if (sequencer.doWork(now) + persister.doWork(now) + releaser.doWork(now) + publisher.doWork(now) == 0) {
                return;
            }
        }
        throw new AssertionError("the pipeline did not go idle");
    }

    RecordingCompletion commit(int i) {
        RecordingCompletion c = new RecordingCompletion();
        byte[] k = ("k" + i).getBytes(StandardCharsets.UTF_8);
        assertTrue(sequencer.offer(new SequencerMessage.Commit(new CommitRequest(null, null,
                CommitRequest.NO_READ_VERSION, List.of(), List.of(new Operation.Write(k, k)), 0), c)));
        return c;
    }

    /**
     * Storage stalls while commits trickle in, each published on its own step (a chunk per
     * transaction). The ring would fill with non-durable chunks, and the publisher would then wait
     * for a durability notice queued behind the transaction it waits with: subscribers would get
     * nothing more, and once the publisher's queue filled no commit would be answered again. The
     * persister instead holds commits back while the cache cannot take them, and everything flows
     * once storage answers.
     */
    @Test
    void aStorageStallLongerThanTheCacheRingHoldsCommitsBackUntilStorageAnswers() {
        List<RecordingCompletion> commits = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            commits.add(commit(i));
            step();
            clock.advanceMillis(2);
        }
        assertTrue(cache.sequencedVersion() < 32, "the ring never holds more non-durable chunks than it has slots");
        assertTrue(persister.inputSize() > 0, "commits wait for storage before the persister");

        store.auto(true); // storage recovers: every pending and later request succeeds
        for (var p : store.pending()) {
            store.takeFor(p.key).succeed();
        }
        for (int i = 0; i < 200; i++) {
            clock.advanceMillis(5);
            step();
        }
        for (int i = 0; i < 300; i++) {
            commits.add(commit(1000 + i));
            step();
            clock.advanceMillis(2);
        }
        for (int i = 0; i < 50; i++) {
            clock.advanceMillis(5);
            step();
        }
        long lastVersion = 0;
        for (RecordingCompletion c : commits) {
            lastVersion = Math.max(lastVersion, assertInstanceOf(Outcome.Committed.class, c.only()).version());
        }
        assertTrue(persister.durableVersion() >= lastVersion);
        assertEquals(lastVersion, cache.sequencedVersion(), "every transaction reached the cache");
        assertTrue(cache.durableVersion() >= lastVersion, "and subscribers of durable=true see it");
        assertEquals(0, publisher.queueSize());
    }
}
