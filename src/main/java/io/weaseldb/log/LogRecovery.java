package io.weaseldb.log;

import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import io.weaseldb.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a server becomes the leader of a log, at startup or takeover: find the end of the valid
 * log, then claim the next version for a new term with a conditional write. Two servers racing
 * for the log race on the same object name and exactly one wins.
 *
 * <p>The valid log is the chain of objects each of which follows the previous
 * ({@link BatchHeader#isFollowedBy}). Because a leader has at most {@code max_in_flight_puts}
 * writes outstanding and acknowledges strictly in order, a crash can leave holes and orphans only
 * among the newest objects: recovery reads the headers of the last {@code window} objects and
 * walks the chain there. Objects past the first hole, and objects of an older term that do not
 * continue the chain, were never acknowledged; readers skip them and the new leader's writes
 * replace them (compare-and-swap on their entity tag) where it needs their names.
 *
 * <p>Blocking; runs on the thread that starts or promotes the server, never on an event loop.
 */
public final class LogRecovery {
    private static final Logger log = LoggerFactory.getLogger(LogRecovery.class);

    /** The end of the valid log. {@code lastVersion == -1} for an empty log. */
    /**
     * The end of the valid log. {@code lastVersion == -1} for an empty log. {@code firstVersions}
     * lists the objects of the valid log (orphans excluded), oldest first.
     */
    /**
     * @param bareMarkers first versions (ascending) of the objects that hold neither a
     *                    transaction nor a ban, judged by their listed size (see
     *                    {@link BatchCodec#isBareMarkerSize}): reading their request ids is pointless
     */
    public record Tail(long term, long lastVersion, long lastTxnVersion, String lastLeaderId,
                       List<String> orphans, long objects, long[] firstVersions, long[] bareMarkers) {}

    /** Another server claimed the version first. */
    public static final class LostClaimException extends Exception {
        public LostClaimException(String message) {
            super(message);
        }
    }

    private final ObjectStore store;
    private final LogLayout layout;
    private final int window;
    private final long timeoutMs;

    public LogRecovery(ObjectStore store, LogLayout layout, int window, long timeoutMs) {
        this.store = store;
        this.layout = layout;
        this.window = window;
        this.timeoutMs = timeoutMs;
    }

    /** Lists the log and walks the newest objects' headers to the end of the valid chain. */
    public Tail findTail() throws CorruptBatchException {
        List<ObjectStore.Entry> entries = listAll();
        List<String> keys = new ArrayList<>(entries.size());
        for (ObjectStore.Entry e : entries) {
            keys.add(e.key());
        }
        if (keys.isEmpty()) {
            return new Tail(0, -1, -1, null, List.of(), 0, new long[0], new long[0]);
        }
        int from = Math.max(0, keys.size() - window);
        List<String> tailKeys = keys.subList(from, keys.size());
        List<CompletableFuture<byte[]>> reads = new ArrayList<>();
        for (String k : tailKeys) {
            reads.add(store.getRange(k, 0, BatchCodec.MAX_HEADER_BYTES));
        }
        List<BatchHeader> headers = new ArrayList<>();
        for (int i = 0; i < tailKeys.size(); i++) {
            byte[] bytes = await(reads.get(i));
            BatchHeader h = BatchCodec.decodeHeader(tailKeys.get(i), bytes);
            if (h.firstVersion() != layout.versionOf(tailKeys.get(i))) {
                throw new CorruptBatchException(tailKeys.get(i), "header says first version " + h.firstVersion());
            }
            headers.add(h);
        }
        BatchHeader last = headers.get(0);
        List<String> orphans = new ArrayList<>();
        boolean hole = false;
        for (int i = 1; i < headers.size(); i++) {
            BatchHeader h = headers.get(i);
            if (!hole && last.isFollowedBy(h)) {
                last = h;
            } else if (!hole && h.term() >= last.term() && h.firstVersion() > last.lastVersion() + 1) {
                hole = true; // everything from here on was never acknowledged
                orphans.add(tailKeys.get(i));
            } else {
                orphans.add(tailKeys.get(i));
            }
        }
        java.util.Set<String> orphanSet = new java.util.HashSet<>(orphans);
        long[] firsts = keys.stream().filter(k -> !orphanSet.contains(k)).mapToLong(layout::versionOf).toArray();
        long[] bare = entries.stream().filter(e -> !orphanSet.contains(e.key()) && BatchCodec.isBareMarkerSize(e.size()))
                .mapToLong(e -> layout.versionOf(e.key())).toArray();
        return new Tail(last.term(), last.lastVersion(), last.lastTxnVersion(), last.leaderId(), orphans, keys.size(),
                firsts, bare);
    }

    /**
     * Claims {@code tail.lastVersion() + 1} for a new term by writing its start marker with
     * {@code If-None-Match: *}. Returns the new term.
     */
    public Term claim(Tail tail, String leaderId, Clock clock) throws LostClaimException, CorruptBatchException {
        long version = tail.lastVersion() + 1;
        long newTerm = tail.term() + 1;
        BatchHeader marker = BatchHeader.termStart(newTerm, leaderId, version, tail.lastVersion(), tail.lastTxnVersion(),
                clock.epochMillis());
        byte[] object = BatchCodec.encodeEmpty(marker);
        String key = layout.objectKey(version);
        for (int attempt = 0; ; attempt++) {
            ObjectStore.PutResult r = await(store.putIfAbsent(key, object));
            if (r == ObjectStore.PutResult.CREATED) {
                break;
            }
            ObjectStore.Versioned existing;
            try {
                existing = await(store.getVersioned(key));
            } catch (StorageException e) {
                if (e.kind() == StorageException.Kind.NOT_FOUND && attempt < 5) {
                    continue; // it vanished meanwhile: try again
                }
                throw e;
            }
            if (java.util.Arrays.equals(existing.bytes(), object)) {
                break; // our own marker, written by an attempt whose reply was lost
            }
            BatchHeader other = BatchCodec.decodeHeader(key, existing.bytes());
            boolean continuesTheLog = other.prevVersion() == tail.lastVersion()
                    && other.firstVersion() == tail.lastVersion() + 1 && other.term() >= tail.term();
            if (!continuesTheLog && other.term() < newTerm && attempt < 5) {
                // A leftover that does not continue the log (an older term's write that landed
                // past a hole) was never acknowledged. Replace it atomically, only if it is still
                // that very object: deleting it first could race another writer.
                log.warn("{}: replacing an orphan of older term {} with the claim", key, other.term());
                if (await(store.putIfMatch(key, object, existing.etag())) == ObjectStore.PutResult.CREATED) {
                    break;
                }
                continue; // it changed meanwhile: look again
            }
            // The log grew since we listed it (the previous leader is still writing, and may have
            // acknowledged this object), or another server claimed first: never touch it.
            throw new LostClaimException("version " + version + " was written by leader " + other.leaderId()
                    + " (term " + other.term() + ")" + (continuesTheLog ? ", continuing the log" : ""));
        }
        if (!tail.orphans().isEmpty()) {
            // Left in place: readers skip them, this term's writes replace any whose name they
            // need (compare-and-swap), and truncation removes the rest.
            log.info("{} unacknowledged log objects of the previous term ignored: {}", tail.orphans().size(),
                    tail.orphans());
        }
        return new Term(newTerm, leaderId, version, tail.lastTxnVersion());
    }

    private List<ObjectStore.Entry> listAll() {
        List<ObjectStore.Entry> keys = new ArrayList<>();
        String token = null;
        do {
            ObjectStore.ListPage page = await(store.list(layout.logPrefix(), null, token, 1000));
            for (ObjectStore.Entry e : page.entries()) {
                if (layout.versionOf(e.key()) >= 0) {
                    keys.add(e);
                }
            }
            token = page.continuationToken();
        } while (token != null);
        return keys;
    }

    private <T> T await(CompletableFuture<T> f) {
        try {
            return f.get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(StorageException.Kind.TRANSIENT, 0, "interrupted", e);
        } catch (Exception e) {
            throw StorageException.of(e);
        }
    }
}
