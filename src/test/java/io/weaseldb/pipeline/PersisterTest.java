package io.weaseldb.pipeline;

import static io.weaseldb.pipeline.PipelineHarness.settings;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.log.Batch;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.testing.ManualObjectStore;
import io.weaseldb.testing.RecordingCompletion;
import io.weaseldb.txn.Operation;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PersisterTest {

    @Test
    void sendsAtOnceWhenNoWriteIsInFlight() throws Exception {
        var h = new PipelineHarness(settings(50, 1 << 20, 4));
        RecordingCompletion c = h.write("a", "1");
        h.step();
        assertEquals(1, h.store.pendingCount(), "an idle persister must not wait for batch_timeout_ms");
        assertEquals("log/00000000000000000001", h.store.pending().get(0).key);
        assertFalse(c.done(), "not acknowledged before the write is durable");
        h.store.take().succeed();
        h.step();
        var committed = assertInstanceOf(Outcome.Committed.class, c.only());
        assertEquals(1, committed.version());
        assertEquals("leader-1", committed.leaderId());
        assertEquals(1, h.persister.durableVersion());
    }

    @Test
    void collectsWhileWritesAreInFlightUntilTheBatchTimeout() throws Exception {
        var h = new PipelineHarness(settings(5, 1 << 20, 4));
        h.write("a", "1");
        h.step();
        RecordingCompletion b = h.write("b", "2");
        RecordingCompletion c = h.write("c", "3");
        h.step();
        assertEquals(1, h.store.pendingCount(), "second batch must wait while the first is in flight");
        h.advanceMillis(4);
        assertEquals(1, h.store.pendingCount());
        h.advanceMillis(1);
        assertEquals(2, h.store.pendingCount(), "batch_timeout_ms elapsed: the collected batch goes out");
        h.completeAll();
        assertEquals(3, ((Outcome.Committed) c.only()).version());
        assertEquals(2, ((Outcome.Committed) b.only()).version());
        List<Batch> log = h.log();
        assertEquals(2, log.size());
        assertEquals(2, log.get(1).header().count(), "b and c share one log object");
    }

    @Test
    void sendsEarlyWhenTheBatchReachesMaxBytes() {
        var h = new PipelineHarness(settings(10_000, 1024, 4));
        h.write("a", "1");
        h.step();
        for (int i = 0; i < 40; i++) {
            h.write("key-" + i, "x".repeat(100));
        }
        h.step();
        assertTrue(h.store.pendingCount() >= 3, "full batches are sent without waiting for the timeout: "
                + h.store.pendingCount());
    }

    @Test
    void neverHasMoreThanMaxInFlightPutsOutstandingEvenWithRetries() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 2));
        List<RecordingCompletion> all = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            all.add(h.write("k" + i, "v"));
            h.step();
            assertTrue(h.store.pendingCount() <= 2, "in flight: " + h.store.pendingCount());
            if (i % 7 == 0 && h.store.pendingCount() > 0) {
                h.store.take().fail(503); // a retry must reuse the batch's slot
                h.step();
            }
            if (i % 3 == 0) {
                h.advanceMillis(200);
                if (h.store.pendingCount() > 0) {
                    h.store.take().succeed();
                }
            }
        }
        for (int i = 0; i < 100 && !all.stream().allMatch(RecordingCompletion::done); i++) {
            h.advanceMillis(200);
            h.completeAll();
        }
        for (RecordingCompletion c : all) {
            assertInstanceOf(Outcome.Committed.class, c.only());
        }
        assertGapFree(h);
    }

    @Test
    void acknowledgesInVersionOrderWhenWritesCompleteOutOfOrder() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        RecordingCompletion first = h.write("a", "1");
        h.step();
        RecordingCompletion second = h.write("b", "2");
        h.step();
        assertEquals(2, h.store.pendingCount());
        h.store.takeFor("log/00000000000000000002").succeed();
        h.step();
        assertFalse(second.done(), "batch 2 must wait for batch 1");
        assertEquals(0, h.persister.durableVersion());
        h.store.takeFor("log/00000000000000000001").succeed();
        h.step();
        assertTrue(first.done() && second.done());
        assertEquals(2, h.persister.durableVersion());
        assertEquals(List.of(1L, 2L), h.durable.stream().map(BatchHeader::firstVersion).toList());
    }

    /**
     * The leader's lease (LeadershipCheck) counts from the first send of the newest object
     * acknowledged in version order: not from one stored ahead of an earlier one still
     * outstanding, and not from a retry's later send.
     */
    @Test
    void theLeaseCountsFromTheFirstSendOfTheNewestObjectAcknowledgedInOrder() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        assertEquals(Persister.NO_LEASE, h.persister.leaseBaseNanos(), "the claim marker gives no lease");
        h.write("a", "1");
        h.step();
        long firstSent = h.clock.nanoTime();
        h.clock.advanceMillis(10);
        h.write("b", "2");
        h.step();
        long secondSent = h.clock.nanoTime();
        h.clock.advanceMillis(10);
        h.store.takeFor("log/00000000000000000002").succeed();
        h.step();
        assertEquals(Persister.NO_LEASE, h.persister.leaseBaseNanos(), "batch 2 is stored, but batch 1 is not");
        h.store.takeFor("log/00000000000000000001").succeed();
        h.step();
        assertEquals(secondSent, h.persister.leaseBaseNanos());
        assertTrue(secondSent > firstSent);

        h.write("c", "3");
        h.step();
        long thirdSent = h.clock.nanoTime();
        h.store.takeFor("log/00000000000000000003").fail(503);
        h.step();
        h.clock.advanceMillis(5_000); // past any backoff: the retry is sent later
        h.step();
        h.store.takeFor("log/00000000000000000003").succeed();
        h.step();
        assertEquals(3, h.persister.durableVersion());
        assertEquals(thirdSent, h.persister.leaseBaseNanos(), "from the first send, not the retry's");
    }

    @Test
    void retriesTransientErrorsWithBackoff() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        RecordingCompletion c = h.write("a", "1");
        h.step();
        h.store.take().fail(503);
        h.step();
        assertEquals(0, h.store.pendingCount(), "a retry waits for its backoff");
        h.advanceMillis(10); // initial backoff is 10 ms with jitter in [5, 10]
        assertEquals(1, h.store.pendingCount());
        h.store.take().fail(0); // timeout / reset
        h.step();
        h.advanceMillis(20);
        h.store.take().succeed();
        h.step();
        assertEquals(1, ((Outcome.Committed) c.only()).version());
        assertEquals(3, h.store.putCount());
    }

    /**
     * Audit 40's list: the wait before each retry doubles from the initial backoff up to the cap,
     * with jitter in [half, whole]; a storage outage must not be hammered at the initial rate
     * (a mutant that never grew the backoff survived every test).
     */
    @Test
    void theRetryBackoffDoublesUpToItsCap() {
        var h = new PipelineHarness(new Persister.Settings(0, 1 << 20, 4, 10, 100, 600_000, 1, 4096, 0));
        RecordingCompletion c = h.write("a", "1");
        h.step();
        long[] ceilings = {10, 20, 40, 80, 100, 100, 100};
        for (long ceiling : ceilings) {
            h.store.take().fail(503);
            h.step();
            long waited = 0;
            while (h.store.pendingCount() == 0) {
                h.advanceMillis(1);
                waited++;
                assertTrue(waited <= ceiling, "retried after " + waited + " ms, the backoff is at most " + ceiling);
            }
            assertTrue(waited >= ceiling / 2, "retried after " + waited + " ms, the backoff is at least " + ceiling / 2);
        }
        h.store.take().succeed();
        h.step();
        assertEquals(1, ((Outcome.Committed) c.only()).version());
        assertEquals(ceilings.length + 1, h.store.putCount());
    }

    @Test
    void aLostSuccessReplyIsResolvedByReadingTheObjectBack() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        RecordingCompletion c = h.write("a", "1");
        h.step();
        h.store.take().applyAndLoseReply();
        h.step();
        h.advanceMillis(10);
        h.completeAll(); // retry gets 412, then reads the object: it is ours
        assertEquals(1, ((Outcome.Committed) c.only()).version());
        assertEquals(1, h.log().size());
        assertTrue(h.persister.leading());
    }

    /**
     * Audit 22: storage answering 412 to the write while no object is there (a proxy, a bug, an
     * object deleted meanwhile) made the persister write again at once, over and over, at full
     * CPU and with no retry counted. It is a failed attempt, retried after the backoff.
     */
    @Test
    void a412WithNoObjectThereIsRetriedAfterTheBackoffNotAtOnce() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        RecordingCompletion c = h.write("a", "1");
        h.step();
        String key = h.store.pending().get(0).key;
        h.store.putDirect(key, new byte[] {1, 2, 3}); // there for the write: 412
        h.store.take().succeed();
        h.step(); // reads it back
        h.store.auto(true);
        h.store.delete(java.util.List.of(key)).get(); // gone before the read
        h.store.auto(false);
        h.store.take().succeed(); // the read: 404
        h.step();
        assertEquals(0, h.store.pendingCount(), "no write again before the backoff");
        h.advanceMillis(10);
        assertEquals(1, h.store.pendingCount(), "written again after it");
        h.store.take().succeed();
        h.step();
        assertEquals(1, ((Outcome.Committed) c.only()).version());
    }

    @Test
    void answersUnknownAfterTheRetryBudgetThenRecoversWhenStorageReturns() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4)); // budget 1000 ms, max backoff 100 ms
        RecordingCompletion c = h.write("a", "1");
        h.step();
        h.failStorageFor(1000);
        h.step();
        var unknown = assertInstanceOf(Outcome.Unavailable.class, c.only());
        assertTrue(unknown.outcomeUnknown(), "the batch may still land: outcome unknown");
        // api.md: the 503 names the leader when known, as the not_committed ones do
        var answer = io.weaseldb.http.Responses.outcome(io.netty.buffer.UnpooledByteBufAllocator.DEFAULT, unknown);
        try {
            assertEquals(503, answer.status().code());
            assertEquals("{\"error\":\"unavailable\",\"message\":\"storage did not confirm the write in time\","
                    + "\"outcome\":\"unknown\",\"request_id\":\"" + unknown.requestId() + "\",\"leader_id\":\"leader-1\"}",
                    answer.content().toString(java.nio.charset.StandardCharsets.UTF_8));
        } finally {
            answer.release();
        }
        assertFalse(h.persister.storageHealthy());
        // /ok says why at once, rather than waiting out probe_timeout_ms behind the stuck batch
        RecordingCompletion probe = h.probe();
        h.step();
        var sick = assertInstanceOf(Outcome.Unavailable.class, probe.only());
        assertEquals("storage is not accepting log writes", sick.message());
        RecordingCompletion refused = h.write("b", "2");
        h.step();
        var notCommitted = assertInstanceOf(Outcome.Unavailable.class, refused.only());
        assertFalse(notCommitted.outcomeUnknown(), "refused before sequencing: definitely not committed");

        h.advanceMillis(100);
        var logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(Persister.class);
        var events = new ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent>();
        events.start();
        logger.addAppender(events);
        try {
            h.completeAll(); // storage is back: the old batch lands
        } finally {
            logger.detachAppender(events);
        }
        assertTrue(h.persister.storageHealthy());
        // the outage's ERROR line has a counterpart that says when it ended
        assertEquals(1, events.list.stream().filter(e -> e.getFormattedMessage()
                .endsWith("; storage is taking log writes again")).count(), events.list.toString());
        assertEquals(1, h.persister.durableVersion());
        assertEquals(1, h.log().size(), "the unknown commit did commit, exactly once");
        assertEquals(1, c.outcomes().size(), "no second answer for the same request");
        RecordingCompletion after = h.write("c", "3");
        h.completeAll();
        assertEquals(2, ((Outcome.Committed) after.only()).version());
    }

    /** A persister whose looks at the log ({@link Persister#confirmLeadershipWith}) the test answers; lease 100 ms. */
    private static List<java.util.concurrent.CompletableFuture<Boolean>> looksAnsweredByHand(PipelineHarness h) {
        List<java.util.concurrent.CompletableFuture<Boolean>> looks = new ArrayList<>();
        h.persister.confirmLeadershipWith(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(100), h.clock.nanoTime(), () -> {
            var f = new java.util.concurrent.CompletableFuture<Boolean>();
            looks.add(f);
            return f;
        });
        return looks;
    }

    /** Storage refuses every look still waiting for an answer (a LIST outage). */
    private static void failPending(List<java.util.concurrent.CompletableFuture<Boolean>> looks) {
        for (var f : looks) {
            if (!f.isDone()) {
                f.completeExceptionally(new io.weaseldb.s3.StorageException(
                        io.weaseldb.s3.StorageException.Kind.TRANSIENT, 503, "slow down", null));
            }
        }
    }

    /**
     * Audit 13: a leader paused (or cut off) past its lease while another took the log over and
     * truncated it wrote into the names that truncation freed, and acknowledged commits that are
     * in no log. Past the lease a write that landed is acknowledged only after a look at the log
     * finds no newer term; one that does fences this server, and the commit's outcome is unknown.
     */
    @Test
    void pastTheLeaseALandedWriteWaitsForALookAndANewerTermFences() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        var looks = looksAnsweredByHand(h);
        RecordingCompletion early = h.write("a", "1");
        h.completeAll();
        assertInstanceOf(Outcome.Committed.class, early.only());
        assertTrue(looks.isEmpty(), "within the lease: no look");

        h.clock.advanceMillis(150); // paused past the lease
        RecordingCompletion late = h.write("b", "2");
        h.completeAll();
        assertFalse(late.done(), "stored, but not acknowledged before the look");
        assertEquals(1, looks.size());
        assertEquals(1, h.persister.durableVersion());
        looks.get(0).complete(false); // the look found a newer term's object
        h.step();
        var lost = assertInstanceOf(Outcome.Unavailable.class, late.only());
        assertTrue(lost.outcomeUnknown(), "its object may be in the log (if it landed before the claim): unknown");
        assertFalse(h.persister.leading());
        assertTrue(h.fencedReason.contains("newer term"), h.fencedReason);
        assertEquals(1, h.persister.durableVersion(), "acknowledged nothing more");
    }

    @Test
    void pastTheLeaseALookThatFindsNoNewerTermAcknowledgesAndAFailedOneIsMadeAgain() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        var looks = looksAnsweredByHand(h);
        h.clock.advanceMillis(150); // the first write of the term, past the lease counted from the claim
        RecordingCompletion c = h.write("a", "1");
        h.completeAll();
        assertEquals(1, looks.size());
        looks.get(0).completeExceptionally(new io.weaseldb.s3.StorageException(io.weaseldb.s3.StorageException.Kind.TRANSIENT,
                503, "slow down", null));
        h.step();
        assertFalse(c.done());
        assertEquals(1, looks.size(), "not again at once");
        h.advanceMillis(Persister.LOOK_RETRY_NANOS / 1_000_000);
        assertEquals(2, looks.size(), "made again after a pause");
        looks.get(1).complete(true);
        h.step();
        assertInstanceOf(Outcome.Committed.class, c.only());
        // the lease counts from when the newest acknowledged write was sent (long ago): the next
        // write is looked at too; from then on the lease holds again
        RecordingCompletion next = h.write("b", "2");
        h.completeAll();
        assertEquals(3, looks.size());
        looks.get(2).complete(true);
        h.step();
        assertInstanceOf(Outcome.Committed.class, next.only());
        RecordingCompletion third = h.write("c", "3");
        h.completeAll();
        assertInstanceOf(Outcome.Committed.class, third.only());
        assertEquals(3, looks.size(), "within the lease of the write just acknowledged: no look");
    }

    /**
     * Review 17: a look confirmed only the batch at the head, so after one stall past the lease,
     * with batches queued behind looks, each batch was acknowledged a few looks after it was
     * sent, past the lease again: a look per batch, for good. A look now confirms every batch
     * stored when it started. 1 commit per ms, 8 in flight, lease 100 ms, a 150 ms stall, looks
     * answered after 15 ms: none needed in the last second.
     */
    @Test
    void afterAStallPastTheLeaseTheLooksStop() {
        var h = new PipelineHarness(settings(0, 1 << 20, 8));
        List<java.util.concurrent.CompletableFuture<Boolean>> looks = new ArrayList<>();
        List<Long> startedAt = new ArrayList<>();
        h.persister.confirmLeadershipWith(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(100), h.clock.nanoTime(), () -> {
            var f = new java.util.concurrent.CompletableFuture<Boolean>();
            looks.add(f);
            startedAt.add(h.clock.nanoTime());
            return f;
        });
        List<RecordingCompletion> commits = new ArrayList<>();
        int looksBeforeLastSecond = 0;
        for (int t = 0; t < 3000; t++) {
            if (t == 2000) {
                looksBeforeLastSecond = looks.size();
            }
            commits.add(h.write("k" + t, "v"));
            h.step();
            if (t < 500 || t >= 650) { // storage stalls from 500 to 650 ms
                for (ManualObjectStore.Pending p : h.store.pending()) {
                    h.store.takeFor(p.key).succeed();
                }
            }
            for (int i = 0; i < looks.size(); i++) {
                if (!looks.get(i).isDone() && h.clock.nanoTime() - startedAt.get(i) >= 15_000_000L) {
                    looks.get(i).complete(true);
                }
            }
            h.step();
            h.clock.advanceMillis(1);
        }
        assertTrue(looksBeforeLastSecond > 0, "the stall needed looks");
        assertEquals(looksBeforeLastSecond, looks.size(), "none in the last second");
        for (int i = 2000; i < 2900; i++) {
            assertInstanceOf(Outcome.Committed.class, commits.get(i).only());
        }
    }

    /**
     * Review 17: a stored batch waiting for a look that storage never answers was outside the
     * retry budget: its commits were never answered. Now they are 503 unknown after the budget;
     * once a look answers, commits go on.
     */
    @Test
    void aCommitWaitingForFailingLooksIsUnknownAfterTheRetryBudget() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4)); // retry budget 1000 ms
        var looks = looksAnsweredByHand(h);
        h.clock.advanceMillis(150);
        RecordingCompletion c = h.write("a", "1");
        h.completeAll();
        for (int i = 0; i < 12; i++) {
            failPending(looks);
            h.advanceMillis(100);
        }
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, c.only()).outcomeUnknown());
        // review 19: storage took the write, only leadership was unconfirmed; marking storage
        // unhealthy refused every commit for good with heartbeats off (no later write to clear it)
        assertTrue(h.persister.storageHealthy());
        for (var f : looks) {
            f.complete(true);
        }
        h.step();
        RecordingCompletion next = h.write("b", "2");
        h.completeAll();
        for (var f : looks) {
            f.complete(true);
        }
        h.step();
        assertInstanceOf(Outcome.Committed.class, next.only());
    }

    /**
     * A stored batch answered unknown while its look is still out has nothing more for the budget
     * to do, even with a reply attached to it later: its deadline must not stay in the past (the
     * runner would spin until the look answers).
     */
    @Test
    void aStoredBatchAnsweredUnknownWhileItsLookIsOutSetsNoPastDeadline() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4)); // retry budget 1000 ms
        var looks = looksAnsweredByHand(h);
        h.clock.advanceMillis(150);
        RecordingCompletion c = h.write("a", "1");
        h.completeAll();
        assertEquals(1, looks.size(), "a look is out and stays unanswered");
        h.advanceMillis(1_100);
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, c.only()).outcomeUnknown());
        RecordingCompletion probe = h.probe(); // its reply waits on the stored batch
        h.step();
        assertTrue(h.persister.nextDeadlineNanos() > h.clock.nanoTime(), "no deadline that has passed");
        looks.get(0).complete(true);
        h.step();
        assertTrue(probe.done());
    }

    /** Review 17: a reply read after a pause is judged at the time it is read, not at the pass's start. */
    @Test
    void aReplyReadAfterAPauseIsNotJudgedByTheTimeThePassBegan() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        var looks = looksAnsweredByHand(h);
        RecordingCompletion c = h.write("a", "1");
        h.step();
        long sampled = h.clock.nanoTime(); // the runner reads the time, then pauses
        h.clock.advanceMillis(10_000);
        h.store.take().succeed();
        h.persister.doWork(sampled);
        assertEquals(1, looks.size(), "the write was acknowledged 10 s later: a look first");
        assertFalse(c.done());
    }

    @Test
    void anotherLeadersObjectFencesThisServer() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        BatchHeader theirs = BatchHeader.termStart(2, "leader-2", 1, 0, -1, 0);
        h.store.putDirect("log/00000000000000000001", BatchCodec.encodeEmpty(theirs));
        RecordingCompletion c = h.write("a", "1");
        h.completeAll();
        var lost = assertInstanceOf(Outcome.Unavailable.class, c.only());
        assertTrue(lost.outcomeUnknown());
        assertFalse(h.persister.leading());
        assertTrue(h.fencedReason.contains("leader-2"), h.fencedReason);
        RecordingCompletion next = h.write("b", "2");
        h.completeAll();
        var refused = assertInstanceOf(Outcome.Unavailable.class, next.only());
        assertFalse(refused.outcomeUnknown());
        RecordingCompletion probe = h.probe();
        h.completeAll();
        assertInstanceOf(Outcome.Unavailable.class, probe.only());
        assertEquals(0, h.persister.durableVersion(), "a deposed leader acknowledges nothing more");
    }

    @Test
    void anObjectOfTheSameTermByAnotherWriterFencesItIsNotReplaced() throws Exception {
        // Terms are unique per claim, so this means two writers believe they own term 1: only an
        // older term's object (an orphan) may be replaced; anything else is someone else's log
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        byte[] theirs = BatchCodec.encodeEmpty(BatchHeader.termStart(1, "leader-1-twin", 1, 0, -1, 0));
        h.store.putDirect("log/00000000000000000001", theirs);
        RecordingCompletion c = h.write("a", "1");
        h.completeAll();
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, c.only()).outcomeUnknown());
        assertFalse(h.persister.leading());
        assertTrue(h.fencedReason.contains("leader-1-twin"), h.fencedReason);
        assertArrayEquals(theirs, h.store.objects().get("log/00000000000000000001"), "their object is left as it is");
    }

    @Test
    void aDeposedLeaderAnswersADurabilityReplyArrivingAfterTheFenceUnknown() {
        // e.g. a retried request id whose original the sequencer had seen: its "committed" waits
        // for durability, which a fenced leader can no longer give (a SimulationTest seed caught
        // this branch; the tests above attach their replies before the fence)
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        newerLeaderWroteVersion1(h);
        h.write("a", "1");
        h.completeAll();
        assertFalse(h.persister.leading());
        RecordingCompletion late = new RecordingCompletion();
        h.persister.accept(new Sequenced.Reply(new Outcome.Committed(1, "leader-1", "r-1", true), late, true));
        h.completeAll();
        var u = assertInstanceOf(Outcome.Unavailable.class, late.only(), "never 'committed' from a deposed leader");
        assertTrue(u.outcomeUnknown());
    }

    @Test
    void anOlderTermsOrphanIsReplacedByCompareAndSwap() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        BatchHeader orphan = BatchHeader.termStart(0, "old", 1, 0, -1, 0);
        h.store.putDirect("log/00000000000000000001", BatchCodec.encodeEmpty(orphan));
        RecordingCompletion c = h.write("a", "1");
        h.completeAll();
        assertEquals(1, ((Outcome.Committed) c.only()).version());
        assertEquals("leader-1", h.log().get(0).header().leaderId());
    }

    /** Another leader, of term 2, has claimed the log with its term start at version 1. */
    private static void newerLeaderWroteVersion1(PipelineHarness h) {
        h.store.putDirect("log/00000000000000000001", BatchCodec.encodeEmpty(BatchHeader.termStart(2, "leader-2", 1, 0, -1, 0)));
    }

    /**
     * An older term's orphan at {@code key}; a write of version 1 meets it (412), reads it, and
     * asks to replace it by compare-and-swap, which is left pending for the test.
     */
    private static RecordingCompletion writeOverAnOrphan(PipelineHarness h, String key) {
        h.store.putDirect(key, BatchCodec.encodeEmpty(BatchHeader.termStart(0, "old", 1, 0, -1, 0)));
        RecordingCompletion c = h.write("a", "1");
        h.step();
        h.store.takeFor(key).succeed(); // the write: 412, something is there
        h.step();
        h.store.takeFor(key).succeed(); // the read: an older term's orphan
        h.step();
        return c;
    }

    /**
     * Audit 40's remaining list: the compare-and-swap that replaces an orphan can lose to another
     * write of that name between the persister's read and its swap. Storage then answers "not
     * replaced", and the batch is not stored: the persister must look again, and answer nothing
     * until its own bytes are there (a negated check here acknowledged a batch not stored, and no
     * test saw it).
     */
    @Test
    void aReplaceThatLosesItsCompareAndSwapLooksAgainAndAcknowledgesOnlyOnceStored() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        String key = "log/00000000000000000001";
        RecordingCompletion c = writeOverAnOrphan(h, key);
        ManualObjectStore.Pending swap = h.store.takeFor(key);
        assertEquals("putIfMatch", swap.op);
        // another orphan of an older term lands meanwhile (a deposed leader's late write)
        byte[] late = BatchCodec.encodeEmpty(BatchHeader.termStart(0, "older-late", 1, 0, -1, 0));
        h.store.putDirect(key, late);
        swap.succeed();
        h.step();
        assertFalse(c.done(), "not answered: its bytes are not stored");
        assertEquals(0, h.persister.durableVersion());
        assertArrayEquals(late, h.store.objects().get(key));
        ManualObjectStore.Pending again = h.store.takeFor(key);
        assertEquals("get", again.op, "it reads the name again");
        again.succeed();
        h.completeAll();
        assertEquals(1, ((Outcome.Committed) c.only()).version());
        assertEquals("leader-1", h.log().get(0).header().leaderId(), "its own batch replaced the late orphan");
    }

    /**
     * Audit 40's list: a batch still in flight when the persister is fenced, landing afterwards,
     * is neither acknowledged nor handed to the subscribers: its commits were answered "unknown"
     * at the fence (a new leader's recovery decides whether it counts), once.
     */
    @Test
    void aFencedLeadersBatchLandingLaterIsNotAcknowledged() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        newerLeaderWroteVersion1(h);
        RecordingCompletion first = h.write("a", "1");
        h.step();
        RecordingCompletion second = h.write("b", "2");
        h.step();
        ManualObjectStore.Pending late = h.store.takeFor("log/00000000000000000002");
        h.completeAll(); // the first finds leader-2's object: fenced
        assertFalse(h.persister.leading());
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, second.only()).outcomeUnknown());
        late.succeed(); // the second's write lands after the fence
        h.completeAll();
        assertEquals(1, second.outcomes().size(), "answered once, at the fence");
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, first.only()).outcomeUnknown());
        assertEquals(0, h.persister.durableVersion());
        assertTrue(h.durableTxns.isEmpty(), "nothing handed to subscribers as durable");
        assertFalse(h.persister.storageHealthy(), "a deposed leader does not count storage healthy again");
    }

    /** The same race lost to a newer term's object: another server leads, so it fences and stores nothing. */
    @Test
    void aReplaceThatLosesItsCompareAndSwapToANewerTermFences() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        String key = "log/00000000000000000001";
        RecordingCompletion c = writeOverAnOrphan(h, key);
        ManualObjectStore.Pending swap = h.store.takeFor(key);
        byte[] theirs = BatchCodec.encodeEmpty(BatchHeader.termStart(2, "leader-2", 1, 0, -1, 0));
        h.store.putDirect(key, theirs);
        swap.succeed();
        h.completeAll();
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, c.only()).outcomeUnknown());
        assertFalse(h.persister.leading());
        assertTrue(h.fencedReason.contains("leader-2"), h.fencedReason);
        assertArrayEquals(theirs, h.store.objects().get(key), "their object is left as it is");
    }

    /** A swap that fails (storage error) is retried after the backoff like any write, and lands. */
    @Test
    void aReplaceThatFailsIsRetriedAndLands() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        String key = "log/00000000000000000001";
        RecordingCompletion c = writeOverAnOrphan(h, key);
        h.store.takeFor(key).fail(503);
        h.step();
        assertFalse(c.done());
        assertEquals(0, h.store.pendingCount(), "not at once: after the backoff");
        h.advanceMillis(200);
        h.completeAll();
        assertEquals(1, ((Outcome.Committed) c.only()).version());
        assertEquals("leader-1", h.log().get(0).header().leaderId());
    }

    /**
     * Audit 40: the persister hands the log listener (the publisher, whose ring holds them) at most
     * maxUndurableTransactions not yet durable, and counts them down as they become durable; a
     * mutant that never counted down wedged the pipeline after that many commits, one that never
     * counted up ignored the bound. Neither was caught.
     */
    @Test
    void theListenerHoldsAtMostItsBoundOfTransactionsNotYetDurableAndTheBoundDoesNotWedge() {
        var h = new PipelineHarness(settings(0, 1 << 20, 8), 5_000, new io.weaseldb.log.Term(1, "leader-1", 0, -1),
                1_000_000, 3);
        h.completeAll();
        List<RecordingCompletion> held = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            held.add(h.write("held-" + i, "v"));
            h.step();
        }
        assertEquals(3, h.sequenced.size(), "only 3 handed over while none is durable");
        h.completeAll();
        for (RecordingCompletion c : held) {
            assertInstanceOf(Outcome.Committed.class, c.only());
        }
        for (int i = 0; i < 10; i++) {
            RecordingCompletion c = h.write("one-at-a-time-" + i, "v");
            h.completeAll();
            assertInstanceOf(Outcome.Committed.class, c.only(), "commit " + i + " after the first 6");
        }
        assertEquals(16, h.durableTxns.size());
    }

    @Test
    void conflictRepliesWaitForTheTransactionsSequencedBeforeThem() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        h.write("a", "1");
        h.step();
        RecordingCompletion stale = h.commit(PipelineHarness.request(
                List.of(new io.weaseldb.txn.Precondition.PointRead(PipelineHarness.b("a"), 0)), List.of(), 0));
        h.step();
        assertFalse(stale.done(), "its retry version 1 is not durable yet");
        h.store.take().succeed();
        h.step();
        var conflict = assertInstanceOf(Outcome.Conflict.class, stale.only());
        assertEquals(1, conflict.version());
        assertEquals(List.of(0), conflict.conflicts());
    }

    /**
     * Audit 34: a too_old or leader_changed 409 names the latest version sequenced as the one to
     * retry from. Answered before it was stored, a leader change could leave that version newer
     * than the log, and the client's retry from it a 400. Both wait for it, and become 503
     * not_committed if it is never stored.
     */
    @Test
    void tooOldAndLeaderChangedRepliesWaitUntilTheVersionTheyNameIsStored() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4), 5_000, new io.weaseldb.log.Term(3, "L3", 10, 8));
        h.completeAll();
        h.write("a", "1");
        h.step();
        RecordingCompletion old = h.commit(PipelineHarness.request(
                List.of(new io.weaseldb.txn.Precondition.PointRead(PipelineHarness.b("x"), 7)), List.of(), -1));
        RecordingCompletion other = h.commit(new io.weaseldb.txn.CommitRequest(null, "someone-else", -1, List.of(), List.of(), 0));
        h.step();
        assertFalse(old.done(), "version 11 is not stored yet");
        assertFalse(other.done(), "version 11 is not stored yet");
        h.completeAll();
        assertEquals(11, assertInstanceOf(Outcome.TooOld.class, old.only()).version());
        assertEquals(11, assertInstanceOf(Outcome.LeaderChanged.class, other.only()).version());

        h.write("b", "2");
        h.step();
        RecordingCompletion lostOld = h.commit(PipelineHarness.request(
                List.of(new io.weaseldb.txn.Precondition.PointRead(PipelineHarness.b("x"), 7)), List.of(), -1));
        RecordingCompletion lostOther = h.commit(new io.weaseldb.txn.CommitRequest(null, "someone-else", -1, List.of(), List.of(), 0));
        h.step();
        h.failStorageFor(1000);
        h.step();
        for (RecordingCompletion c : List.of(lostOld, lostOther)) {
            var answer = assertInstanceOf(Outcome.Unavailable.class, c.only(), "version 12 may never be stored");
            assertFalse(answer.outcomeUnknown(), "the refused commit itself was certainly not applied");
            assertTrue(answer.message().contains("the commit was not applied"), answer.message());
        }
    }

    /**
     * Review 37: a refusal that names a version waits for it, also behind a batch already answered
     * "unknown" that is stored and waits for a look at the log storage keeps failing. It is
     * answered 503 not_committed within the retry budget, not left waiting for the look.
     */
    @Test
    void aTooOldBehindAStoredBatchWaitingForFailingLooksIsAnsweredWithinTheBudget() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4), 5_000, new io.weaseldb.log.Term(3, "L3", 10, 8));
        h.completeAll();
        var looks = looksAnsweredByHand(h);
        h.clock.advanceMillis(150); // past the lease
        RecordingCompletion c = h.write("a", "1");
        h.completeAll();
        assertEquals(1, looks.size());
        h.advanceMillis(1_100); // past the retry budget: the stored, unconfirmed commit is answered unknown
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, c.only()).outcomeUnknown());
        RecordingCompletion old = h.commit(PipelineHarness.request(
                List.of(new io.weaseldb.txn.Precondition.PointRead(PipelineHarness.b("x"), 7)), List.of(), -1));
        h.step();
        for (int i = 0; i < 20 && !old.done(); i++) {
            failPending(looks);
            h.advanceMillis(100);
        }
        var answer = assertInstanceOf(Outcome.Unavailable.class, old.only(), "answered within two seconds of looks failing");
        assertFalse(answer.outcomeUnknown(), "the too_old commit itself was certainly not applied");
    }

    /**
     * Review 37: a batch stored behind one that is not is no part of the log until that one lands
     * (acknowledgement is in order). When the earlier one outlives the retry budget, the later
     * one's commits, and a refusal waiting on it, are answered within the budget too, "unknown",
     * rather than waiting for storage however long.
     */
    @Test
    void aBatchStoredBehindOneStorageDoesNotTakeIsAnsweredWithinTheBudget() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4), 5_000, new io.weaseldb.log.Term(3, "L3", 10, 8));
        h.completeAll();
        RecordingCompletion first = h.write("a", "1");
        h.step();
        RecordingCompletion second = h.write("b", "2");
        h.step();
        var pending = h.store.pending();
        assertEquals(2, pending.size(), pending.toString());
        h.store.takeFor(pending.get(1).key).succeed();
        h.step();
        RecordingCompletion old = h.commit(PipelineHarness.request(
                List.of(new io.weaseldb.txn.Precondition.PointRead(PipelineHarness.b("x"), 7)), List.of(), -1));
        h.step();
        h.failStorageFor(1_500);
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, first.only()).outcomeUnknown());
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, second.only(), "stored, but after a hole").outcomeUnknown());
        assertFalse(assertInstanceOf(Outcome.Unavailable.class, old.only()).outcomeUnknown());
        // once storage takes the first, both are in the log, in order, and nothing is answered twice
        h.completeAll();
        assertEquals(1, first.outcomes().size());
        assertEquals(1, second.outcomes().size());
        assertEquals(List.of(11L, 12L), h.durableTxns.stream().map(t -> t.version()).toList());
    }

    /**
     * Review 39: a batch stored and confirmed by an earlier look, behind one whose own looks keep
     * failing, can be acknowledged only after it: its commit is answered within the budget too.
     */
    @Test
    void aConfirmedBatchBehindOneWhoseLooksFailIsAnsweredWithinTheBudget() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4), 5_000, new io.weaseldb.log.Term(3, "L3", 10, 8));
        h.completeAll();
        var looks = looksAnsweredByHand(h);
        h.clock.advanceMillis(150); // past the lease
        RecordingCompletion a = h.write("a", "1");
        h.step();
        RecordingCompletion b = h.write("b", "2");
        h.step();
        RecordingCompletion c = h.write("c", "3");
        h.step();
        assertEquals(3, h.store.pending().size(), h.store.pending().toString());
        h.store.takeFor("log/00000000000000000011").succeed();
        h.store.takeFor("log/00000000000000000013").succeed(); // 12 stays pending
        h.step();
        assertEquals(1, looks.size(), "a look covering 11 and 13");
        looks.get(0).complete(true);
        h.step();
        assertInstanceOf(Outcome.Committed.class, a.only());
        h.clock.advanceMillis(150); // past the lease counted from 11
        h.store.takeFor("log/00000000000000000012").succeed(); // lands, and needs a look of its own
        h.step();
        for (int i = 0; i < 20 && !c.done(); i++) {
            failPending(looks);
            h.advanceMillis(100);
        }
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, b.only()).outcomeUnknown());
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, c.only(), "answered within two seconds").outcomeUnknown());
    }

    /**
     * A conflict with writes a deposed leader never stored is not a conflict anyone can see in the
     * log: the stale commit was not applied, but a 409 would name a precondition that did not fail
     * (an outside audit saw such 409s after SIGSTOP/SIGCONT of a leader).
     */
    @Test
    void aConflictWithWritesOfADeposedLeaderIsAnsweredNotCommitted() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        newerLeaderWroteVersion1(h);
        RecordingCompletion write = h.write("a", "1");
        h.step();
        RecordingCompletion stale = h.commit(PipelineHarness.request(
                List.of(new io.weaseldb.txn.Precondition.PointRead(PipelineHarness.b("a"), 0)), List.of(), 0));
        h.completeAll();
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, write.only()).outcomeUnknown());
        var answer = assertInstanceOf(Outcome.Unavailable.class, stale.only(), "not 409: the write it met was never stored");
        assertFalse(answer.outcomeUnknown(), "the stale commit itself was certainly not applied");
        assertTrue(answer.message().contains("this server lost leadership of the log"), answer.message());
        assertEquals(1, h.log().size());
        assertEquals("leader-2", h.log().get(0).header().leaderId(), "only the other leader's object is stored");
    }

    /**
     * Audit 40: once the persister is fenced the sequencer stops: later commits are answered "not
     * the leader", certainly not applied, rather than sequenced into a term that cannot write
     * (a mutant that kept sequencing survived, its commits answered "unknown").
     */
    @Test
    void afterAFenceNewCommitsAreRefusedAsNotLeaderNotSequenced() throws Exception {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        newerLeaderWroteVersion1(h);
        RecordingCompletion first = h.write("a", "1");
        h.completeAll();
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, first.only()).outcomeUnknown());
        int sequencedBefore = h.sequenced.size();
        RecordingCompletion later = h.write("b", "2");
        h.completeAll();
        var answer = assertInstanceOf(Outcome.Unavailable.class, later.only());
        assertFalse(answer.outcomeUnknown(), "refused before it was sequenced: " + answer.message());
        assertTrue(answer.message().contains("not the leader"), answer.message());
        assertEquals(sequencedBefore, h.sequenced.size(), "nothing sequenced after the fence");
    }

    /** The same when the writes a conflict met outlived the retry budget: they may never be stored. */
    @Test
    void aConflictWithWritesPastTheRetryBudgetIsAnsweredNotCommitted() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4)); // budget 1000 ms
        h.write("a", "1");
        h.step();
        RecordingCompletion stale = h.commit(PipelineHarness.request(
                List.of(new io.weaseldb.txn.Precondition.PointRead(PipelineHarness.b("a"), 0)), List.of(), 0));
        h.step();
        h.failStorageFor(1000);
        h.step();
        var answer = assertInstanceOf(Outcome.Unavailable.class, stale.only());
        assertFalse(answer.outcomeUnknown());
        assertTrue(answer.message().contains("storage did not confirm the write in time"), answer.message());
    }

    /**
     * A fence with thousands of commits queued behind a full open batch (storage stalled under
     * load, then another server's object found): every one is answered, and the releaser's bounded
     * queue is never overrun (it holds 1024 releases; overrunning it stops the server).
     */
    @Test
    void aFenceWithMoreQueuedCommitsThanTheReleaserHoldsAnswersEveryOne() throws Exception {
        var h = new PipelineHarness(settings(0, 1, 1)); // one transaction per batch, one PUT in flight
        newerLeaderWroteVersion1(h);
        h.write("a", "1");
        h.step(); // its PUT is outstanding; the next batch fills at once
        List<RecordingCompletion> queued = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            queued.add(h.write("k" + i, "v"));
            if (i % 1000 == 999) {
                while (h.sequencer.doWork(h.clock.nanoTime()) > 0) {
                    // sequence them all into the persister's input, behind the full open batch
                }
            }
        }
        assertTrue(h.persister.inputSize() > 2000, "queued behind the full open batch: " + h.persister.inputSize());
        // the PUT meets leader-2's object; only the persister goes round (the releaser is slow)
        for (int i = 0; i < 100 && h.persister.doWork(h.clock.nanoTime()) + h.store.pendingCount() > 0; i++) {
            for (ManualObjectStore.Pending p : h.store.pending()) {
                h.store.takeFor(p.key).succeed();
            }
        }
        assertFalse(h.persister.leading());
        assertEquals(0, h.persister.inputSize(), "all taken in; their answers need few releases");
        h.step();
        for (RecordingCompletion c : queued) {
            assertTrue(assertInstanceOf(Outcome.Unavailable.class, c.only()).outcomeUnknown());
        }
    }

    /** A fence with more batches in flight than the releaser's queue holds: one release for all of them. */
    @Test
    void aFenceWithMoreBatchesInFlightThanTheReleaserHoldsAnswersEveryOne() throws Exception {
        var h = new PipelineHarness(settings(0, 1, 1024)); // one transaction per batch, up to 1024 PUTs in flight
        newerLeaderWroteVersion1(h);
        List<RecordingCompletion> commits = new ArrayList<>();
        for (int i = 0; i < 1100; i++) {
            commits.add(h.write("k" + i, "v"));
            if (i % 500 == 499) {
                h.step();
            }
        }
        h.step();
        assertEquals(1024, h.persister.inFlightCount());
        h.completeAll(); // the first PUT meets leader-2's object
        assertFalse(h.persister.leading());
        for (RecordingCompletion c : commits) {
            assertTrue(assertInstanceOf(Outcome.Unavailable.class, c.only()).outcomeUnknown());
        }
    }

    /**
     * A term ends (step-down, or a shutdown whose drain ran out) with requests still in its
     * stages, or one offered just after by an event loop that picked the term as it ended. No
     * stage runs again, so they are answered when the term closes: what was never sequenced is
     * not committed; what was, is unknown (a write of it may still land).
     */
    @Test
    void aClosingTermAnswersWhatItsStagesStillHold() {
        var h = new PipelineHarness(settings(0, 1, 1)); // one transaction per batch, one PUT in flight
        RecordingCompletion inFlight = h.write("a", "1"); // its PUT never answers
        h.step();
        RecordingCompletion open = h.write("b", "2"); // waits in the open batch
        h.step();
        h.write("x", "0");
        h.sequencer.doWork(h.clock.nanoTime()); // sequenced, queued for the persister
        RecordingCompletion queuedForPersister = h.write("c", "3");
        h.sequencer.doWork(h.clock.nanoTime());
        RecordingCompletion inInbox = h.write("d", "4"); // never sequenced
        RecordingCompletion probe = h.probe();
        // the runners have stopped; LeaderTerm.close() then does this
        h.sequencer.closeInbox();
        h.persister.answerAbandoned();
        RecordingCompletion late = h.write("e", "5"); // offered after the close

        for (RecordingCompletion c : List.of(inFlight, open, queuedForPersister)) {
            var u = assertInstanceOf(Outcome.Unavailable.class, c.only());
            assertTrue(u.outcomeUnknown(), "sequenced: it may yet land");
        }
        for (RecordingCompletion c : List.of(inInbox, probe, late)) {
            var u = assertInstanceOf(Outcome.Unavailable.class, c.only());
            assertFalse(u.outcomeUnknown(), "never sequenced: not committed");
            assertEquals("this server is not the leader: its term ended", u.message());
        }
        assertEquals(0, h.persister.inputSize());
        assertEquals(0, h.releaser.queueSize());
    }

    /**
     * A heartbeat is due while the sequencer's inbox is full, so the marker it needs is refused:
     * the persister asks again a little later instead of reporting a deadline already past
     * (on which its runner would spin, taking a core, until the inbox drained).
     */
    @Test
    void aRefusedHeartbeatMarkerIsAskedForAgainLaterNotAtOnce() {
        var h = new PipelineHarness(new Persister.Settings(0, 1 << 20, 1, 10, 100, 1_000, 1, 4096, 50));
        h.step();
        while (h.sequencer.offer(new SequencerMessage.Probe(new RecordingCompletion()))) {
            // fill the inbox; the sequencer does not run meanwhile
        }
        h.clock.advanceMillis(60); // the heartbeat is due
        h.persister.doWork(h.clock.nanoTime());
        long now = h.clock.nanoTime();
        assertTrue(h.persister.nextDeadlineNanos() > now, "a deadline in the past makes the runner spin");
        assertTrue(h.persister.nextDeadlineNanos() - now <= 1_000_000, "and it asks again soon");
        h.step(); // the sequencer drains its inbox
        h.clock.advanceMillis(1);
        h.step();
        assertTrue(h.persister.nextDeadlineNanos() > h.clock.nanoTime() + 10_000_000,
                "the marker was asked for again and written: the next heartbeat is a period away");
    }

    /**
     * After a fence nothing more goes to the log listener, so a full one (the publisher, behind on
     * its subscribers) must not hold back the answers of commits still queued for the persister.
     */
    @Test
    void aFencedPersisterAnswersQueuedCommitsWhileTheLogListenerIsFull() throws Exception {
        var h = new PipelineHarness(settings(0, 1, 1)); // one transaction per batch, one PUT in flight
        newerLeaderWroteVersion1(h);
        RecordingCompletion first = h.write("a", "1");
        h.step();
        h.listenerHasRoom = false;
        List<RecordingCompletion> queued = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            queued.add(h.write("k" + i, "v"));
        }
        h.step();
        assertTrue(h.persister.inputSize() > 0, "held back while leading: the listener is full");
        h.completeAll(); // the first PUT meets leader-2's object
        assertFalse(h.persister.leading());
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, first.only()).outcomeUnknown());
        for (RecordingCompletion c : queued) {
            assertTrue(assertInstanceOf(Outcome.Unavailable.class, c.only()).outcomeUnknown());
        }
    }

    /**
     * Thousands of answers that go out one release each (here: commits naming another leader,
     * with nothing in flight) while the releaser is slow: the persister stops at the releaser's
     * bound, looks again soon (a draining releaser wakes nobody), and every one is answered.
     */
    @Test
    void answersBeyondTheReleasersBoundWaitForItsRoom() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        List<RecordingCompletion> answers = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            RecordingCompletion c = new RecordingCompletion();
            h.sequencer.offer(new SequencerMessage.Commit(new io.weaseldb.txn.CommitRequest(null, "someone-else",
                    io.weaseldb.txn.CommitRequest.NO_READ_VERSION, List.of(), List.of(), 0), c));
            answers.add(c);
            if (i % 1000 == 999) {
                while (h.sequencer.doWork(h.clock.nanoTime()) > 0) {
                    // into the persister's input
                }
            }
        }
        for (int i = 0; i < 10; i++) {
            h.persister.doWork(h.clock.nanoTime()); // only the persister goes round (the releaser is slow)
        }
        assertFalse(h.releaser.hasRoom(), "it stopped at the releaser's bound");
        assertTrue(h.persister.inputSize() > 0);
        assertTrue(h.persister.nextDeadlineNanos() - h.clock.nanoTime() <= 1_000_000,
                "it looks again soon: a draining releaser wakes nobody");
        h.releaser.doWork(h.clock.nanoTime()); // room again, between the persister's pass and its park
        assertTrue(h.persister.nextDeadlineNanos() <= h.clock.nanoTime(), "room now: at once");
        h.step();
        for (RecordingCompletion c : answers) {
            assertInstanceOf(Outcome.LeaderChanged.class, c.only());
        }
    }

    /**
     * Storage stuck under load: every in-flight slot taken, the open batch full and past the
     * budget. New commits are refused and /ok says why at once, not after storage comes back
     * (through the pipeline those answers waited behind the open batch that could not be sent).
     */
    @Test
    void refusalsWhileStorageIsStuckDoNotWaitBehindAFullOpenBatch() {
        var h = new PipelineHarness(settings(0, 1, 1)); // one transaction per batch, one PUT in flight
        RecordingCompletion first = h.write("a", "1"); // its PUT never answers
        h.step();
        RecordingCompletion second = h.write("b", "2"); // fills the open batch, which cannot be sent
        h.step();
        h.advanceMillis(1100); // past the 1000 ms budget: both answered unknown
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, first.only()).outcomeUnknown());
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, second.only()).outcomeUnknown());
        RecordingCompletion probe = h.probe();
        RecordingCompletion refused = h.write("c", "3");
        h.step();
        assertEquals("storage is not accepting log writes",
                assertInstanceOf(Outcome.Unavailable.class, probe.only()).message());
        var notCommitted = assertInstanceOf(Outcome.Unavailable.class, refused.only());
        assertFalse(notCommitted.outcomeUnknown());
        assertEquals("storage is unavailable; the commit was not applied", notCommitted.message());
    }

    /**
     * Review 39's leftover: a later batch landing while an earlier one is still not stored does not
     * make storage healthy again. Nothing after the missing batch can be acknowledged, so a new
     * commit taken then could only be answered "unknown" after the budget; it is refused at once,
     * certainly not applied, until the missing batch lands.
     */
    @Test
    void aLaterBatchLandingDoesNotMakeStorageHealthyWhileAnEarlierOneIsMissing() {
        var h = new PipelineHarness(settings(0, 1 << 20, 4));
        RecordingCompletion first = h.write("a", "1");
        h.step();
        RecordingCompletion second = h.write("b", "2");
        h.step();
        String firstKey = "log/00000000000000000001";
        String secondKey = "log/00000000000000000002";
        ManualObjectStore.Pending secondPut = h.store.takeFor(secondKey); // answered late, below
        for (int ms = 0; ms <= 1100; ms += 100) { // the first keeps failing past the 1000 ms budget
            for (ManualObjectStore.Pending p : h.store.pending()) {
                h.store.takeFor(p.key).fail(500);
            }
            h.advanceMillis(100);
        }
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, first.only()).outcomeUnknown());
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, second.only()).outcomeUnknown());
        assertFalse(h.persister.storageHealthy());

        secondPut.succeed(); // the later batch lands; the first is still missing
        h.step();
        assertFalse(h.persister.storageHealthy(), "nothing can be acknowledged while version 1 is missing");
        RecordingCompletion refused = h.write("c", "3");
        h.step();
        var notCommitted = assertInstanceOf(Outcome.Unavailable.class, refused.only());
        assertFalse(notCommitted.outcomeUnknown(), "refused at once, not taken and left to time out");

        h.advanceMillis(200); // the first's retry
        h.store.takeFor(firstKey).succeed();
        h.step();
        assertTrue(h.persister.storageHealthy(), "healthy again once nothing is missing");
        assertEquals(2, h.persister.durableVersion());
        RecordingCompletion after = h.write("d", "4");
        h.completeAll();
        assertInstanceOf(Outcome.Committed.class, after.only());
    }

    /**
     * Review 41: the same for the open batch, which outlived its budget unsent (the only slot was
     * busy): it is not in flight yet when the batch ahead of it lands, but it is missing all the
     * same, so new commits stay refused until it lands too.
     */
    @Test
    void anOpenBatchPastItsBudgetKeepsStorageUnhealthyWhenTheOneAheadLands() {
        var h = new PipelineHarness(settings(0, 1 << 20, 1)); // one PUT in flight
        RecordingCompletion first = h.write("a", "1");
        h.step();
        RecordingCompletion second = h.write("b", "2"); // open: the only slot is busy
        h.step();
        for (int ms = 0; ms <= 1100; ms += 100) {
            for (ManualObjectStore.Pending p : h.store.pending()) {
                h.store.takeFor(p.key).fail(500);
            }
            h.advanceMillis(100);
        }
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, first.only()).outcomeUnknown());
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, second.only()).outcomeUnknown());
        h.advanceMillis(200);
        h.store.takeFor("log/00000000000000000001").succeed(); // the second is sent only now
        h.step();
        assertFalse(h.persister.storageHealthy(), "version 2 outlived its budget unstored and is still missing");
        RecordingCompletion refused = h.write("c", "3");
        h.step();
        assertFalse(assertInstanceOf(Outcome.Unavailable.class, refused.only()).outcomeUnknown(), "refused at once");
        h.store.takeFor("log/00000000000000000002").succeed();
        h.step();
        assertTrue(h.persister.storageHealthy(), "healthy once version 2 landed");
    }

    /** A status answer that joins the open batch after its budget ran out is answered at the next pass. */
    @Test
    void aReplyJoiningTheOpenBatchAfterItsBudgetIsAnsweredWithoutWaitingForStorage() {
        var h = new PipelineHarness(settings(0, 1 << 20, 1));
        RecordingCompletion first = h.write("a", "1"); // its PUT never answers
        h.step();
        RecordingCompletion second = h.write("b", "2"); // opens a batch that cannot be sent
        h.step();
        h.advanceMillis(1100);
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, second.only()).outcomeUnknown());
        // a retry of the second commit's request id: its "duplicate" answer waits for durability
        var retry = new RecordingCompletion();
        String id = ((Outcome.Unavailable) second.only()).requestId();
        h.sequencer.offer(new SequencerMessage.Commit(new io.weaseldb.txn.CommitRequest(id, null,
                io.weaseldb.txn.CommitRequest.NO_READ_VERSION, List.of(),
                List.of(new io.weaseldb.txn.Operation.Write(PipelineHarness.b("b"), PipelineHarness.b("2"))), 0), retry));
        h.advanceMillis(10);
        var u = assertInstanceOf(Outcome.Unavailable.class, retry.only(), "not left waiting for storage");
        assertTrue(u.outcomeUnknown(), "its original may still land");
    }

    @Test
    void batchesCarryTheChainAndTransactionsInOrder() throws Exception {
        var h = new PipelineHarness(settings(1, 1 << 20, 1));
        for (int i = 0; i < 20; i++) {
            h.write("k" + i, "v" + i);
            if (i % 4 == 0) {
                h.advanceMillis(1);
            }
            h.step();
            h.completeAll();
        }
        assertGapFree(h);
        List<Batch> log = h.log();
        for (int i = 1; i < log.size(); i++) {
            assertTrue(log.get(i - 1).header().isFollowedBy(log.get(i).header()), "chain broken at " + i);
        }
        Operation.Write w = (Operation.Write) log.get(0).transactions().get(0).operations().get(0);
        assertEquals("k0", new String(w.key()));
    }

    static void assertGapFree(PipelineHarness h) throws Exception {
        long expected = 1;
        long prevTxn = -1;
        for (Batch b : h.log()) {
            for (var t : b.transactions()) {
                assertEquals(expected, t.version(), "versions must be gap-free");
                assertEquals(prevTxn, t.prevVersion());
                prevTxn = t.version();
                expected++;
            }
        }
    }
}
