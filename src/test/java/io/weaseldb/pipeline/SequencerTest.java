package io.weaseldb.pipeline;

import static io.weaseldb.pipeline.PipelineHarness.b;
import static io.weaseldb.pipeline.PipelineHarness.request;
import static io.weaseldb.pipeline.PipelineHarness.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.log.Term;
import io.weaseldb.testing.RecordingCompletion;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Precondition;
import java.util.List;
import org.junit.jupiter.api.Test;

class SequencerTest {
    private final PipelineHarness h = new PipelineHarness(settings(0, 1 << 20, 8), 5_000, new Term(3, "L3", 10, 8));

    private Outcome run(CommitRequest r) {
        RecordingCompletion c = h.commit(r);
        h.completeAll();
        return c.only();
    }

    private long write(String key) {
        return ((Outcome.Committed) run(request(List.of(), List.of(new Operation.Write(b(key), b("v"))), -1))).version();
    }

    @Test
    void versionsFollowTheTermStartWithoutGapsAndLinkPrevVersion() {
        assertEquals(11, write("a"));
        assertEquals(12, write("b"));
        assertEquals(8, h.sequenced.get(0).prevVersion(), "first transaction links to the previous term's last one");
        assertEquals(11, h.sequenced.get(1).prevVersion());
    }

    @Test
    void pointReadConflictsOnlyWithNewerWritesToTheSameKey() {
        long v = write("a");
        write("b");
        assertInstanceOf(Outcome.Committed.class, run(request(List.of(new Precondition.PointRead(b("a"), v)), List.of(), -1)));
        var c = assertInstanceOf(Outcome.Conflict.class,
                run(request(List.of(new Precondition.PointRead(b("a"), v - 1)), List.of(), -1)));
        assertEquals(List.of(0), c.conflicts());
        assertEquals(v + 2, c.version(), "the client can retry from the latest version (the read-only commit took v + 2)");
    }

    @Test
    void rangeReadHonoursHalfOpenBoundsAndRangeDeletes() {
        long base = write("zzz");
        write("m");
        // [a, m) excludes m
        assertInstanceOf(Outcome.Committed.class,
                run(request(List.of(new Precondition.RangeRead(b("a"), b("m"), base)), List.of(), -1)));
        // [a, m\0) includes m
        assertInstanceOf(Outcome.Conflict.class,
                run(request(List.of(new Precondition.RangeRead(b("a"), b("m\0"), base)), List.of(), -1)));
        long v = ((Outcome.Committed) run(request(List.of(), List.of(new Operation.RangeDelete(b("p"), b("r"))), -1))).version();
        assertInstanceOf(Outcome.Conflict.class,
                run(request(List.of(new Precondition.PointRead(b("q"), v - 1)), List.of(), -1)), "q is covered by the range delete");
        assertInstanceOf(Outcome.Committed.class,
                run(request(List.of(new Precondition.PointRead(b("r"), v - 1)), List.of(), -1)), "r is the exclusive end");
    }

    /** Audit 40: deletes must enter the conflict set like writes (a mutant dropping them survived). */
    @Test
    void aDeleteConflictsWithAnOlderReadOfItsKey() {
        long v = write("a");
        run(request(List.of(), List.of(new Operation.Delete(b("a"))), -1));
        assertInstanceOf(Outcome.Conflict.class, run(request(List.of(new Precondition.PointRead(b("a"), v)), List.of(), -1)));
    }

    /** A read at the latest version is the common case and must commit (a mutant refusing it survived here). */
    @Test
    void aReadAtTheLatestVersionCommits() {
        write("a");
        long latest = h.sequencer.lastVersion();
        assertInstanceOf(Outcome.Committed.class,
                run(request(List.of(new Precondition.PointRead(b("a"), latest)), List.of(), latest)));
    }

    /** Audit 40: commits still queued when a term's inbox closes are answered at once, not left waiting. */
    @Test
    void aClosedInboxAnswersWhatItHolds() {
        var c = h.commit(request(List.of(), List.of(new Operation.Write(b("k"), b("v"))), -1));
        h.sequencer.closeInbox();
        assertInstanceOf(Outcome.Unavailable.class, c.only());
    }

    /** Audit 40: the conflict set forgets writes older than the window (a mutant that never pruned survived). */
    @Test
    void theConflictSetForgetsWritesOlderThanTheWindow() {
        for (int i = 0; i < 1_000; i++) {
            write("key-" + i);
        }
        h.advanceMillis(10);
        assertTrue(h.sequencer.conflictEntries() >= 1_000, "held within the window: " + h.sequencer.conflictEntries());
        h.advanceMillis(6_000);
        write("later");
        h.advanceMillis(6_000);
        write("later-still");
        h.advanceMillis(10);
        assertTrue(h.sequencer.conflictEntries() < 100, "pruned past the window: " + h.sequencer.conflictEntries());
    }

    @Test
    void reportsEveryFailedPreconditionIndex() {
        long v = write("a");
        write("c");
        var c = assertInstanceOf(Outcome.Conflict.class, run(request(List.of(
                new Precondition.PointRead(b("a"), v - 1),
                new Precondition.PointRead(b("b"), Precondition.DEFAULT_VERSION),
                new Precondition.RangeRead(b("c"), b("d"), Precondition.DEFAULT_VERSION)), List.of(), v - 1)));
        assertEquals(List.of(0, 2), c.conflicts());
        assertEquals(v + 1, h.sequencer.lastVersion(), "a conflicting commit assigns no version");
    }

    @Test
    void readsOlderThanTheConflictWindowAreTooOld() {
        long v = write("a");
        h.advanceMillis(6_000);
        write("b");
        h.advanceMillis(10);
        // 5 s ago the latest version was the term start (v - 1): reads below it cannot be checked
        var old = assertInstanceOf(Outcome.TooOld.class,
                run(request(List.of(new Precondition.PointRead(b("zz"), v - 2)), List.of(), -1)));
        assertEquals(v + 1, old.version());
        assertInstanceOf(Outcome.Committed.class,
                run(request(List.of(new Precondition.PointRead(b("zz"), v - 1)), List.of(), -1)));
    }

    @Test
    void readsBeforeThePreviousTermsLastTransactionAreTooOld() {
        // The previous term's last transaction is 8, then 9 (its clean stop's term end); its
        // writes are not in this term's conflict set, but none came after 8. Audit 36: a read at
        // 8, the /v1/version a client had just before a rolling restart, was too_old.
        assertInstanceOf(Outcome.Committed.class, run(request(List.of(new Precondition.PointRead(b("x"), 9)), List.of(), -1)));
        assertInstanceOf(Outcome.Committed.class, run(request(List.of(new Precondition.PointRead(b("x"), 8)), List.of(), -1)));
        assertInstanceOf(Outcome.TooOld.class, run(request(List.of(new Precondition.PointRead(b("x"), 7)), List.of(), -1)));
    }

    @Test
    void aConflictWinsOverTooOldInOneCommit() {
        // api.md: too_old only when nothing conflicts; a client retries a conflict from the
        // version it names, and a too_old by reading again, so which one it gets matters
        long v = write("a");
        var c = assertInstanceOf(Outcome.Conflict.class, run(request(List.of(
                new Precondition.PointRead(b("a"), v - 1),     // conflicts: a was written at v
                new Precondition.PointRead(b("x"), 7)), List.of(), -1))); // before the last transaction: too old
        assertEquals(List.of(0), c.conflicts());
    }

    @Test
    void aVersionNewerThanTheLogIsABadRequest() {
        var r = assertInstanceOf(Outcome.Rejected.class,
                run(request(List.of(new Precondition.PointRead(b("x"), Precondition.DEFAULT_VERSION)), List.of(), 11)));
        assertTrue(r.message().contains("newer than the latest version 10"), r.message());
    }

    @Test
    void aRequestNamingAnotherLeaderIsRefused() {
        var o = assertInstanceOf(Outcome.LeaderChanged.class,
                run(new CommitRequest(null, "someone-else", -1, List.of(), List.of(), 0)));
        assertEquals("L3", o.leaderId());
        assertInstanceOf(Outcome.Committed.class, run(new CommitRequest(null, "L3", -1, List.of(), List.of(), 0)));
    }

    @Test
    void keepsTheCallersRequestIdAndGeneratesOneOtherwise() {
        var mine = (Outcome.Committed) run(new CommitRequest("my-request-id-0000000001", null, -1, List.of(), List.of(), 0));
        assertEquals("my-request-id-0000000001", mine.requestId());
        var generated = (Outcome.Committed) run(new CommitRequest(null, null, -1, List.of(), List.of(), 0));
        assertEquals(36, generated.requestId().length());
    }

    @Test
    void probesReportTheVersionOnceDurable() {
        write("a");
        RecordingCompletion p = h.probe();
        h.completeAll();
        var ok = assertInstanceOf(Outcome.Healthy.class, p.only());
        assertEquals(11, ok.version());
        assertEquals("L3", ok.leaderId());
    }
}
