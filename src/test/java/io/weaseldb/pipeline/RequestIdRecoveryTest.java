package io.weaseldb.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.CorruptBatchException;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.s3.StorageException;
import io.weaseldb.testing.ManualObjectStore;
import io.weaseldb.txn.Transaction;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestIdRecoveryTest {
    final ManualObjectStore store = new ManualObjectStore().auto(true);
    final LogLayout layout = new LogLayout("");

    /** A log object of transactions "id-LEADER-V" for every version, then {@code bans}. */
    void batch(long term, String leader, long first, long last, long prev, String... bans) {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        for (long v = first; v <= last; v++) {
            e.append(new Transaction("id-" + leader + "-" + v, v, v - 1, 0, List.of()));
        }
        for (String ban : bans) {
            e.appendBan(ban);
        }
        store.putDirect(layout.objectKey(first), e.seal(new BatchHeader(BatchHeader.DATA, term, leader, first, last,
                prev, prev, last, 0, (int) (last - first + 1), bans.length)));
    }

    @Test
    void anOlderTermsOrphanInsideANewerTermsBatchCommittedNothing() throws Exception {
        batch(1, "A", 0, 2, -1);
        batch(2, "B", 3, 7, 2);
        batch(1, "A", 5, 6, 4); // A's write past its hole at 3..4, landed after B's claim: never acknowledged
        batch(2, "B", 8, 8, 7);
        // A recovery whose window did not reach the orphan listed it with the log.
        LogIndex index = new LogIndex();
        for (long first : new long[] {0, 3, 5, 8}) {
            index.add(first);
        }
        RequestIdIndex ids = new RequestIdIndex(1, 2, 1_000_000, 3_600_000, 0, 0);
        TermHistory terms = new TermHistory();

        RequestIdRecovery.Result r = RequestIdRecovery.rebuild(store, layout, index, new long[0], 0, ids, terms, 4, 1000);

        assertArrayEquals(new long[] {5}, r.orphans());
        assertArrayEquals(new long[] {0, 3, 8}, index.snapshot(), "readers must not start at the orphan");
        assertEquals(RequestIdIndex.UNKNOWN, ids.lookup("id-A-5"), "a retry of the orphan's transaction must commit, not be answered");
        assertEquals(RequestIdIndex.UNKNOWN, ids.lookup("id-A-6"));
        assertEquals(5, ids.lookup("id-B-5"));
        assertEquals(8, ids.lookup("id-B-8"));
        assertEquals("B", terms.leaderAt(6));
        assertEquals(9, r.ids());
    }

    /**
     * Audit 34: /v1/status banned X at version 1 while a batch of versions 1..4 filled; with a
     * window of 2 versions the leader forgot the ban, X committed at 5 and was acknowledged. The
     * log holds the ban without its version (taken as its object's last, 4), so after a restart
     * the rebuilt ban, read first, hid the commit: status said not_committed and a retry got 400.
     */
    @Test
    void aBanTheLeaderForgotBeforeTheIdCommittedDoesNotHideTheCommitAfterARestart() throws Exception {
        batch(1, "A", 1, 4, 0, "asked-then-committed-01");
        BatchCodec.Encoder f = new BatchCodec.Encoder();
        f.append(new Transaction("asked-then-committed-01", 5, 4, 0, List.of()));
        store.putDirect(layout.objectKey(5), f.seal(new BatchHeader(BatchHeader.DATA, 1, "A", 5, 5, 4, 4, 5, 0, 1, 0)));
        LogIndex index = new LogIndex();
        index.add(1);
        index.add(5);
        RequestIdIndex ids = new RequestIdIndex(1, 2, 2, 3_600_000, 4, 0);

        RequestIdRecovery.Result r = RequestIdRecovery.rebuild(store, layout, index, new long[0], 4, ids, new TermHistory(), 4,
                1000);

        assertEquals(5, ids.lookup("asked-then-committed-01"), "the acknowledged commit, not the forgotten ban");
        assertEquals(1, r.bans());
    }

    /** Audit 40 (a mutant dropping the rebuild's bans survived): a ban outlives a restart. */
    @Test
    void aBanSurvivesTheRebuild() throws Exception {
        batch(1, "A", 1, 1, 0, "asked-never-committed-1");
        LogIndex index = new LogIndex();
        index.add(1);
        RequestIdIndex ids = new RequestIdIndex(1, 2, 1_000, 3_600_000, 0, 0);
        RequestIdRecovery.rebuild(store, layout, index, new long[0], 0, ids, new TermHistory(), 4, 1000);
        assertEquals(-2, ids.lookup("asked-never-committed-1"), "banned at the object's last version, 1");
        assertEquals(1, ids.lookup("id-A-1"));
    }

    @Test
    void aWindowStartingInsideAnObjectReadsThatObject() throws Exception {
        // Once the log is longer than request_id_retention_versions the window starts mid-object:
        // the ids from its start on must be remembered, or a retry of one commits a second time.
        batch(1, "A", 0, 4, -1);
        batch(1, "A", 5, 9, 4);
        LogIndex index = new LogIndex();
        index.add(0);
        index.add(5);
        RequestIdIndex ids = new RequestIdIndex(1, 2, 1_000_000, 3_600_000, 3, 0);

        RequestIdRecovery.Result r = RequestIdRecovery.rebuild(store, layout, index, new long[0], 3, ids, new TermHistory(), 4,
                1000);

        assertEquals(3, ids.lookup("id-A-3"));
        assertEquals(4, ids.lookup("id-A-4"));
        assertEquals(9, ids.lookup("id-A-9"));
        assertEquals(RequestIdIndex.UNKNOWN, ids.lookup("id-A-2"), "before the window");
        assertEquals(7, r.ids());
    }

    /**
     * Audit 40's list: a request-id section longer than the first ranged read (64 KiB) takes a
     * second read of the whole section; an id past the first read's end must still be remembered,
     * or a retry of its commit would commit it twice.
     */
    @Test
    void aRequestIdSectionLongerThanTheFirstReadIsReadWhole() throws Exception {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        String pad = "x".repeat(200);
        int count = 1_000; // ~210 KB of request ids
        for (int v = 1; v <= count; v++) {
            e.append(new Transaction(pad + v, v, v - 1, 0, List.of()));
        }
        byte[] object = e.seal(new BatchHeader(BatchHeader.DATA, 1, "A", 1, count, 0, 0, count, 0, count, 0));
        assertTrue(object.length > 3 * RequestIdRecovery.FIRST_READ_BYTES, "the section outgrows the first read");
        store.putDirect(layout.objectKey(1), object);
        LogIndex index = new LogIndex();
        index.add(1);
        RequestIdIndex ids = new RequestIdIndex(1, 2, 1_000_000, 3_600_000, 0, 0);

        RequestIdRecovery.Result r = RequestIdRecovery.rebuild(store, layout, index, new long[0], 0, ids, new TermHistory(), 4,
                1000);

        assertEquals(count, r.ids());
        assertEquals(1, ids.lookup(pad + 1));
        assertEquals(count, ids.lookup(pad + count), "the last id, far past the first read");
        assertEquals(2, store.rangedReadCount(), "one first read, then the whole section");
    }

    /**
     * Audit 40's list: a read that fails fails the rebuild (startup retries it) rather than
     * skipping the object, whose ids would be forgotten and their retries committed twice.
     */
    @Test
    void aReadThatFailsFailsTheRebuildRatherThanForgettingItsIds() {
        batch(1, "A", 1, 2, 0);
        LogIndex index = new LogIndex();
        index.add(1);
        index.add(3); // listed, but gone when read
        RequestIdIndex ids = new RequestIdIndex(1, 2, 1_000_000, 3_600_000, 0, 0);
        assertThrows(StorageException.class, () -> RequestIdRecovery.rebuild(store, layout, index, new long[0], 0, ids,
                new TermHistory(), 4, 1000));
    }

    /** A log object that is not one fails the rebuild as corrupt, with its name. */
    @Test
    void aCorruptObjectFailsTheRebuildNamingIt() {
        batch(1, "A", 1, 2, 0);
        store.putDirect(layout.objectKey(3), "not a log object".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        LogIndex index = new LogIndex();
        index.add(1);
        index.add(3);
        RequestIdIndex ids = new RequestIdIndex(1, 2, 1_000_000, 3_600_000, 0, 0);
        CorruptBatchException e = assertThrows(CorruptBatchException.class, () -> RequestIdRecovery.rebuild(store, layout,
                index, new long[0], 0, ids, new TermHistory(), 4, 1000));
        assertTrue(e.getMessage().contains(layout.objectKey(3)), e.getMessage());
    }
}
