package io.weaseldb.pipeline;

import static io.weaseldb.pipeline.PipelineHarness.b;
import static io.weaseldb.pipeline.PipelineHarness.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.log.Batch;
import io.weaseldb.testing.RecordingCompletion;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import io.weaseldb.testing.ManualObjectStore;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Idempotent commits and /v1/status, stepped through the pipeline. */
class RequestIdTest {
    final PipelineHarness h = new PipelineHarness(settings(0, 1 << 20, 4));
    static final String ID = "client-request-id-0000001";

    RecordingCompletion commit(String id) {
        return h.commit(new CommitRequest(id, null, -1, List.of(), List.of(new Operation.Write(b("k"), b("v"))), 0));
    }

    RecordingCompletion status(String id, long minVersion) {
        RecordingCompletion c = new RecordingCompletion();
        h.sequencer.offer(new SequencerMessage.Status(id, minVersion, c));
        return c;
    }

    @Test
    void aRetriedCommitGetsTheOriginalVersionAndIsNotLoggedTwice() throws Exception {
        RecordingCompletion first = commit(ID);
        h.completeAll();
        RecordingCompletion again = commit(ID);
        h.completeAll();
        var c1 = assertInstanceOf(Outcome.Committed.class, first.only());
        var c2 = assertInstanceOf(Outcome.Committed.class, again.only());
        assertEquals(c1.version(), c2.version());
        assertFalse(c1.duplicate());
        assertTrue(c2.duplicate());
        assertEquals(1, h.durableTxns.size());
    }

    /**
     * Audit 14: a retry's body must still be valid; a precondition newer than the latest version
     * was answered as a duplicate of the committed original instead of 400 (a 400 stays a 400).
     */
    @Test
    void aDuplicateWithAVersionNewerThanTheLatestIsStill400() {
        var original = assertInstanceOf(Outcome.Committed.class, commitAndWait(ID, -1));
        var retry = h.commit(new CommitRequest(ID, "some-other-leader", 1_000_000_000_000L,
                List.of(new io.weaseldb.txn.Precondition.PointRead(b("k"), io.weaseldb.txn.Precondition.DEFAULT_VERSION)),
                List.of(), 0));
        h.completeAll();
        var r = assertInstanceOf(Outcome.Rejected.class, retry.only());
        assertTrue(r.message().contains("newer than the latest version " + original.version()), r.message());
        // a true retry (its read version no newer than what it got) is still the duplicate
        var again = h.commit(new CommitRequest(ID, null, original.version() - 1,
                List.of(new io.weaseldb.txn.Precondition.PointRead(b("k"), io.weaseldb.txn.Precondition.DEFAULT_VERSION)),
                List.of(), 0));
        h.completeAll();
        assertTrue(assertInstanceOf(Outcome.Committed.class, again.only()).duplicate());
    }

    private Outcome commitAndWait(String id, long readVersion) {
        RecordingCompletion c = h.commit(new CommitRequest(id, null, readVersion, List.of(),
                List.of(new Operation.Write(b("k"), b("v"))), 0));
        h.completeAll();
        return c.only();
    }

    @Test
    void aDuplicateArrivingWhileTheFirstIsInFlightWaitsForItsOutcome() {
        RecordingCompletion first = commit(ID);
        h.step();
        RecordingCompletion dup = commit(ID);
        h.step();
        assertFalse(dup.done(), "the original is not durable yet");
        h.store.take().succeed();
        h.step();
        assertEquals(((Outcome.Committed) first.only()).version(), ((Outcome.Committed) dup.only()).version());
    }

    @Test
    void aDuplicateOfACommitWhoseBatchIsLostIsUnknownNotCommitted() {
        commit(ID);
        h.step();
        RecordingCompletion dup = commit(ID);
        h.step();
        h.store.putDirect("log/00000000000000000001",
                io.weaseldb.log.BatchCodec.encodeEmpty(io.weaseldb.log.BatchHeader.termStart(9, "usurper", 1, 0, -1, 0)));
        h.completeAll(); // our PUT finds the usurper's object: fenced
        var u = assertInstanceOf(Outcome.Unavailable.class, dup.only());
        assertTrue(u.outcomeUnknown());
    }

    @Test
    void aRetryOfACommitWhoseBatchOutlivedTheBudgetIsNotAcknowledgedBeforeItIsDurable() {
        // settings(0, ...): retry budget 1000 ms, backoff up to 100 ms
        RecordingCompletion first = commit(ID);
        h.step();
        for (int t = 0; t < 1100; t += 100) {
            for (ManualObjectStore.Pending p : h.store.pending()) {
                h.store.takeFor(p.key).fail(500);
            }
            h.advanceMillis(100);
        }
        assertTrue(assertInstanceOf(Outcome.Unavailable.class, first.only()).outcomeUnknown());
        // the client retries with the same id while storage still fails: the batch is not durable,
        // so the retry must not hear "committed" (a crash now would lose an acknowledged commit)
        RecordingCompletion retry = commit(ID);
        for (int t = 0; t < 1100; t += 100) {
            for (ManualObjectStore.Pending p : h.store.pending()) {
                h.store.takeFor(p.key).fail(500);
            }
            h.advanceMillis(100);
        }
        var u = assertInstanceOf(Outcome.Unavailable.class, retry.only());
        assertTrue(u.outcomeUnknown(), "still unknown, not committed");
        h.completeAll(); // storage is back: the batch lands
        RecordingCompletion after = commit(ID);
        h.completeAll();
        var c = assertInstanceOf(Outcome.Committed.class, after.only());
        assertEquals(1, c.version());
        assertTrue(c.duplicate());
    }

    @Test
    void aStatusAnswerWaitingWhenTheLeaderIsDeposedIsUnknownNotCommitted() {
        commit(ID);
        h.step(); // its batch is in flight
        RecordingCompletion s = status(ID, 0);
        h.sequencer.doWork(h.clock.nanoTime()); // the answer waits in the persister's input
        h.store.putDirect("log/00000000000000000001",
                io.weaseldb.log.BatchCodec.encodeEmpty(io.weaseldb.log.BatchHeader.termStart(9, "usurper", 1, 0, -1, 0)));
        h.store.take().succeed(); // our write finds the usurper's object
        h.completeAll();
        var u = assertInstanceOf(Outcome.Unavailable.class, s.only(), "never 'committed' for a write that did not land");
        assertTrue(u.outcomeUnknown());
    }

    @Test
    void statusOfACommittedIdNamesItsVersionAndLeader() {
        RecordingCompletion c = commit(ID);
        h.completeAll();
        RecordingCompletion s = status(ID, 0);
        h.completeAll();
        var st = assertInstanceOf(Outcome.StatusCommitted.class, s.only());
        assertEquals(((Outcome.Committed) c.only()).version(), st.version());
        assertEquals("leader-1", st.leaderId());
    }

    @Test
    void statusBeforeTheCommitBansTheIdDurablyAndTheCommitIsRefused() throws Exception {
        h.write("x", "1");
        h.completeAll();
        RecordingCompletion s = status(ID, 0);
        h.step();
        assertFalse(s.done(), "the ban must be durable before the answer");
        h.completeAll(); // idle: the persister asks for a marker version and writes the ban with it
        var nc = assertInstanceOf(Outcome.StatusNotCommitted.class, s.only());
        assertEquals(1, nc.version(), "not committed at or below the latest version when asked");
        List<Batch> log = h.log();
        Batch carrier = log.get(log.size() - 1);
        assertEquals(List.of(ID), carrier.bans());
        assertEquals(0, carrier.header().count(), "a marker version: no transaction");
        assertEquals(2, carrier.header().firstVersion());

        RecordingCompletion late = commit(ID);
        h.completeAll();
        var r = assertInstanceOf(Outcome.Rejected.class, late.only());
        assertTrue(r.message().contains("can never commit"), r.message());
        RecordingCompletion again = status(ID, 0);
        h.completeAll();
        assertEquals(1, ((Outcome.StatusNotCommitted) again.only()).version(), "the answer is stable");
        // the next transaction's version follows the marker, and links to the previous transaction
        RecordingCompletion next = h.write("y", "2");
        h.completeAll();
        assertEquals(3, ((Outcome.Committed) next.only()).version());
        assertEquals(1, h.durableTxns.get(h.durableTxns.size() - 1).prevVersion());
    }

    @Test
    void bansRideOnATransactionBatchWhenThereIsOne() throws Exception {
        RecordingCompletion w = h.write("x", "1");
        RecordingCompletion s = status(ID, 0);
        h.completeAll();
        assertInstanceOf(Outcome.Committed.class, w.only());
        assertInstanceOf(Outcome.StatusNotCommitted.class, s.only());
        assertEquals(1, h.log().size(), "no marker needed");
        assertEquals(List.of(ID), h.log().get(0).bans());
    }

    /** Audit 40: a ban is written once (a mutant that re-wrote it into every later batch survived). */
    @Test
    void aBanIsWrittenOnceNotIntoEveryLaterBatch() throws Exception {
        RecordingCompletion s = status(ID, 0);
        h.completeAll();
        assertInstanceOf(Outcome.StatusNotCommitted.class, s.only());
        h.write("a", "1");
        h.completeAll();
        h.write("b", "2");
        h.completeAll();
        assertEquals(1, h.log().stream().mapToLong(b -> b.bans().size()).sum(), "bans in the whole log");
    }

    @Test
    void statusBeyondTheRetainedHistoryIsTruncated() {
        var h2 = new PipelineHarness(settings(0, 1 << 20, 4), 5_000, new io.weaseldb.log.Term(2, "L2", 100, 99));
        // the harness's index starts at the term start: versions before 100 are unknown
        RecordingCompletion s = new RecordingCompletion();
        h2.sequencer.offer(new SequencerMessage.Status(ID, 50, s));
        h2.completeAll();
        var t = assertInstanceOf(Outcome.Truncated.class, s.only());
        assertEquals(100, t.oldestVersion());
        RecordingCompletion before = new RecordingCompletion();
        h2.sequencer.offer(new SequencerMessage.Status(ID, 98, before));
        h2.completeAll();
        assertInstanceOf(Outcome.Truncated.class, before.only(), "a commit after 98 could be at 99, no longer known");
        // min_version 99: the commit cannot be at or before 99, and every id from 100 on is known
        // (audit 34: this was a 410 one version early)
        RecordingCompletion justAfter = new RecordingCompletion();
        h2.sequencer.offer(new SequencerMessage.Status(ID, 99, justAfter));
        h2.completeAll();
        assertInstanceOf(Outcome.StatusNotCommitted.class, justAfter.only());
        RecordingCompletion ok = new RecordingCompletion();
        h2.sequencer.offer(new SequencerMessage.Status(ID + "-another", 100, ok));
        h2.completeAll();
        assertInstanceOf(Outcome.StatusNotCommitted.class, ok.only());
    }

    /**
     * Bans share a version, so the version limit does not bound them: /v1/status for unknown ids
     * could grow the index without end. They get their own bound, request_id_retention_versions;
     * past it, status answers 503 (nothing banned, nothing logged) until older bans expire.
     */
    @Test
    void bansAreBoundedAndStatusAnswersUnavailablePastTheBound() throws Exception {
        var h3 = new PipelineHarness(settings(0, 1 << 20, 4), 5_000, new io.weaseldb.log.Term(1, "leader-1", 0, -1), 3);
        List<RecordingCompletion> asked = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            RecordingCompletion c = new RecordingCompletion();
            h3.sequencer.offer(new SequencerMessage.Status("unknown-request-id-000" + i, 0, c));
            asked.add(c);
        }
        h3.completeAll();
        for (int i = 0; i < 3; i++) {
            assertInstanceOf(Outcome.StatusNotCommitted.class, asked.get(i).only(), "ban " + i);
        }
        var u = assertInstanceOf(Outcome.Unavailable.class, asked.get(3).only());
        assertFalse(u.outcomeUnknown());
        assertTrue(u.message().contains("request_id_retention_versions"), u.message());
        assertEquals(3, h3.requestIds.bans());
        assertEquals(List.of("unknown-request-id-0000", "unknown-request-id-0001", "unknown-request-id-0002"),
                h3.log().stream().flatMap(bt -> bt.bans().stream()).toList(), "the refused id was not banned");
        // the one refused can still commit
        RecordingCompletion c = h3.commit(new CommitRequest("unknown-request-id-0003", null, -1, List.of(),
                List.of(new Operation.Write(b("k"), b("v"))), 0));
        h3.completeAll();
        assertInstanceOf(Outcome.Committed.class, c.only());
        // once versions move past the retention, the bans expire and status bans again
        for (int i = 0; i < 4; i++) {
            h3.write("x" + i, "1");
            h3.completeAll();
            h3.advanceMillis(2);
            h3.completeAll();
        }
        assertEquals(0, h3.requestIds.bans());
        RecordingCompletion later = new RecordingCompletion();
        h3.sequencer.offer(new SequencerMessage.Status("unknown-request-id-0009", h3.requestIds.horizon(), later));
        h3.completeAll();
        assertInstanceOf(Outcome.StatusNotCommitted.class, later.only());
    }
}
