package io.weaseldb.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.pipeline.RequestIdIndex;
import io.weaseldb.pipeline.RequestIdRecovery;
import io.weaseldb.pipeline.TermHistory;
import io.weaseldb.testing.ManualClock;
import io.weaseldb.testing.ManualObjectStore;
import io.weaseldb.txn.Transaction;
import java.util.List;
import org.junit.jupiter.api.Test;

class LogRecoveryTest {
    final ManualObjectStore store = new ManualObjectStore().auto(true);
    final LogLayout layout = new LogLayout("");
    final LogRecovery recovery = new LogRecovery(store, layout, 64, 1000);

    void data(long term, String leader, long first, long last, long prev, long prevTxn) {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        long p = prevTxn;
        for (long v = first; v <= last; v++) {
            e.append(new Transaction("r" + v, v, p, 0, List.of()));
            p = v;
        }
        store.putDirect(layout.objectKey(first),
                e.seal(new BatchHeader(BatchHeader.DATA, term, leader, first, last, prev, prevTxn, last, 0,
                        (int) (last - first + 1), 0)));
    }

    void start(long term, String leader, long v, long prev, long prevTxn) {
        store.putDirect(layout.objectKey(v),
                BatchCodec.encodeEmpty(BatchHeader.termStart(term, leader, v, prev, prevTxn, 0)));
    }

    @Test
    void anEmptyLogStartsAtVersionZero() throws Exception {
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(-1, tail.lastVersion());
        Term t = recovery.claim(tail, "L1", new ManualClock());
        assertEquals(new Term(1, "L1", 0, -1), t);
        assertTrue(store.objects().containsKey(layout.objectKey(0)));
    }

    @Test
    void listsBareMarkersBySizeSoRecoveryNeedNotReadThem() throws Exception {
        String leader = java.util.UUID.randomUUID().toString();
        start(1, leader, 0, -1, -1);
        data(1, leader, 1, 1, 0, -1);
        // an idle leader's heartbeat: a version without a transaction or a ban
        store.putDirect(layout.objectKey(2), BatchCodec.encodeEmpty(
                new BatchHeader(BatchHeader.DATA, 1, leader, 2, 2, 1, 1, 1, 0, 0, 0)));
        data(1, leader, 3, 3, 2, 1);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(3, tail.lastVersion());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {0, 1, 2, 3}, tail.firstVersions());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {0, 2}, tail.bareMarkers());
    }

    @Test
    void continuesAfterTheLastObjectOfAValidChain() throws Exception {
        start(1, "A", 0, -1, -1);
        data(1, "A", 1, 3, 0, -1);
        data(1, "A", 4, 4, 3, 3);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(4, tail.lastVersion());
        assertEquals(4, tail.lastTxnVersion());
        assertEquals(1, tail.term());
        Term t = recovery.claim(tail, "B", new ManualClock());
        assertEquals(new Term(2, "B", 5, 4), t);
    }

    @Test
    void stopsAtAHoleAndLeavesTheUnacknowledgedObjectsAfterItOutOfTheLog() throws Exception {
        start(1, "A", 0, -1, -1);
        data(1, "A", 1, 2, 0, -1);
        // 3..4 never landed; 5..6 did but was never acknowledged
        data(1, "A", 5, 6, 4, 4);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(2, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(5)), tail.orphans());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {0, 1}, tail.firstVersions());
        Term t = recovery.claim(tail, "B", new ManualClock());
        assertEquals(3, t.startVersion());
        // The orphan stays (readers skip it; a write that needs its name replaces it by
        // compare-and-swap); deleting it could race another writer.
        assertEquals(List.of(layout.objectKey(0), layout.objectKey(1), layout.objectKey(3), layout.objectKey(5)),
                List.copyOf(store.objects().keySet()));
    }

    @Test
    void skipsOrphansOfAnOlderTermInsideTheNewerTermsChain() throws Exception {
        start(1, "A", 0, -1, -1);
        data(1, "A", 1, 2, 0, -1);
        start(2, "B", 3, 2, 2); // B claimed the hole at 3
        data(2, "B", 4, 7, 3, 2);
        data(1, "A", 5, 6, 4, 4); // A's write that landed late
        data(2, "B", 8, 8, 7, 7);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(8, tail.lastVersion());
        assertEquals(2, tail.term());
        assertEquals(List.of(layout.objectKey(5)), tail.orphans());
    }

    @Test
    void aClaimLostToANewerLeaderFails() throws Exception {
        start(1, "A", 0, -1, -1);
        LogRecovery.Tail tail = recovery.findTail();
        start(2, "B", 1, 0, -1); // B claimed first
        var e = assertThrows(LogRecovery.LostClaimException.class, () -> recovery.claim(tail, "C", new ManualClock()));
        assertTrue(e.getMessage().contains("B"), e.getMessage());
    }

    @Test
    void aClaimNeverDeletesAnObjectThatContinuesTheLog() throws Exception {
        start(1, "A", 0, -1, -1);
        LogRecovery.Tail tail = recovery.findTail();
        data(1, "A", 1, 1, 0, -1); // the old leader is alive: its next batch landed after our listing
        assertThrows(LogRecovery.LostClaimException.class, () -> recovery.claim(tail, "B", new ManualClock()));
        assertEquals("A", BatchCodec.decodeHeader("k", store.objects().get(layout.objectKey(1))).leaderId(),
                "A may have acknowledged it");
        Term t = recovery.claim(recovery.findTail(), "B", new ManualClock());
        assertEquals(2, t.startVersion(), "listing again, B claims after it");
    }

    @Test
    void aClaimFindingAnOrphanThatDoesNotContinueTheLogDeletesItAndWins() throws Exception {
        start(1, "A", 0, -1, -1);
        start(2, "B", 1, 0, -1);
        LogRecovery.Tail tail = recovery.findTail();
        data(1, "A", 2, 2, 1, -1); // term 1 wrote past B's claim: it can never have been acknowledged
        Term t = recovery.claim(tail, "C", new ManualClock());
        assertEquals(2, t.startVersion());
        assertEquals("C", BatchCodec.decodeHeader("k", store.objects().get(layout.objectKey(2))).leaderId());
    }

    /**
     * Term 1 left an orphan (5..6, past its hole at 3..4) that term 2's batch 4..7 covers; term 2
     * wrote on. {@code objects} more term-2 objects follow it.
     */
    void aCoveredOrphanFollowedBy(int objects) {
        start(1, "A", 0, -1, -1);
        data(1, "A", 1, 2, 0, -1);
        start(2, "B", 3, 2, 2);
        data(2, "B", 4, 7, 3, 2);
        data(1, "A", 5, 6, 4, 4); // A's write that landed after B's claim, inside B's 4..7
        for (int i = 0; i < objects; i++) {
            data(2, "B", 8 + i, 8 + i, 7 + i, 7 + i);
        }
    }

    @Test
    void anOlderTermsOrphanWhereTheWalkStartsIsNotTakenForTheLog() throws Exception {
        aCoveredOrphanFollowedBy(3); // keys 0 1 3 4 5 8 9 10: with a window of 4, the walk would start at 5
        LogRecovery.Tail tail = new LogRecovery(store, layout, 4, 1000).findTail();
        assertEquals(10, tail.lastVersion(), "starting at the orphan, recovery ended the log at 6 and lost 7..10");
        assertEquals(2, tail.term());
        assertEquals(List.of(layout.objectKey(5)), tail.orphans());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {0, 1, 3, 4, 8, 9, 10}, tail.firstVersions());
        Term t = new LogRecovery(store, layout, 4, 1000).claim(tail, "C", new ManualClock());
        assertEquals(new Term(3, "C", 11, 10), t);
    }

    @Test
    void anOlderTermsOrphanBeforeTheWindowIsLeftOutOfTheLog() throws Exception {
        aCoveredOrphanFollowedBy(6); // keys 0 1 3 4 5 8..13: the orphan is before the newest 4
        LogRecovery.Tail tail = new LogRecovery(store, layout, 4, 1000).findTail();
        assertEquals(13, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(5)), tail.orphans());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {0, 1, 3, 4, 8, 9, 10, 11, 12, 13},
                tail.firstVersions(), "readers and the request-id rebuild must not take the orphan for the log");
    }

    @Test
    void objectsOfALowerTermAfterAHigherOneAreOrphans() {
        List<BatchHeader> headers = List.of(header(1, 0), header(2, 3), header(1, 5), header(2, 8), header(3, 9),
                header(2, 10), header(3, 11));
        org.junit.jupiter.api.Assertions.assertArrayEquals(
                new boolean[] {false, false, true, false, false, true, false}, LogRecovery.orphansByTerm(headers));
    }

    static BatchHeader header(long term, long first) {
        return new BatchHeader(BatchHeader.DATA, term, "L" + term, first, first, first - 1, first - 1, first, 0, 1, 0);
    }

    @Test
    void theEndAdvancesFromAKnownObjectOfTheLogAndStopsAtAHole() throws Exception {
        LogRecovery r = new LogRecovery(store, layout, 4, 1000);
        start(1, "A", 0, -1, -1);
        LogRecovery.End known = r.findEnd();
        assertEquals(layout.objectKey(0), known.key());
        data(1, "A", 1, 2, 0, -1);
        data(1, "A", 5, 6, 4, 4); // 3..4 not stored yet
        LogRecovery.End end = r.advance(known);
        assertEquals(2, end.header().lastVersion());
        assertEquals(end, r.advance(end), "nothing new that continues the log");
        data(1, "A", 3, 4, 2, 2);
        assertEquals(6, r.advance(end).header().lastVersion());
    }

    /** An idle log: nothing after the known end, which stays the end (a standby's answer to /v1/version). */
    @Test
    void theEndOfAnIdleLogStaysWhereItWas() throws Exception {
        start(1, "A", 0, -1, -1);
        data(1, "A", 1, 2, 0, -1);
        LogRecovery.End end = recovery.findEnd();
        assertEquals(layout.objectKey(1), end.key());
        assertEquals(end, recovery.advance(end));
    }

    @Test
    void theEndAdvancesPastManyNewObjectsByReadingOnlyTheNewest() throws Exception {
        LogRecovery r = new LogRecovery(store, layout, 4, 1000);
        start(1, "A", 0, -1, -1);
        LogRecovery.End known = r.findEnd();
        for (long v = 1; v <= 20; v++) {
            data(1, "A", v, v, v - 1, v - 1);
        }
        data(1, "A", 23, 23, 22, 22); // past a hole at 21..22
        int before = store.rangedReadCount();
        assertEquals(20, r.advance(known).header().lastVersion());
        assertEquals(8, store.rangedReadCount() - before, "the newest 2 * window headers, not all 21");
    }

    @Test
    void theEndAdvancesPastObjectsThatTruncationDeletedAfterTheKnownOne() throws Exception {
        LogRecovery r = new LogRecovery(store, layout, 4, 1000);
        start(1, "A", 0, -1, -1);
        LogRecovery.End known = r.findEnd(); // a standby's answer: version 0
        for (long v = 1; v <= 6; v++) {
            data(1, "A", v, v, v - 1, v - 1);
        }
        // the leader acknowledged 1..6, then truncation deleted everything before 4
        store.delete(List.of(layout.objectKey(0), layout.objectKey(1), layout.objectKey(2), layout.objectKey(3))).join();
        assertEquals(6, r.advance(known).header().lastVersion(),
                "the gap truncation left after the known object is not a hole: 1..6 were acknowledged");
    }

    @Test
    void onlyOrphansInsideTheLogsVersionsAreForDeletion() throws Exception {
        aCoveredOrphanFollowedBy(1); // keys 0 1 3 4 5(orphan, inside 4..7) 8
        data(2, "B", 10, 10, 9, 9); // past a hole at 9: the new term will need this name
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(8, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(5), layout.objectKey(10)), tail.orphans());
        assertEquals(List.of(layout.objectKey(2), layout.objectKey(5)), recovery.orphansInsideTheLog(tail, new long[] {2}),
                "5 inside the log, and 2 from the request-id rebuild; not 10, past the end");
    }

    /**
     * Review 17: a leader paused past a newer term's claim and truncation resumes, and its writes
     * in flight land in the names the truncation freed, below the newer term's oldest object.
     * Recovery walked from them, ended the log there and made the newer term's objects orphans
     * (a new leader then reused versions the newer term had acknowledged). The log ends with the
     * newer term's newest object, and the strays are orphans.
     */
    @Test
    void strayWritesBelowANewerTermsOldestObjectAreOrphans() throws Exception {
        // term 2 claimed at 5 and wrote 5..20; its truncation kept 10..20
        data(2, "L2", 10, 12, 9, 9);
        for (long v = 13; v <= 20; v++) {
            data(2, "L2", v, v, v - 1, v - 1);
        }
        // term 1's leader (durable through 4) resumes: its writes at 5 and 6 land in the freed names
        data(1, "L1", 5, 5, 4, 4);
        data(1, "L1", 6, 6, 5, 5);
        LogRecovery.Tail tail = new LogRecovery(store, layout, 64, 1000).findTail();
        assertEquals(20, tail.lastVersion(), "the valid log ends with the newer term's newest object");
        assertEquals(2, tail.term());
        assertEquals(List.of(layout.objectKey(5), layout.objectKey(6)), tail.orphans());
        assertEquals(10, tail.firstVersions()[0], "the strays are not in the log's index");
    }

    /** A lower term's objects that chain into the newer term's first object stay the log. */
    @Test
    void theLogBeforeANewerTermsClaimStaysTheLog() throws Exception {
        for (long v = 0; v <= 4; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        start(2, "L2", 5, 4, 4);
        data(2, "L2", 6, 6, 5, 4);
        LogRecovery.Tail tail = new LogRecovery(store, layout, 64, 1000).findTail();
        assertEquals(6, tail.lastVersion());
        assertTrue(tail.orphans().isEmpty(), tail.orphans().toString());
        assertEquals(7, tail.firstVersions().length);
    }

    /** Review 17: a claim prepared while the old leader went on (and truncated past the tail) is not made. */
    @Test
    void anObjectPastTheTailThatIsNoKnownOrphanMeansTheLogMoved() throws Exception {
        for (long v = 0; v <= 3; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        LogRecovery r = new LogRecovery(store, layout, 64, 1000);
        LogRecovery.Tail tail = r.findTail();
        assertTrue(!r.movedSince(tail));
        for (long v = 4; v <= 10; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        for (long v = 0; v <= 8; v++) {
            store.delete(List.of(layout.objectKey(v))).get();
        }
        assertTrue(r.movedSince(tail), "9 and 10 lie past the tail");
    }

    /**
     * A deposed leader's batch that landed in a name a truncation freed can overlap the newer
     * term's oldest kept object and end at the same version, so both chain into the next object:
     * the newer term's is the log, the stray (lower term) is an orphan.
     */
    @Test
    void aStrayOverlappingTheOldestKeptObjectDoesNotDisplaceIt() throws Exception {
        data(2, "L2", 7, 9, 6, 6); // term 2's oldest kept object (its 5..6 were truncated)
        data(1, "L1", 5, 9, 4, 4); // term 1's write in flight, landed at the freed name 5
        start(3, "L3", 10, 9, 9); // a later claim: the walk starts at term 3, and both chain into it
        data(3, "L3", 11, 11, 10, 9);
        LogRecovery.Tail tail = new LogRecovery(store, layout, 64, 1000).findTail();
        assertEquals(11, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(5)), tail.orphans());
        assertEquals(7, tail.firstVersions()[0]);
    }

    /**
     * Review 19: on a log longer than the walk's window the strays below the newer term's oldest
     * object were not marked (the walk started past them), so the index and the request-id
     * rebuild took them for the log. Every object read below the walk's start must chain into it.
     */
    @Test
    void strayWritesBelowTheOldestObjectOfALongLogAreOrphans() throws Exception {
        data(2, "L2", 10, 12, 9, 9);
        for (long v = 13; v <= 100; v++) {
            data(2, "L2", v, v, v - 1, v - 1);
        }
        data(1, "L1", 5, 5, 4, 4);
        data(1, "L1", 6, 6, 5, 5);
        LogRecovery.Tail tail = new LogRecovery(store, layout, 64, 1000).findTail();
        assertEquals(100, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(5), layout.objectKey(6)), tail.orphans());
        assertEquals(10, tail.firstVersions()[0]);
    }

    void floor(long version) {
        store.putDirect(layout.floorKey(version), new byte[] {'{', '}'});
    }

    /**
     * A deposed leader's strays further back than recovery's windows entered the index and the
     * request-id rebuild; below the truncation floor nothing is taken for the log, however far.
     */
    @Test
    void strayWritesBelowTheTruncationFloorAreOrphansHoweverFarBack() throws Exception {
        data(2, "L2", 10, 12, 9, 9);
        for (long v = 13; v <= 400; v++) {
            data(2, "L2", v, v, v - 1, v - 1);
        }
        data(1, "L1", 5, 5, 4, 4);
        data(1, "L1", 6, 6, 5, 5);
        floor(8); // an older pass (the one that freed 5 and 6)
        floor(10);
        LogRecovery.Tail tail = new LogRecovery(store, layout, 64, 1000).findTail();
        assertEquals(400, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(5), layout.objectKey(6)), tail.belowFloor());
        assertTrue(tail.orphans().isEmpty(), "below the floor is not an orphan of a term: " + tail.orphans());
        assertEquals(10, tail.firstVersions()[0], "the strays are not in the log's index");
    }

    /** A stray in the last freed name that happens to chain into the oldest kept object is no part of the log. */
    @Test
    void aStrayThatChainsIntoTheOldestKeptObjectIsAnOrphanBelowTheFloor() throws Exception {
        data(2, "L2", 10, 12, 9, 9);
        data(2, "L2", 13, 13, 12, 12);
        data(1, "L1", 5, 9, 4, 4); // term 1's write in flight, 5..9: term 2's 10 follows it
        floor(10);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(13, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(5)), tail.belowFloor());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {10, 13}, tail.firstVersions());
        assertEquals(layout.objectKey(13), recovery.findEnd().key());
    }

    /**
     * Review 19, R1: a standby listed the log, found nothing past the tail, and claimed; meanwhile
     * the live leader wrote past the tail and truncated below it, so the claim landed in a freed
     * name that the leader's look (after its own versions) never lists. The claim reads the floor
     * after it and gives up, deleting its marker.
     */
    @Test
    void aClaimThatLandsBelowTheTruncationFloorIsGivenUp() throws Exception {
        for (long v = 0; v <= 3; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        LogRecovery.Tail tail = recovery.findTail();
        for (long v = 4; v <= 10; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        floor(9);
        for (long v = 0; v <= 8; v++) {
            store.delete(List.of(layout.objectKey(v))).get();
        }
        var lost = assertThrows(LogRecovery.LostClaimException.class, () -> recovery.claim(tail, "L2", new ManualClock()));
        assertTrue(lost.getMessage().contains("truncation floor 9"), lost.getMessage());
        assertTrue(!store.objects().containsKey(layout.objectKey(4)), "the stray marker is deleted");
        assertEquals(10, recovery.findTail().lastVersion());
    }

    @Test
    void anEmptyLogAboveATruncationFloorIsRefusedNotStartedAgainFromZero() {
        floor(10);
        data(1, "L1", 5, 5, 4, 4);
        var e = assertThrows(io.weaseldb.s3.StorageException.class, recovery::findTail);
        assertTrue(e.getMessage().contains("truncated below version 10"), e.getMessage());
        assertEquals(io.weaseldb.s3.StorageException.Kind.PERMANENT, e.kind(), "not retried for a minute at startup");
    }

    /** Starts {@code call} on a thread of its own, completing {@code result} with what it returns or throws. */
    static <T> Thread onItsOwnThread(java.util.concurrent.Callable<T> call, java.util.concurrent.CompletableFuture<T> result) {
        Thread t = new Thread(() -> {
            try {
                result.complete(call.call());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        t.start();
        return t;
    }

    /**
     * Storage answers one request at a time: {@code between} (the live leader's doings, applied
     * at once) runs just before the first request {@code at} matches is answered; {@code call}
     * runs on its own thread, and its result (or failure) is returned.
     */
    <T> java.util.concurrent.CompletableFuture<T> interleaved(java.util.concurrent.Callable<T> call,
            java.util.function.Predicate<io.weaseldb.testing.ManualObjectStore.Pending> at, Runnable between)
            throws Exception {
        store.auto(false);
        java.util.concurrent.CompletableFuture<T> result = new java.util.concurrent.CompletableFuture<>();
        Thread t = onItsOwnThread(call, result);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            assertTrue(System.nanoTime() < deadline, "the call never reached the request to interleave at");
            if (store.pendingCount() == 0) {
                Thread.onSpinWait();
                continue;
            }
            io.weaseldb.testing.ManualObjectStore.Pending p = store.take();
            if (at.test(p)) {
                store.auto(true); // the rest, and the leader's doings, at once
                between.run();
                p.succeed();
                break;
            }
            p.succeed();
        }
        t.join(10_000);
        return result;
    }

    /** The live leader writes 4..10 past a tail at 3, stores floor 9 and deletes below it. */
    void leaderTruncatesPastTheTail() {
        for (long v = 4; v <= 10; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        floor(9);
        try {
            for (long v = 0; v <= 8; v++) {
                store.delete(List.of(layout.objectKey(v))).get();
            }
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    void logTo3() {
        for (long v = 0; v <= 3; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
    }

    /**
     * Review 20: readers list the log, then read the floor. A truncation and a stray landing in a
     * freed name just before the listing leave the stray in it, and the floor read after it
     * names it. Read the other way round, the stray was taken for the log.
     */
    @Test
    void theFloorIsReadAfterTheListingSoAStrayListedBelowItIsSeen() throws Exception {
        logTo3();
        var tail = interleaved(recovery::findTail, p -> p.op.equals("list") && p.key.equals(layout.logPrefix()), () -> {
            leaderTruncatesPastTheTail();
            data(0, "L0", 3, 8, 2, 2); // a deposed leader's write in flight lands in the freed name 3
        }).get();
        assertEquals(10, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(3)), tail.belowFloor());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {9, 10}, tail.firstVersions());
    }

    /**
     * Review 20: a claim reads the floor after its marker lands. The live leader's truncation
     * freeing the name just before the claim's write (its floor stored before that) is then seen;
     * read before the write, it was not, and two servers led.
     */
    @Test
    void theClaimReadsTheFloorAfterItsMarkerLands() throws Exception {
        logTo3();
        LogRecovery.Tail tail = recovery.findTail();
        var claimed = interleaved(() -> recovery.claim(tail, "L2", new ManualClock()),
                p -> p.op.equals("putIfAbsent"), this::leaderTruncatesPastTheTail);
        var e = assertThrows(java.util.concurrent.ExecutionException.class, claimed::get);
        assertInstanceOf(LogRecovery.LostClaimException.class, e.getCause());
        assertTrue(!store.objects().containsKey(layout.objectKey(4)), "the stray marker is deleted");
    }

    /**
     * Review 20: a leader that truncates past everything a reader listed, between its listing and
     * its floor read, left a healthy log looking like one deleted under its floor. The reader
     * lists again from the floor.
     */
    @Test
    void aTruncationPastEverythingListedIsListedAgainFromTheFloor() throws Exception {
        logTo3();
        var end = interleaved(recovery::findEnd, p -> p.op.equals("list") && p.key.equals(layout.floorPrefix()),
                this::leaderTruncatesPastTheTail).get();
        assertEquals(10, end.header().lastVersion());
    }

    /**
     * Audit 22: one log object missing a few objects below the newest term's start (deleted by
     * hand, or left out of one listing) made recovery mark every object below it an orphan, and
     * the new leader deleted them: hundreds of acknowledged commits, and more at each restart
     * since the hole stayed among the newest objects. A hole deletes nothing.
     */
    @Test
    void aHoleInTheLogBelowTheNewestTermDeletesNothing() throws Exception {
        for (long v = 0; v <= 40; v++) {
            if (v != 25) {
                data(1, "L1", v, v, v - 1, v - 1);
            }
        }
        start(2, "L2", 41, 40, 40);
        start(3, "L3", 42, 41, 40);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(42, tail.lastVersion());
        assertTrue(tail.orphans().isEmpty(), "nothing is an orphan: " + tail.orphans());
        assertEquals(42, tail.firstVersions().length, "everything stored is the log");
        assertTrue(recovery.orphansInsideTheLog(tail, new long[0]).isEmpty());
    }

    /** The same with the hole right below the newest term's start marker, and with it inside a later term's objects. */
    @Test
    void aHoleRightBelowATermStartOrInsideATermDeletesNothing() throws Exception {
        for (long v = 0; v <= 39; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        // 40, term 1's last object, is missing
        start(2, "L2", 41, 40, 40);
        for (long v = 42; v <= 60; v++) {
            if (v != 50) {
                data(2, "L2", v, v, v - 1, v - 1);
            }
        }
        start(3, "L3", 61, 60, 60);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(61, tail.lastVersion());
        assertTrue(tail.orphans().isEmpty(), "nothing is an orphan: " + tail.orphans());
        assertEquals(60, tail.firstVersions().length);
    }

    /** Audit 22: a listing that repeats a key got "log index must grow in order", as if storage were down. */
    @Test
    void aListingThatRepeatsAKeyIsRefusedSayingSo() {
        logTo3();
        var repeating = new io.weaseldb.s3.ObjectStore() {
            @Override
            public java.util.concurrent.CompletableFuture<ListPage> list(String prefix, String startAfter, String token,
                                                                         int maxKeys) {
                return store.list(prefix, startAfter, token, maxKeys).thenApply(p -> {
                    var twice = new java.util.ArrayList<>(p.entries());
                    if (prefix.equals(layout.logPrefix()) && !twice.isEmpty()) {
                        twice.add(1, twice.get(0));
                    }
                    return new ListPage(twice, p.continuationToken());
                });
            }

            @Override
            public java.util.concurrent.CompletableFuture<PutResult> putIfAbsent(String key, byte[] body) {
                return store.putIfAbsent(key, body);
            }

            @Override
            public java.util.concurrent.CompletableFuture<PutResult> putIfMatch(String key, byte[] body, String etag) {
                return store.putIfMatch(key, body, etag);
            }

            @Override
            public java.util.concurrent.CompletableFuture<Versioned> getVersioned(String key) {
                return store.getVersioned(key);
            }

            @Override
            public java.util.concurrent.CompletableFuture<Void> put(String key, byte[] body) {
                return store.put(key, body);
            }

            @Override
            public java.util.concurrent.CompletableFuture<byte[]> get(String key) {
                return store.get(key);
            }

            @Override
            public java.util.concurrent.CompletableFuture<byte[]> getRange(String key, long offset, int length) {
                return store.getRange(key, offset, length);
            }

            @Override
            public java.util.concurrent.CompletableFuture<Void> delete(List<String> keys) {
                return store.delete(keys);
            }

            @Override
            public java.util.concurrent.CompletableFuture<Void> ensureBucket(boolean create) {
                return store.ensureBucket(create);
            }

            @Override
            public void close() {}
        };
        var e = assertThrows(io.weaseldb.s3.StorageException.class,
                () -> new LogRecovery(repeating, layout, 64, 1000).findTail());
        assertTrue(e.getMessage().contains("a listing must name each key once, in key order"), e.getMessage());
    }

    /** Review 25: the missing object is the newest term's start marker; every older object read was deleted. */
    @Test
    void missingNewestTermStartMarkerDeletesNothing() throws Exception {
        start(1, "L1", 0, -1, -1);
        for (long v = 1; v <= 40; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        // term 2's marker at 41 is missing (deleted by hand / left out of the listing)
        for (long v = 42; v <= 50; v++) {
            data(2, "L2", v, v, v - 1, v == 42 ? 40 : v - 1);
        }
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(50, tail.lastVersion());
        assertTrue(tail.orphans().isEmpty(), tail.orphans().size() + " orphans: " + tail.orphans());
        assertTrue(recovery.orphansInsideTheLog(tail, new long[0]).isEmpty());
    }

    /** Review 25: and again at each restart, a window further down each time. */
    @Test
    void missingMarkerDeletesMoreAtEachRestart() throws Exception {
        start(1, "L1", 0, -1, -1);
        for (long v = 1; v <= 300; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        for (long v = 302; v <= 310; v++) {
            data(2, "L2", v, v, v - 1, v == 302 ? 300 : v - 1); // 301 (term 2's marker) missing
        }
        int deleted = 0;
        for (int restart = 0; restart < 2; restart++) {
            LogRecovery.Tail tail = recovery.findTail();
            List<String> doomed = recovery.orphansInsideTheLog(tail, new long[0]);
            store.delete(doomed).get(); // what WeaselServer.claim's deleteOrphans does
            deleted += doomed.size();
            recovery.claim(tail, "L" + (3 + restart), new ManualClock());
        }
        assertEquals(0, deleted, "acknowledged term-1 objects deleted over two restarts");
    }

    /** Review 25: the marker of a term further down missing. */
    @Test
    void missingMarkerOfAnOlderTermDeletesNothing() throws Exception {
        start(1, "L1", 0, -1, -1);
        for (long v = 1; v <= 20; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        for (long v = 22; v <= 30; v++) {
            data(2, "L2", v, v, v - 1, v == 22 ? 20 : v - 1); // 21 missing
        }
        start(3, "L3", 31, 30, 30);
        for (long v = 32; v <= 35; v++) {
            data(3, "L3", v, v, v - 1, v - 1);
        }
        LogRecovery.Tail tail = recovery.findTail();
        assertTrue(tail.orphans().isEmpty(), tail.orphans().size() + " orphans: " + tail.orphans());
    }

    /**
     * Review 25: a log truncated without a floor (before floors were recorded). Term 2 claimed
     * at 5 and its objects 5..9 were truncated; term 3 claimed at 10. Term 1's leader (durable
     * through 4), paused since term 2's claim, lands its write in flight at the freed name 5: an
     * orphan, not the log below a hole (whose request id the rebuild would answer as committed).
     */
    @Test
    void aStrayRightBelowATermStartWithoutAFloorIsNotTheLog() throws Exception {
        data(1, "L1", 5, 5, 4, 4);
        start(3, "L3", 10, 9, 9);
        for (long v = 11; v <= 15; v++) {
            data(3, "L3", v, v, v - 1, v - 1);
        }
        LogRecovery.Tail tail = recovery.findTail();
        LogIndex index = new LogIndex();
        for (long f : tail.firstVersions()) {
            index.add(f);
        }
        RequestIdIndex ids = new RequestIdIndex(1, 2, 1_000_000, 3_600_000, 0, 0);
        RequestIdRecovery.rebuild(store, layout, index, tail.bareMarkers(), 0, ids, new TermHistory(), 4, 1000);
        assertEquals(RequestIdIndex.UNKNOWN, ids.lookup("r5"), "a never-acknowledged request id answered as committed");
        assertEquals(List.of(layout.objectKey(5)), tail.orphans());
    }
    /** Every object deleted, the floor left: the log is refused, not started again from version 0 below the floor. */
    @Test
    void aLogWhollyDeletedUnderATruncationFloorIsRefused() {
        floor(10);
        var e = assertThrows(io.weaseldb.s3.StorageException.class, recovery::findTail);
        assertTrue(e.getMessage().contains("truncated below version 10"), e.getMessage());
        assertThrows(io.weaseldb.s3.StorageException.class, recovery::findEnd);
        assertTrue(store.objects().keySet().stream().noneMatch(k -> k.startsWith(layout.logPrefix())), "nothing claimed");
    }

    /**
     * Audit 22 / review 25 on a short log: a log that was never truncated (it starts at version
     * 0) has no freed names, so lower-term objects below a hole are the log, however few there
     * are (a run of at most MAX_STRAYS looks like strays only on a log truncated without a floor).
     */
    @Test
    void aHoleInAShortLogNeverTruncatedDeletesNothing() throws Exception {
        start(1, "L1", 0, -1, -1);
        for (long v = 1; v <= 5; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        // term 2's marker at 6 is missing (deleted by hand / left out of the listing)
        data(2, "L2", 7, 7, 6, 5);
        data(2, "L2", 8, 8, 7, 7);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(8, tail.lastVersion());
        assertTrue(tail.orphans().isEmpty(), tail.orphans().size() + " orphans: " + tail.orphans());
        assertTrue(recovery.orphansInsideTheLog(tail, new long[0]).isEmpty());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 7, 8}, tail.firstVersions());
    }

    /** The same on a truncated log with a floor: below the floor nothing is the log, above it a hole deletes nothing. */
    @Test
    void aHoleAboveTheTruncationFloorDeletesNothing() throws Exception {
        floor(5);
        for (long v = 5; v <= 8; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        // term 2's marker at 9 is missing
        data(2, "L2", 10, 10, 9, 8);
        data(2, "L2", 11, 11, 10, 10);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(11, tail.lastVersion());
        assertTrue(tail.orphans().isEmpty(), tail.orphans().size() + " orphans: " + tail.orphans());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {5, 6, 7, 8, 10, 11}, tail.firstVersions());
    }

    /** Term 1's strays at 5, 6, ... ({@code strays} of them) below term 3's start at 30, on a log truncated without a floor. */
    LogRecovery.Tail straysBelowATermStart(int strays) throws Exception {
        for (long v = 5; v < 5 + strays; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        start(3, "L3", 30, 29, 29);
        data(3, "L3", 31, 31, 30, 29);
        return recovery.findTail();
    }

    /** Review 25's rule has a bound: a run of MAX_STRAYS lower-term objects below the newer term is orphaned, a longer one is a hole. */
    @Test
    void atMostMaxStraysBelowANewerTermAreOrphansOnALogTruncatedWithoutAFloor() throws Exception {
        LogRecovery.Tail tail = straysBelowATermStart(LogRecovery.MAX_STRAYS);
        assertEquals(31, tail.lastVersion());
        assertEquals(LogRecovery.MAX_STRAYS, tail.orphans().size(), tail.orphans().toString());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {30, 31}, tail.firstVersions());
        store.delete(List.copyOf(store.objects().keySet())).get();
        tail = straysBelowATermStart(LogRecovery.MAX_STRAYS + 1);
        assertTrue(tail.orphans().isEmpty(), "a longer run is the log below a hole: " + tail.orphans());
        assertEquals(LogRecovery.MAX_STRAYS + 3, tail.firstVersions().length);
    }

    /**
     * On a log truncated without a floor, the object below a hole is a stray only if its term
     * is older than the term before the newer term's start (or, below a data object, older than
     * its term). The previous term's object below a term start, or one of the same term below
     * data, is the log below a hole: never deleted.
     */
    @Test
    void theLogBelowAHoleOnALogTruncatedWithoutAFloorIsNotAStray() throws Exception {
        data(2, "L2", 5, 5, 4, 4); // 6..9 missing
        start(3, "L3", 10, 9, 9);
        for (long v = 11; v <= 15; v++) {
            data(3, "L3", v, v, v - 1, v - 1);
        }
        LogRecovery.Tail tail = recovery.findTail();
        assertTrue(tail.orphans().isEmpty(), "term 2's object below term 3's start: " + tail.orphans());
        assertEquals(5, tail.firstVersions()[0]);

        store.delete(List.copyOf(store.objects().keySet())).get();
        data(3, "L3", 5, 5, 4, 4); // 6..9 missing
        for (long v = 10; v <= 15; v++) {
            data(3, "L3", v, v, v - 1, v - 1);
        }
        tail = new LogRecovery(store, layout, 4, 1000).findTail(); // the walk starts above the hole
        assertEquals(15, tail.lastVersion());
        assertTrue(tail.orphans().isEmpty(), "term 3's object below term 3's: " + tail.orphans());
        assertEquals(5, tail.firstVersions()[0]);
    }

    /**
     * An object below a newer term's start that overlaps the version the term claimed is not the
     * log, even when no object below chains into the start (the one that did is missing); the
     * objects below it are the log below a hole, not orphans with it. Marked with it, they were
     * among the orphans inside the log, which a new leader deletes: acknowledged commits lost.
     */
    @Test
    void anObjectOverlappingTheVersionANewerTermClaimedIsAnOrphan() throws Exception {
        for (long v = 0; v <= 4; v++) {
            data(1, "L1", v, v, v - 1, v - 1);
        }
        data(1, "L1", 5, 10, 4, 4); // reaches 10, which term 2 claimed from a tail at 9
        start(2, "L2", 10, 9, 9);
        data(2, "L2", 11, 11, 10, 9);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(11, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(5)), tail.orphans());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {0, 1, 2, 3, 4, 10, 11}, tail.firstVersions());
        assertEquals(List.of(layout.objectKey(5)), recovery.orphansInsideTheLog(tail, new long[0]), "what the new leader deletes");
    }

    /** An object between the newer term's predecessor and its start is an orphan, the predecessor being the oldest object kept. */
    @Test
    void anObjectBetweenTheOldestKeptPredecessorAndTheNewerTermIsAnOrphan() throws Exception {
        floor(5);
        data(1, "L1", 5, 9, 4, 4); // the oldest object kept: term 2's start follows it
        data(1, "L1", 7, 7, 6, 6); // inside its range, chaining nowhere
        start(2, "L2", 10, 9, 9);
        data(2, "L2", 11, 11, 10, 9);
        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(11, tail.lastVersion());
        assertEquals(List.of(layout.objectKey(7)), tail.orphans());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {5, 10, 11}, tail.firstVersions());
    }

    /** Orphans whose first version is the log's last version lie inside the log too (its last object spans it). */
    @Test
    void anOrphanAtTheLogsLastVersionIsInsideTheLog() {
        LogRecovery.Tail tail = new LogRecovery.Tail(1, 4, 4, "A", List.of(layout.objectKey(4), layout.objectKey(5)), 3,
                new long[] {0, 1}, new long[0], List.of());
        assertEquals(List.of(layout.objectKey(4)), recovery.orphansInsideTheLog(tail, new long[0]));
        LogRecovery.Tail none = new LogRecovery.Tail(1, 4, 4, "A", List.of(), 2, new long[] {0, 1}, new long[0], List.of());
        assertEquals(List.of(layout.objectKey(4)), recovery.orphansInsideTheLog(none, new long[] {4, 5}));
    }

    /** A log holding only its first term's start marker (version 0) has not moved until something follows it. */
    @Test
    void aLogAtVersionZeroOrEmptyHasNotMovedUntilAnObjectFollows() throws Exception {
        LogRecovery.Tail empty = recovery.findTail();
        assertEquals(-1, empty.lastVersion());
        assertTrue(!recovery.movedSince(empty));
        start(1, "L1", 0, -1, -1);
        assertTrue(recovery.movedSince(empty), "an object in an empty log");
        LogRecovery.Tail atZero = recovery.findTail();
        assertEquals(0, atZero.lastVersion());
        assertTrue(!recovery.movedSince(atZero), "the marker at 0 is the tail itself");
        data(1, "L1", 1, 1, 0, -1);
        assertTrue(recovery.movedSince(atZero));
    }

    /** Term 1's orphan at 2 past term 2's claim at 1; the tail C lists is version 1 of term 2. */
    LogRecovery.Tail orphanPastTheTail() throws Exception {
        start(1, "A", 0, -1, -1);
        start(2, "B", 1, 0, -1);
        LogRecovery.Tail tail = recovery.findTail();
        data(1, "A", 2, 2, 1, -1);
        return tail;
    }

    /**
     * A claim replacing an orphan by compare-and-swap loses when another server replaced it
     * first: it must look again and give up, not take the term as won (two leaders).
     */
    @Test
    void aClaimWhoseReplaceOfAnOrphanLosesTheRaceGivesUp() throws Exception {
        LogRecovery.Tail tail = orphanPastTheTail();
        byte[] rival = BatchCodec.encodeEmpty(BatchHeader.termStart(3, "D", 2, 1, -1, 0));
        var claimed = interleaved(() -> recovery.claim(tail, "C", new ManualClock()), p -> p.op.equals("putIfMatch"),
                () -> store.putDirect(layout.objectKey(2), rival));
        var e = assertThrows(java.util.concurrent.ExecutionException.class, claimed::get);
        assertInstanceOf(LogRecovery.LostClaimException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("leader D (term 3), continuing the log"), e.getCause().getMessage());
        assertEquals("D", BatchCodec.decodeHeader("k", store.objects().get(layout.objectKey(2))).leaderId());
    }

    /** An orphan that vanishes between the claim's conditional write and its read is no rival: the claim tries again and wins. */
    @Test
    void aClaimWhoseRivalVanishesTriesAgain() throws Exception {
        LogRecovery.Tail tail = orphanPastTheTail();
        String key = layout.objectKey(2);
        Term t = interleaved(() -> recovery.claim(tail, "C", new ManualClock()), p -> p.op.equals("get") && p.key.equals(key),
                () -> store.delete(List.of(key)).join()).get();
        assertEquals(new Term(3, "C", 2, -1), t);
        assertEquals("C", BatchCodec.decodeHeader("k", store.objects().get(key)).leaderId());
    }

    /**
     * An orphan that comes back before each conditional write and vanishes before each read is
     * retried a bounded number of times (six writes), then the claim fails instead of spinning.
     */
    @Test
    void aClaimRetriesAVanishingRivalABoundedNumberOfTimes() throws Exception {
        LogRecovery.Tail tail = orphanPastTheTail();
        String key = layout.objectKey(2);
        byte[] orphan = store.objects().get(key);
        int[] writes = {0};
        var claimed = answering(() -> recovery.claim(tail, "C", new ManualClock()), p -> {
            if (p.key.equals(key) && p.op.equals("putIfAbsent")) {
                writes[0]++;
                store.putDirect(key, orphan);
            } else if (p.key.equals(key) && p.op.equals("get")) {
                removeDirect(key);
            }
            return false;
        }, 0);
        var e = assertThrows(java.util.concurrent.ExecutionException.class, claimed::get);
        var storage = assertInstanceOf(io.weaseldb.s3.StorageException.class, e.getCause());
        assertEquals(io.weaseldb.s3.StorageException.Kind.NOT_FOUND, storage.kind());
        assertEquals(6, writes[0]);
    }

    /** Deletes {@code key} at once while the store answers by hand (the request waiting is applied after). */
    void removeDirect(String key) {
        store.auto(true);
        store.delete(List.of(key)).join();
        store.auto(false);
    }

    /**
     * Runs {@code call} on its own thread, answering its storage requests in order: those
     * {@code failIf} picks fail with {@code status}, the rest succeed.
     */
    <T> java.util.concurrent.CompletableFuture<T> answering(java.util.concurrent.Callable<T> call,
            java.util.function.Predicate<io.weaseldb.testing.ManualObjectStore.Pending> failIf, int status) throws Exception {
        store.auto(false);
        java.util.concurrent.CompletableFuture<T> result = new java.util.concurrent.CompletableFuture<>();
        Thread t = onItsOwnThread(call, result);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!result.isDone()) {
            assertTrue(System.nanoTime() < deadline, "the call did not finish");
            if (store.pendingCount() == 0) {
                Thread.onSpinWait();
                continue;
            }
            io.weaseldb.testing.ManualObjectStore.Pending p = store.take();
            if (failIf.test(p)) {
                p.fail(status);
            } else {
                p.succeed();
            }
        }
        t.join(10_000);
        store.auto(true);
        return result;
    }

    /** Fails the first {@code n} reads of the truncation floor made after the claim's marker is written. */
    java.util.function.Predicate<io.weaseldb.testing.ManualObjectStore.Pending> floorReadsAfterTheClaim(int n) {
        boolean[] claimed = {false};
        int[] left = {n};
        return p -> {
            claimed[0] |= p.op.equals("putIfAbsent");
            if (claimed[0] && p.op.equals("list") && p.key.equals(layout.floorPrefix()) && left[0] > 0) {
                left[0]--;
                return true;
            }
            return false;
        };
    }

    /**
     * The floor read that confirms a claim is tried three times on transient failures (a claim
     * left unconfirmed is a term start with no leader, which every standby waits out), and not
     * again on a permanent one.
     */
    @Test
    void theFloorReadAfterAClaimIsTriedThreeTimes() throws Exception {
        logTo3();
        LogRecovery.Tail tail = recovery.findTail();
        Term t = answering(() -> recovery.claim(tail, "L2", new ManualClock()), floorReadsAfterTheClaim(2), 503).get();
        assertEquals(new Term(2, "L2", 4, 3), t);

        LogRecovery.Tail next = recovery.findTail();
        var e = assertThrows(java.util.concurrent.ExecutionException.class,
                answering(() -> recovery.claim(next, "L3", new ManualClock()), floorReadsAfterTheClaim(3), 503)::get);
        assertInstanceOf(io.weaseldb.s3.StorageException.class, e.getCause());

        LogRecovery.Tail third = recovery.findTail();
        assertEquals(5, third.lastVersion(), "L3's marker landed");
        e = assertThrows(java.util.concurrent.ExecutionException.class,
                answering(() -> recovery.claim(third, "L4", new ManualClock()), floorReadsAfterTheClaim(1), 403)::get);
        assertInstanceOf(io.weaseldb.s3.StorageException.class, e.getCause());
    }
}
