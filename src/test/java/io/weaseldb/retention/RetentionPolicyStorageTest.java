package io.weaseldb.retention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import io.weaseldb.testing.ManualClock;
import io.weaseldb.testing.ManualObjectStore;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Policies as storage holds them (audit 28): what else may sit under retention/, writes whose
 * answer is lost, reads that disagree with the listing, and many policies.
 */
class RetentionPolicyStorageTest {
    final ManualObjectStore store = new ManualObjectStore().auto(true);
    final LogLayout layout = new LogLayout("");
    final LogIndex index = new LogIndex();
    final ManualClock clock = new ManualClock();
    RetentionManager m;

    /** Log objects starting at 0, 10, ... 50; the log ends at 99. */
    @BeforeEach
    void setUp() {
        for (long f = 0; f <= 50; f += 10) {
            store.putDirect(layout.objectKey(f), new byte[] {1});
            index.add(f);
        }
    }

    RetentionManager manager(ObjectStore s) {
        return new RetentionManager(new RetentionManager.Settings(3600, 100, 5_000), s, layout, index, clock,
                () -> 99, () -> Long.MAX_VALUE, () -> Long.MAX_VALUE, new SimpleMeterRegistry());
    }

    @AfterEach
    void tearDown() {
        if (m != null) {
            m.close();
        }
    }

    long logObjects() {
        return store.objects().keySet().stream().filter(k -> k.startsWith("log/")).count();
    }

    void putDoc(String key, String doc) {
        store.putDirect(key, doc.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * An S3 console's "Create folder" leaves retention/ (an empty object), an operator a note:
     * the term failed at start() on them, and every standby's claim after it, so no server
     * could lead until someone found and deleted the object.
     */
    @Test
    void objectsUnderRetentionThatAreNotPolicyIdsDoNotKeepATermFromStarting() throws Exception {
        putDoc("retention/", "");
        putDoc("retention/notes/read-me", "hello");
        m = manager(store);
        m.start();
        m.put("keep", 25, null).get();
        assertEquals(2, m.truncateNow().get(), "passes go on: [0..9] and [10..19] are below the policy");
        assertEquals(1, m.list().get().size());
    }

    @Test
    void anUnreadableDocumentUnderAPolicyIdHoldsTruncationButNotTheTerm() throws Exception {
        putDoc("retention/notes.txt", "hello"); // a valid id: it could be a policy, so it is not ignored
        m = manager(store);
        m.start(); // commits and subscriptions are not held hostage by it
        m.put("keep", 25, null).get();
        ExecutionException held = assertThrows(ExecutionException.class, () -> m.truncateNow().get(5, TimeUnit.SECONDS));
        assertTrue(held.getCause().getMessage().contains("retention/notes.txt"), held.getCause().getMessage());
        assertEquals(6, logObjects(), "nothing deleted while a policy cannot be read");
        store.delete(List.of("retention/notes.txt")).get();
        assertEquals(2, m.truncateNow().get(), "truncation resumes once it is gone");
    }

    /** audit 28: a PUT answered 503 had landed; GET showed the old policy, and the next pass truncated by the new one. */
    @Test
    void aPolicyWriteWhoseReplyIsLostIsReadBackAndAnsweredAsStored() throws Exception {
        m = manager(store);
        m.start();
        m.put("keep", 20, null).get();
        store.auto(false);
        CompletableFuture<RetentionManager.PutResult> put = m.put("keep", 40, null);
        awaitPending("put").applyAndLoseReply();
        awaitPending("get").succeed(); // the read-back
        store.auto(true);
        RetentionManager.PutResult r = put.get(5, TimeUnit.SECONDS);
        assertInstanceOf(RetentionManager.PutResult.Replaced.class, r, "the write landed: say so");
        assertEquals(40, m.get("keep").get().version());
    }

    @Test
    void aPolicyWriteThatDidNotLandFailsAndLeavesWhatIsStored() throws Exception {
        m = manager(store);
        m.start();
        m.put("keep", 20, null).get();
        store.auto(false);
        CompletableFuture<RetentionManager.PutResult> put = m.put("keep", 40, null);
        awaitPending("put").fail(500);
        awaitPending("get").succeed();
        store.auto(true);
        assertThrows(ExecutionException.class, () -> put.get(5, TimeUnit.SECONDS));
        assertEquals(20, m.get("keep").get().version());
    }

    @Test
    void aPolicyOnlyStorageKnowsCanBeDeleted() throws Exception {
        m = manager(store);
        m.start();
        // written by an earlier write whose failure was reported (or a server before): not in the map yet
        store.putDirect("retention/ghost", PolicyCodec.encode(new Policy("ghost", 10, null, null, 1)));
        assertTrue(m.delete("ghost").get(), "deleted from storage, which truncation goes by");
        assertNull(store.objects().get("retention/ghost"));
        assertEquals(false, m.delete("ghost").get(), "then it is gone: 404");
    }

    /**
     * A write that failed and whose read-back failed too: nobody knows what storage holds. The
     * client is told so, and the policy stays as it was known (a GET must not answer 404 for a
     * policy that may well be stored and pinning the log).
     */
    @Test
    void aPolicyWriteWhoseReadBackFailsTooIsReportedAsUnknown() throws Exception {
        m = manager(store);
        m.start();
        m.put("keep", 20, null).get();
        store.auto(false);
        CompletableFuture<RetentionManager.PutResult> put = m.put("keep", 40, null);
        awaitPending("put").fail(503);
        awaitPending("get").fail(503);
        store.auto(true);
        ExecutionException e = assertThrows(ExecutionException.class, () -> put.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("whether the change was stored is unknown"), e.getCause().getMessage());
        assertEquals(20, m.get("keep").get().version(), "still known as stored");
    }

    /**
     * A write refused for good whose read-back finds another server's document (a deposed leader
     * that wrote it): the answer is the error, and the policy from then on is what storage holds.
     * A refusal is not one that "can still land".
     */
    @Test
    void aRefusedPolicyWriteTakesWhatStorageHolds() throws Exception {
        m = manager(store);
        m.start();
        m.put("keep", 20, null).get();
        store.auto(false);
        CompletableFuture<RetentionManager.PutResult> put = m.put("keep", 40, null);
        awaitPending("put").fail(403);
        store.putDirect("retention/keep", PolicyCodec.encode(new Policy("keep", 30, null, null, 1)));
        awaitPending("get").succeed();
        store.auto(true);
        ExecutionException e = assertThrows(ExecutionException.class, () -> put.get(5, TimeUnit.SECONDS));
        assertTrue(!e.getCause().getMessage().contains("can still land"), e.getCause().getMessage());
        assertEquals(30, m.get("keep").get().version(), "what storage holds");
    }

    /** A write that timed out and is not stored when read back may still land: the client is told to check. */
    @Test
    void aPolicyWriteThatTimedOutAndIsNotStoredSaysItCanStillLand() throws Exception {
        m = manager(store);
        m.start();
        store.auto(false);
        CompletableFuture<RetentionManager.PutResult> put = m.put("keep", 40, null);
        awaitPending("put").fail(0);
        awaitPending("get").succeed(); // not found
        store.auto(true);
        ExecutionException e = assertThrows(ExecutionException.class, () -> put.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("can still land"), e.getCause().getMessage());
        assertNull(m.get("keep").get(), "not stored as far as anyone knows");
    }

    /** audit 28: a listed policy read as 404 (a store whose listing and reads disagree) was taken as deleted, and the pass truncated under it. */
    @Test
    void aListedPolicyThatReadsAsNotFoundFailsThePassInsteadOfBeingIgnored() throws Exception {
        m = manager(new ForwardingStore(store) {
            @Override
            public CompletableFuture<byte[]> get(String key) {
                if (key.equals("retention/early")) {
                    return CompletableFuture.failedFuture(new StorageException(StorageException.Kind.NOT_FOUND, 404,
                            key + " not found", null));
                }
                return super.get(key);
            }
        });
        m.start();
        m.put("early", 15, null).get();
        m.put("late", 45, null).get();
        assertThrows(ExecutionException.class, () -> m.truncateNow().get(5, TimeUnit.SECONDS));
        assertEquals(6, logObjects(), "nothing deleted: [10..19] is pinned by a policy the read missed");
    }

    /** audit 28: every pass read every policy, one GET at a time; with ~3,000 passes queued behind each other. */
    @Test
    void aPassReadsOnlyThePoliciesThatChanged() throws Exception {
        m = manager(store);
        m.start();
        for (int i = 0; i < 300; i++) {
            m.put("p" + i, 30 + i % 10, null).get();
        }
        m.truncateNow().get();
        int before = store.getCount();
        m.put("p7", 35, null).get();
        m.truncateNow().get();
        assertEquals(1, store.getCount() - before, "one document changed: one read");
        assertEquals(300, m.list().get().size());
        assertNotNull(m.get("p7").get());
        assertEquals(35, m.get("p7").get().version());
    }

    ManualObjectStore.Pending awaitPending(String op) throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            for (ManualObjectStore.Pending p : store.pending()) {
                if (p.op.equals(op)) {
                    return store.takeFor(p.key);
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no pending " + op + ": " + store.pending());
    }

    /** Passes every call to another store; override what a test changes. */
    static class ForwardingStore implements ObjectStore {
        final ObjectStore to;

        ForwardingStore(ObjectStore to) {
            this.to = to;
        }

        @Override
        public CompletableFuture<PutResult> putIfAbsent(String key, byte[] body) {
            return to.putIfAbsent(key, body);
        }

        @Override
        public CompletableFuture<PutResult> putIfMatch(String key, byte[] body, String etag) {
            return to.putIfMatch(key, body, etag);
        }

        @Override
        public CompletableFuture<Versioned> getVersioned(String key) {
            return to.getVersioned(key);
        }

        @Override
        public CompletableFuture<Void> put(String key, byte[] body) {
            return to.put(key, body);
        }

        @Override
        public CompletableFuture<byte[]> get(String key) {
            return to.get(key);
        }

        @Override
        public CompletableFuture<byte[]> getRange(String key, long offset, int length) {
            return to.getRange(key, offset, length);
        }

        @Override
        public CompletableFuture<ListPage> list(String prefix, String startAfter, String continuationToken, int maxKeys) {
            return to.list(prefix, startAfter, continuationToken, maxKeys);
        }

        @Override
        public CompletableFuture<Void> delete(List<String> keys) {
            return to.delete(keys);
        }

        @Override
        public CompletableFuture<Void> ensureBucket(boolean create) {
            return to.ensureBucket(create);
        }

        @Override
        public void close() {
            to.close();
        }
    }
}
