package io.weaseldb.pipeline;

import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.CorruptBatchException;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.RequestIds;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Rebuilds the request-id index (and the leader of each term) from the log at startup, for the
 * retention window: it reads only each object's header and request-id section (ranged GETs,
 * several in flight) rather than whole batches.
 *
 * <p>Blocking; runs on the startup thread before the sequencer starts.
 */
public final class RequestIdRecovery {
    /** First ranged read per object; larger request-id sections get a second read. */
    static final int FIRST_READ_BYTES = 64 << 10;

    /**
     * @param orphans first versions of the objects read that turned out not to be part of the log
     *                (ascending); {@link #rebuild} has dropped them from the log index
     */
    public record Result(long objects, long ids, long bans, long fromVersion, long[] orphans) {}

    private RequestIdRecovery() {}

    /** The first version whose request ids the rebuild will cover. */
    public static long startVersion(LogIndex index, long lastVersion, long retentionVersions) {
        long oldest = Math.max(0, index.oldest());
        return Math.max(oldest, lastVersion - retentionVersions + 1);
    }

    /**
     * Reads the request ids of the log objects in {@code index} from {@code fromVersion} on into
     * {@code ids}, and the leader of each term into {@code terms}. An object of a lower term than
     * one read before it is an older term's orphan that the recovery window did not reach: its ids
     * are skipped and it is removed from {@code index}. (Such an orphan as the very first object
     * read, with the object covering it just before {@code fromVersion}, is not recognised.)
     *
     * @param bareMarkers first versions (ascending) of objects known to hold no request id and no
     *                    ban (from their listed sizes); they are not read. Skipping one loses
     *                    only its term's start in {@code terms}, which names the leader of
     *                    versions that hold no transaction.
     */
    public static Result rebuild(ObjectStore store, LogLayout layout, LogIndex index, long[] bareMarkers, long fromVersion,
                                 RequestIdIndex ids, TermHistory terms, int parallelism, long timeoutMs)
            throws CorruptBatchException {
        long[] all = index.snapshot();
        int first = Arrays.binarySearch(all, fromVersion);
        first = first >= 0 ? first : Math.max(0, -first - 2);
        long[] objects = Arrays.stream(all, first, all.length)
                .filter(v -> Arrays.binarySearch(bareMarkers, v) < 0).toArray();
        first = 0;
        ArrayDeque<CompletableFuture<RequestIds>> window = new ArrayDeque<>();
        long count = 0;
        long idCount = 0;
        long banCount = 0;
        long highestTerm = Long.MIN_VALUE;
        java.util.List<Long> orphans = new java.util.ArrayList<>();
        int next = first;
        while (next < objects.length || !window.isEmpty()) {
            while (next < objects.length && window.size() < parallelism) {
                window.add(read(store, layout.objectKey(objects[next++])));
            }
            RequestIds r = await(window.poll(), timeoutMs);
            count++;
            if (r.header().term() < highestTerm) {
                // An older term's write that landed inside a newer term's range: never
                // acknowledged (LogRecovery.orphansByTerm). Its ids were never committed, so a
                // retry of one must commit, not be answered from here.
                orphans.add(r.header().firstVersion());
                index.remove(r.header().firstVersion());
                continue;
            }
            highestTerm = r.header().term();
            terms.add(r.header().firstVersion(), r.header().leaderId());
            for (int i = 0; i < r.versions().length; i++) {
                if (r.versions()[i] >= fromVersion) {
                    ids.committed(r.requestIds().get(i), r.versions()[i], r.timestamps()[i]);
                    idCount++;
                }
            }
            for (String ban : r.bans()) {
                // The log holds no ban's own version: it is taken as its object's last, which may
                // be later than the leader made it, so the rebuilt ban can outlive the one the
                // leader forgot before the id committed. Such a commit wins (RequestIdIndex.lookup),
                // and an id already seen committing in the window is not held as banned as well.
                if (ids.lookup(ban) < 0) {
                    ids.banned(ban, r.header().lastVersion(), r.header().timestampMillis());
                    banCount++;
                }
            }
        }
        return new Result(count, idCount, banCount, fromVersion, orphans.stream().mapToLong(Long::longValue).toArray());
    }

    private static CompletableFuture<RequestIds> read(ObjectStore store, String key) {
        return store.getRange(key, 0, FIRST_READ_BYTES).thenCompose(prefix -> {
            try {
                int end = BatchCodec.requestIdsEnd(key, prefix);
                if (end <= prefix.length) {
                    return CompletableFuture.completedFuture(BatchCodec.decodeRequestIds(key, prefix));
                }
                return store.getRange(key, 0, end).thenApply(full -> {
                    try {
                        return BatchCodec.decodeRequestIds(key, full);
                    } catch (CorruptBatchException e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                });
            } catch (CorruptBatchException e) {
                return CompletableFuture.failedFuture(e);
            }
        });
    }

    private static RequestIds await(CompletableFuture<RequestIds> f, long timeoutMs) throws CorruptBatchException {
        try {
            return f.get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(StorageException.Kind.TRANSIENT, 0, "interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof CorruptBatchException c) {
                throw c;
            }
            if (e.getCause() != null && e.getCause().getCause() instanceof CorruptBatchException c) {
                throw c;
            }
            throw StorageException.of(e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new StorageException(StorageException.Kind.TRANSIENT, 0, "timed out reading request ids", e);
        }
    }
}
