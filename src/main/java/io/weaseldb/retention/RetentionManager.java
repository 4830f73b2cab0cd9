package io.weaseldb.retention;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.CorruptBatchException;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import io.weaseldb.time.Clock;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retention policies and log truncation. Policies are stored in S3 under {@code retention/}, so
 * they survive restarts and leader changes. The log is truncated only below the minimum version
 * over live policies (none: nothing is deleted), only in whole log objects, never the newest
 * object, never past what a connected subscriber still has to read, and never into the request-id
 * window: a restart or a new leader rebuilds the ids that make commits idempotent from the log.
 *
 * <p>Owned by one thread: every operation (API requests, truncation passes and orphan sweeps)
 * runs on it, in order, so the policy map and the truncation never race. Requests queue in a
 * bounded queue; storage calls block this thread (never an event loop) with a timeout. Passes and
 * sweeps run in steps of one listing page, each queued behind what waits, so a long one holds a
 * request for one step, not for all of it.
 */
public final class RetentionManager implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RetentionManager.class);

    public record Settings(int truncateIntervalSeconds, int maxDeletesPerRequest, long requestTimeoutMs) {}

    /** Outcome of a PUT. */
    public sealed interface PutResult {
        record Created(Policy policy) implements PutResult {}

        record Replaced(Policy policy) implements PutResult {}

        /** The version is below what is already deleted. */
        record Truncated(long oldestVersion) implements PutResult {}

        record Invalid(String message) implements PutResult {}
    }

    /** Whether this server's term still leads the log; asked on the retention thread, may look at the log (blocking). */
    @FunctionalInterface
    public interface Leadership {
        boolean stillLeading();
    }

    /** A retention request reached a term that no longer leads (another server took the log over). */
    public static final class NotLeaderException extends RuntimeException {
        NotLeaderException() {
            super("this server no longer leads the log", null, false, false);
        }
    }

    private volatile Leadership leadership = () -> true;
    private final Settings settings;
    private final ObjectStore store;
    private final LogLayout layout;
    private final LogIndex index;
    private final Clock clock;
    private final LongSupplier latestVersion;
    private final SubscriberFloor oldestNeededBySubscribers;
    private final LongSupplier requestIdHorizon;
    private final ThreadPoolExecutor thread;
    private final ScheduledExecutorService timer;
    private final TreeMap<String, Policy> policies = new TreeMap<>();
    /** Policy documents as last read, by key, with the etag the listing gave (the retention thread only). */
    private java.util.Map<String, ReadDoc> readDocs = new java.util.HashMap<>();
    /** Keys under retention/ that the last load could not read as policies, with why (the retention thread only). */
    private List<String> unreadable = List.of();
    /** Keys under retention/ that are not policy ids, already logged (the retention thread only). */
    private final java.util.Set<String> foreignKeysLogged = new java.util.HashSet<>();

    private record ReadDoc(String etag, Policy policy) {}

    /**
     * Policy documents a load reads at once: within what the S3 connection pool keeps beyond log
     * writes and history replays (LeaderTerm gives replays half of what writes leave).
     */
    static final int LOAD_READS_IN_FLIGHT = 8;
    private volatile long oldestVersion;
    private volatile int policyCount;
    private final Counter deletedObjects;
    private final Counter deletedOrphans;

    /**
     * @param latestVersion            the newest committed version (policies may not pin beyond it)
     * @param oldestNeededBySubscribers the lowest version some connected or admitted subscriber
     *                                 has yet to receive, minus one (Long.MAX_VALUE with none)
     * @param requestIdHorizon         the oldest version whose request ids the sequencer still
     *                                 remembers: the log from it on is kept, since a restart or a
     *                                 new leader rebuilds those ids from it (without it, a commit
     *                                 retried after a restart could apply twice)
     */
    public RetentionManager(Settings settings, ObjectStore store, LogLayout layout, LogIndex index, Clock clock,
                            LongSupplier latestVersion, SubscriberFloor oldestNeededBySubscribers,
                            LongSupplier requestIdHorizon, MeterRegistry registry) {
        this.settings = settings;
        this.store = store;
        this.layout = layout;
        this.index = index;
        this.clock = clock;
        this.latestVersion = latestVersion;
        this.oldestNeededBySubscribers = oldestNeededBySubscribers;
        this.requestIdHorizon = requestIdHorizon;
        this.thread = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1024), r -> {
            Thread t = new Thread(r, "weaseldb-retention");
            t.setDaemon(true);
            return t;
        });
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "weaseldb-retention-timer");
            t.setDaemon(true);
            return t;
        });
        this.oldestVersion = Math.max(0, index.oldest());
        deletedObjects = Counter.builder("weaseldb.retention.deleted.objects")
                .description("Log objects deleted by truncation").register(registry);
        // normally zero: a rising count points at a server that keeps writing after it lost the log
        deletedOrphans = Counter.builder("weaseldb.log.orphans.deleted")
                .description("Deletions sent for unacknowledged log objects of older terms (after recovery and by orphan sweeps)")
                .register(registry);
    }

    /**
     * How to tell whether this term still leads; before {@link #start}. Every request and every
     * truncation step asks first: a leader replaced while it was paused or cut off answered
     * requests from its stale state (a policy below what the new leader had truncated was 201,
     * audit 13) and could delete what the new leader's subscribers need.
     */
    public void leadership(Leadership l) {
        this.leadership = l;
    }

    /** The retention thread: throws {@link NotLeaderException} unless this term still leads. */
    private void requireLeading() {
        if (!leadership.stillLeading()) {
            throw new NotLeaderException();
        }
    }

    /** Loads the stored policies (blocking; at startup) and schedules truncation. */
    public void start() throws IOException {
        loadPolicies();
        log.info("retention: {} policies; oldest version in the log {}", policies.size(), oldestVersion);
        if (!unreadable.isEmpty()) {
            // Not a reason to refuse the log: commits and subscriptions go on; only truncation,
            // which must not ignore a policy it cannot read, waits until they are fixed or removed.
            log.error("retention: {} stored policy documents cannot be read: {}; truncation is held until they are"
                    + " fixed or deleted", unreadable.size(), unreadable);
        }
        schedulePass(settings.truncateIntervalSeconds());
    }

    /**
     * The next truncation pass, {@code period} seconds after the last one ended: a pass that takes
     * longer than the interval (many policies on a slow store, a long deletion) delays the next
     * instead of queueing passes behind it.
     */
    private void schedulePass(long period) {
        try {
            timer.schedule(() -> {
                CompletableFuture<Integer> done = new CompletableFuture<>();
                submitStep(() -> beginPass(done), done);
                done.whenComplete((n, failure) -> {
                    if (timer.isShutdown()) {
                        return; // the term is over
                    }
                    if (failure != null) {
                        log.warn("retention: truncation pass failed (next try in {} s): {}", period, failure.toString());
                    }
                    schedulePass(period);
                });
            }, period, TimeUnit.SECONDS);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            // the term is over
        }
    }

    /**
     * Looks for older terms' orphans that landed inside this term's versions after its recovery,
     * and deletes them: first {@code firstDelayMs} after now, then after four times the previous
     * wait each time, the last one a day after the one before it (about two days after the claim
     * with the default timeout). A failed sweep is tried again after the same wait.
     *
     * <p>Why: a leader that was paused or cut off when this term took the log over can still have
     * writes landing afterwards, at versions this term covers with its own objects without writing
     * at their names. Such an object is not part of the log, but a later recovery that no longer
     * reaches it with its windows would take it for part of it (LogRecovery). Each sweep lists this
     * term's objects up to its durable version, reads the header of each object there that is not
     * this term's own (rare: normally none) and deletes it if its term is older. No term writes
     * inside this term's durable versions again, so deleting there never races a legitimate write.
     * Spacing the sweeps out by four keeps the listing work to about 1.3 listings of each object
     * written until the last one; an orphan that lands {@code t} after the claim is found within
     * about {@code 4t} (or by the next recovery, if that comes first and reaches it). One landing
     * after the last sweep (a replaced leader that resumes days later) is not looked for.
     *
     * @param term         this term's number
     * @param startVersion the version of this term's start marker
     */
    public void sweepOrphansFrom(long term, long startVersion, long firstDelayMs) {
        scheduleSweep(term, startVersion, Math.max(1, firstDelayMs));
    }

    private static final long MAX_SWEEP_DELAY_MS = TimeUnit.DAYS.toMillis(1);

    private void scheduleSweep(long term, long startVersion, long delayMs) {
        try {
            timer.schedule(() -> sweepOrphansNow(term, startVersion).whenComplete((n, failure) -> {
                if (failure != null && timer.isShutdown()) {
                    return; // cut short by the term's end (close): nothing to report or try again
                }
                if (failure != null) {
                    // the same wait again: a storage hiccup must not push the next sweep four times out
                    log.warn("retention: orphan sweep failed (next try in {} ms): {}", delayMs, failure.toString());
                    scheduleSweep(term, startVersion, delayMs);
                } else if (delayMs < MAX_SWEEP_DELAY_MS) {
                    scheduleSweep(term, startVersion, Math.min(MAX_SWEEP_DELAY_MS, delayMs * 4));
                }
                // else: the last sweep, a day or more after the one before it (see sweepOrphansFrom)
            }), delayMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            // the term is over
        }
    }

    /** Log objects a sweep lists per step (one listing page). */
    static final int SWEEP_PAGE = 1000;

    /**
     * A sweep, in steps on the retention thread: each lists one page of the term's objects and
     * reads the headers of the strangers on it, then queues the next step behind whatever else
     * waits there. A sweep lists up to two days of log, which can take many seconds; in one task
     * it would hold truncation and every retention request (a policy PUT, a GET) until it ended.
     * See {@link #sweepOrphansFrom}. Completes with the number of objects deleted (tests run one
     * directly).
     */
    public CompletableFuture<Integer> sweepOrphansNow(long term, long startVersion) {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        submitStep(() -> {
            long durable = latestVersion.getAsLong();
            sweepStep(new Sweep(term, startVersion, layout.objectKey(Math.max(startVersion, durable)), done), null);
        }, done);
        return done;
    }

    /** One sweep's progress between its steps; only the retention thread touches it. */
    private static final class Sweep {
        final long term;
        final long startVersion;
        /** The key of this term's durable version when the sweep began: it looks no further. */
        final String last;
        final CompletableFuture<Integer> done;
        final List<String> doomed = new ArrayList<>();

        Sweep(long term, long startVersion, String last, CompletableFuture<Integer> done) {
            this.term = term;
            this.startVersion = startVersion;
            this.last = last;
            this.done = done;
        }
    }

    /** The retention thread: one page of a sweep, from {@code token}; then the next step, or the deletions. */
    private void sweepStep(Sweep s, String token) {
        ObjectStore.ListPage page = await(store.list(layout.logPrefix(), layout.objectKey(s.startVersion), token,
                SWEEP_PAGE));
        boolean end = page.continuationToken() == null;
        for (ObjectStore.Entry e : page.entries()) {
            long first = layout.versionOf(e.key());
            if (first < 0 || first < index.oldest()) {
                // below the oldest object kept: a truncation pass between two steps trimmed the
                // index and deletes these (this term's own or not) in its next steps
                continue;
            }
            if (e.key().compareTo(s.last) > 0) {
                end = true;
                break;
            }
            if (index.floor(first) == first) {
                continue; // this term's own object
            }
            byte[] head;
            try {
                head = await(store.getRange(e.key(), 0, BatchCodec.MAX_HEADER_BYTES));
            } catch (StorageException unreadable) {
                if (unreadable.kind() == StorageException.Kind.TRANSIENT) {
                    throw unreadable; // the sweep is tried again
                }
                if (unreadable.kind() != StorageException.Kind.NOT_FOUND) {
                    // one object this server cannot read must not keep every sweep from the others
                    log.warn("retention: cannot read {} inside this term's versions ({}); left alone", e.key(),
                            unreadable.getMessage());
                }
                continue;
            }
            BatchHeader h;
            try {
                h = BatchCodec.decodeHeader(e.key(), head);
            } catch (CorruptBatchException bad) {
                log.warn("retention: {} inside this term's versions is not a log object: {}; left alone", e.key(),
                        bad.getMessage());
                continue;
            }
            if (h.term() < s.term) {
                s.doomed.add(e.key());
            }
        }
        if (!end) {
            nextSweepPage(s, page.continuationToken());
            return;
        }
        if (!s.doomed.isEmpty()) {
            requireLeading(); // a sweep of a term that lost the log fails: the next leader's sweeps decide
        }
        deleteInPages(s.doomed, deletedOrphans);
        if (!s.doomed.isEmpty()) {
            log.info("deleted {} orphaned log objects of older terms inside this term's versions: {}", s.doomed.size(),
                    s.doomed);
        }
        s.done.complete(s.doomed.size());
    }

    /** How long a sweep's or a truncation pass's next step waits before asking again for room in the retention queue. */
    static final long NEXT_STEP_REQUEUE_MS = 50;
    /** Sweeps and passes whose next step waits on the timer for room; {@link #close} fails them (their retry never runs). */
    private final java.util.Set<CompletableFuture<Integer>> waitingForRoom =
            java.util.concurrent.ConcurrentHashMap.newKeySet();

    private void nextSweepPage(Sweep s, String token) {
        queueNextStep(() -> sweepStep(s, token), s.done);
    }

    /**
     * Queues the next step of a sweep or a truncation pass behind what waits on the retention
     * thread; a step that throws fails {@code done}. With that queue full (a burst of retention
     * requests) the step asks again shortly: failing would start the whole sweep over after its
     * wait, which is a day for the last one. Once the thread is shut down (the term ended)
     * {@code done} fails, as {@link #submitStep} does.
     */
    private void queueNextStep(Runnable step, CompletableFuture<Integer> done) {
        try {
            thread.execute(() -> {
                try {
                    step.run();
                } catch (Throwable t) {
                    done.completeExceptionally(t);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException full) {
            if (!thread.isShutdown()) {
                try {
                    waitingForRoom.add(done);
                    timer.schedule(() -> {
                        if (waitingForRoom.remove(done)) {
                            queueNextStep(step, done);
                        }
                    }, NEXT_STEP_REQUEUE_MS, TimeUnit.MILLISECONDS);
                    return;
                } catch (java.util.concurrent.RejectedExecutionException closed) {
                    waitingForRoom.remove(done); // the timer is shut down too: the term is over
                }
            }
            done.completeExceptionally(queueFull(full));
        }
    }

    /** Sweeps and truncation passes whose next step is waiting for room (tests). */
    int stepsWaitingForRoom() {
        return waitingForRoom.size();
    }

    /** Queues {@code step} on the retention thread; a failure, or no room in its queue, fails {@code done}. */
    private void submitStep(Runnable step, CompletableFuture<Integer> done) {
        submit(() -> {
            step.run();
            return null;
        }).whenComplete((ok, failure) -> {
            if (failure != null) {
                done.completeExceptionally(failure);
            }
        });
    }

    /**
     * Deletes older terms' orphans that this term's recovery found inside the log's versions
     * ({@code LogRecovery.orphansInsideTheLog}), on the retention thread: the term does not wait,
     * and a failure only leaves them for the next recovery.
     */
    public void deleteOrphans(List<String> keys) {
        deleteInBackground(keys, deletedOrphans, "orphaned log objects inside the log's versions: " + keys,
                "orphaned log objects (the next recovery tries again)");
    }

    /**
     * Deletes what this term's recovery found below the truncation floor ({@code
     * LogRecovery.Tail.belowFloor}: what an earlier pass had yet to delete, or late writes into
     * the names it freed), on the retention thread, counted as truncation; a failure leaves them
     * for the next pass, which deletes everything below the oldest object kept.
     */
    public void deleteBelowFloor(List<String> keys) {
        deleteInBackground(keys, deletedObjects, "log objects below the truncation floor (left by an unfinished"
                + " truncation pass, or written into the names it freed)", "log objects below the truncation floor"
                + " (the next pass tries again)");
    }

    /** Queues the deletion of {@code keys} on the retention thread, counted in {@code counter}, and logs how it went. */
    private void deleteInBackground(List<String> keys, Counter counter, String deleted, String notDeleted) {
        if (keys.isEmpty()) {
            return;
        }
        submit(() -> {
            deleteInPages(keys, counter);
            return null;
        }).whenComplete((ok, failure) -> {
            if (failure != null) {
                log.warn("could not delete {} {}: {}", keys.size(), notDeleted, StorageException.of(failure).getMessage());
            } else {
                log.info("deleted {} {}", keys.size(), deleted);
            }
        });
    }

    /** The retention thread: deletes {@code keys} in requests of at most max_deletes_per_request, counting them. */
    private void deleteInPages(List<String> keys, Counter deleted) {
        for (int i = 0; i < keys.size(); i += settings.maxDeletesPerRequest()) {
            List<String> page = keys.subList(i, Math.min(keys.size(), i + settings.maxDeletesPerRequest()));
            await(store.delete(page));
            deleted.increment(page.size());
        }
    }

    /** Live policies (for the gauge). */
    public int policyCount() {
        return policyCount;
    }

    /** First version of the oldest log object still stored. */
    public long oldestVersion() {
        return oldestVersion;
    }

    public CompletableFuture<PutResult> put(String id, long version, Long ttlSeconds) {
        return submit(() -> {
            requireLeading();
            long oldest = oldestVersion;
            if (version < oldest - 1) {
                return new PutResult.Truncated(oldest);
            }
            long latest = latestVersion.getAsLong();
            if (version > latest) {
                return new PutResult.Invalid("version " + version + " is newer than the latest committed version " + latest);
            }
            long now = clock.epochMillis();
            Policy p = new Policy(id, version, ttlSeconds, ttlSeconds == null ? null : now + ttlSeconds * 1000, now);
            byte[] doc = PolicyCodec.encode(p);
            try {
                await(store.put(key(id), doc));
            } catch (StorageException failed) {
                confirmStored(id, doc, failed);
            }
            Policy old = policies.put(id, p);
            policyCount = policies.size();
            boolean replaced = old != null && !old.expired(now);
            log.info("retention policy {} {} at version {}{}", id, replaced ? "replaced" : "created", version,
                    ttlSeconds == null ? "" : " (ttl " + ttlSeconds + " s)");
            return replaced ? new PutResult.Replaced(p) : new PutResult.Created(p);
        });
    }

    /**
     * A policy write failed, or its answer was lost: reads the key back, so the answer says what
     * storage holds (truncation goes by storage, and a write whose reply was lost may well have
     * landed). Returns if our document is there. Otherwise the policy map takes what is stored
     * (or its absence) and the request fails: with {@code failed}'s reason, and for a timeout or
     * a lost answer the warning that the write may still land; or, if the read-back failed too,
     * saying the outcome is unknown.
     */
    private void confirmStored(String id, byte[] doc, StorageException failed) {
        byte[] stored;
        try {
            stored = await(store.get(key(id)));
        } catch (StorageException readBack) {
            if (readBack.kind() != StorageException.Kind.NOT_FOUND) {
                throw new StorageException(failed.kind(), failed.statusCode(), failed.getMessage() + "; reading the"
                        + " policy back failed too (" + readBack.getMessage() + "), so whether the change was stored is"
                        + " unknown: repeat the PUT (it is idempotent) or read the policy", failed);
            }
            stored = null;
        }
        if (stored != null && java.util.Arrays.equals(stored, doc)) {
            log.info("retention policy {}: storage reported a failure ({}), but reading it back shows the write landed",
                    id, failed.getMessage());
            return;
        }
        if (stored == null) {
            policies.remove(id);
        } else {
            try {
                Policy there = PolicyCodec.decode(key(id), stored);
                if (there.policyId().equals(id)) {
                    policies.put(id, there);
                }
            } catch (IOException unreadableDoc) {
                // left to the next load, which holds truncation while it stays unreadable
            }
        }
        policyCount = policies.size();
        if (failed.kind() == StorageException.Kind.TRANSIENT) {
            // a timeout or a lost answer: the write may still be on its way and land after the
            // read-back; the client is told so (truncation goes by storage whatever it finds)
            throw new StorageException(failed.kind(), failed.statusCode(), failed.getMessage()
                    + "; the policy was not stored when read back, but a write whose answer was lost can still land:"
                    + " read the policy, or repeat the PUT (it is idempotent)", failed);
        }
        throw failed;
    }

    /** The live policy, or null (missing or expired). */
    public CompletableFuture<Policy> get(String id) {
        return submit(() -> {
            requireLeading();
            Policy p = policies.get(id);
            return p == null || p.expired(clock.epochMillis()) ? null : p;
        });
    }

    public CompletableFuture<List<Policy>> list() {
        return submit(() -> {
            requireLeading();
            long now = clock.epochMillis();
            List<Policy> out = new ArrayList<>();
            for (Policy p : policies.values()) {
                if (!p.expired(now)) {
                    out.add(p);
                }
            }
            return out;
        });
    }

    /** True if a live policy was deleted. */
    public CompletableFuture<Boolean> delete(String id) {
        return submit(() -> {
            requireLeading();
            Policy p = policies.get(id);
            if (p == null) {
                // Not known here, but storage, which truncation goes by, may hold it: a write whose
                // failure was reported and that landed anyway, or one of a server that led before.
                byte[] stored;
                try {
                    stored = await(store.get(key(id)));
                } catch (StorageException e) {
                    if (e.kind() == StorageException.Kind.NOT_FOUND) {
                        return false;
                    }
                    throw e;
                }
                try {
                    p = PolicyCodec.decode(key(id), stored);
                } catch (IOException unreadableDoc) {
                    p = null; // removed all the same: it is what the client asked for, and it holds truncation
                }
            }
            await(store.delete(List.of(key(id))));
            policies.remove(id);
            policyCount = policies.size();
            log.info("retention policy {} deleted", id);
            return p == null || !p.expired(clock.epochMillis());
        });
    }

    /**
     * Runs a truncation pass now, or right after the one in progress (tests, operators); completes
     * with the number of objects it deleted.
     */
    public CompletableFuture<Integer> truncateNow() {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        submitStep(() -> beginPass(done), done);
        return done;
    }

    /**
     * Replaces the policy map with the documents stored in S3 (the retention thread, or startup).
     * Storage is the source of truth: a server that lost the log without knowing it yet may still
     * have written or deleted a policy after this term loaded them, and the client it answered
     * counts on it; so every truncation pass reads them again before deciding what to delete.
     * Only documents whose etag changed since they were last read are read again (a pass with
     * thousands of policies costs a listing, not a GET each), several at once.
     *
     * <p>Keys under {@code retention/} that are not policy ids (an S3 console's folder marker,
     * a file an operator left) are logged once and ignored: no server ever wrote them there. A
     * document under a policy id that cannot be read as that policy is in {@link #unreadable}
     * afterwards: not in the map, and every truncation pass fails until it is fixed or deleted.
     * A listed document that is then not found fails the load: a store whose listing and reads
     * disagree must not make a live policy look deleted.
     */
    private void loadPolicies() {
        TreeMap<String, Policy> stored = new TreeMap<>();
        java.util.Map<String, ReadDoc> read = new java.util.HashMap<>();
        List<String> bad = new ArrayList<>();
        List<ObjectStore.Entry> toRead = new ArrayList<>();
        String prefix = layout.retentionPrefix();
        String token = null;
        do {
            ObjectStore.ListPage page = await(store.list(prefix, null, token, 1000));
            for (ObjectStore.Entry e : page.entries()) {
                String id = e.key().substring(prefix.length());
                if (!Policy.validId(id)) {
                    if (foreignKeysLogged.add(e.key())) {
                        log.warn("retention: {} is not a policy (its name is not a policy id); ignored", e.key());
                    }
                    continue;
                }
                ReadDoc known = readDocs.get(e.key());
                if (known != null && e.etag() != null && e.etag().equals(known.etag())) {
                    stored.put(id, known.policy());
                    read.put(e.key(), known);
                } else {
                    toRead.add(e);
                }
            }
            token = page.continuationToken();
        } while (token != null);
        for (int i = 0; i < toRead.size(); i += LOAD_READS_IN_FLIGHT) {
            List<ObjectStore.Entry> group = toRead.subList(i, Math.min(toRead.size(), i + LOAD_READS_IN_FLIGHT));
            List<CompletableFuture<byte[]>> docs = new ArrayList<>(group.size());
            for (ObjectStore.Entry e : group) {
                docs.add(store.get(e.key()));
            }
            for (int j = 0; j < group.size(); j++) {
                ObjectStore.Entry e = group.get(j);
                byte[] doc;
                try {
                    doc = await(docs.get(j));
                } catch (StorageException failed) {
                    if (failed.kind() == StorageException.Kind.NOT_FOUND) {
                        throw new StorageException(StorageException.Kind.TRANSIENT, 404, e.key()
                                + " was listed but is not found: reading the policies again later", failed);
                    }
                    throw failed;
                }
                String id = e.key().substring(prefix.length());
                Policy p;
                try {
                    p = PolicyCodec.decode(e.key(), doc);
                } catch (IOException notAPolicy) {
                    String why = String.valueOf(notAPolicy.getMessage());
                    bad.add(why.startsWith(e.key()) ? why : e.key() + ": " + why);
                    continue;
                }
                if (!p.policyId().equals(id)) {
                    bad.add(e.key() + ": the document is policy " + p.policyId());
                    continue;
                }
                stored.put(id, p);
                read.put(e.key(), new ReadDoc(e.etag(), p));
            }
        }
        policies.clear();
        policies.putAll(stored);
        policyCount = policies.size();
        readDocs = read;
        unreadable = List.copyOf(bad);
    }

    /** The pass in progress, or the last one (the retention thread only): one runs at a time. */
    private CompletableFuture<Integer> pass;

    /** One truncation pass between its steps; only the retention thread touches it. */
    private static final class Pass {
        final CompletableFuture<Integer> done;
        /** The key of the oldest log object kept: everything listed before it goes. */
        final String keepKey;
        final long newOldest;
        final String why;
        int deleted;

        Pass(CompletableFuture<Integer> done, String keepKey, long newOldest, String why) {
            this.done = done;
            this.keepKey = keepKey;
            this.newOldest = newOldest;
            this.why = why;
        }
    }

    /**
     * The retention thread: starts a pass that completes {@code done}, or queues it behind the one
     * in progress (two at once would list and delete the same objects twice).
     */
    private void beginPass(CompletableFuture<Integer> done) {
        CompletableFuture<Integer> running = pass;
        if (running != null && !running.isDone()) {
            running.whenComplete((n, failure) -> queueNextStep(() -> beginPass(done), done));
            return;
        }
        pass = done;
        if (timer.isShutdown()) {
            done.complete(0); // queued before the term ended (close): the next leader's passes decide
            return;
        }
        Pass p = plan(done);
        if (p == null) {
            done.complete(0);
        } else {
            truncateStep(p, null);
        }
    }

    /**
     * The retention thread, a pass's first step: decides the new oldest version and publishes it,
     * so readers stop finding the objects below it before any is deleted; or null, with nothing to
     * delete. Policies change only on this thread, so none can pin what this decides between it
     * and the deletions (a PUT below the new oldest version is {@code 410} from here on).
     */
    private Pass plan(CompletableFuture<Integer> done) {
        if (!leadership.stillLeading()) {
            return null; // another server leads: its passes decide what goes
        }
        loadPolicies();
        if (!unreadable.isEmpty()) {
            throw new StorageException(StorageException.Kind.PERMANENT, 0, "cannot read the retention policies "
                    + unreadable + "; truncation is held until they are fixed or deleted", null);
        }
        long now = clock.epochMillis();
        List<String> expired = new ArrayList<>();
        for (Policy p : policies.values()) {
            if (p.expired(now)) {
                expired.add(p.policyId());
            }
        }
        for (String id : expired) {
            await(store.delete(List.of(key(id))));
            policies.remove(id);
            log.info("retention policy {} expired", id);
        }
        policyCount = policies.size();
        if (policies.isEmpty()) {
            return null; // no policy: keep everything (the safe default)
        }
        long byPolicies = Long.MAX_VALUE;
        for (Policy p : policies.values()) {
            byPolicies = Math.min(byPolicies, p.version());
        }
        long bySubscribers = oldestNeededBySubscribers.getAsLong();
        long byRequestIds = requestIdHorizon.getAsLong() - 1;
        long horizon = Math.min(byPolicies, Math.min(bySubscribers, byRequestIds));
        // Everything before the log object that holds horizon + 1 holds only versions at or below
        // the horizon: deletable. Which object that is comes from the index (the valid log), not
        // from the listing: an older term's orphan can sit inside a log object's range, and taking
        // it for the next object would delete the versions above the horizon before it. Orphans
        // before that object go too; the newest object always stays.
        long keepFrom = index.floor(horizon + 1);
        if (keepFrom < 0) {
            return null;
        }
        if (keepFrom > index.oldest()) {
            // A subscription admitted since the floor was read may need what goes: then this pass
            // deletes nothing (the next one reads the floor again).
            boolean[] needed = {false};
            oldestNeededBySubscribers.excludingAdmissions(() -> {
                if (oldestNeededBySubscribers.getAsLong() < keepFrom - 1) {
                    needed[0] = true;
                    return;
                }
                index.removeBefore(keepFrom);
                oldestVersion = keepFrom;
            });
            if (needed[0]) {
                return null;
            }
        }
        // else: the index already starts there; the listing still deletes what an earlier pass
        // could not (a failed deletion) and orphans below it
        return new Pass(done, layout.objectKey(keepFrom), keepFrom, "horizon " + horizon + ": policies " + byPolicies
                + ", subscribers " + (bySubscribers == Long.MAX_VALUE ? "none" : bySubscribers)
                + ", request-id window " + byRequestIds);
    }

    /**
     * The retention thread, each of a pass's steps: lists one page (max_deletes_per_request keys)
     * of what lies before the oldest object kept and deletes it, then queues the next step behind
     * whatever else waits there. A first pass on a long untrimmed log deletes tens of thousands of
     * objects; in one task it would hold every retention request for its whole duration.
     */
    private void truncateStep(Pass p, String after) {
        if (after != null && timer.isShutdown()) {
            cutShort(p); // queued before the term ended
            return;
        }
        if (after == null ? !recordFloor(p.newOldest) : !leadership.stillLeading()) {
            log.info("retention: a truncation pass stopped after deleting {} objects: this server no longer leads",
                    p.deleted);
            p.done.complete(p.deleted);
            return;
        }
        ObjectStore.ListPage page = await(store.list(layout.logPrefix(), after, null, settings.maxDeletesPerRequest()));
        boolean end = page.continuationToken() == null || page.entries().isEmpty();
        String last = after;
        List<String> doomed = new ArrayList<>();
        for (ObjectStore.Entry e : page.entries()) {
            if (e.key().compareTo(p.keepKey) >= 0) {
                end = true;
                break;
            }
            last = e.key();
            if (layout.versionOf(e.key()) >= 0) {
                doomed.add(e.key());
            }
        }
        deleteInPages(doomed, deletedObjects);
        p.deleted += doomed.size();
        if (!end && timer.isShutdown()) {
            cutShort(p); // the term ended during this step
            return;
        }
        if (!end) {
            String from = last;
            queueNextStep(() -> truncateStep(p, from), p.done);
            return;
        }
        if (p.deleted > 0) {
            log.info("truncated the log: deleted {} objects below version {} ({})", p.deleted, p.newOldest, p.why);
        }
        p.done.complete(p.deleted);
    }

    /** The highest truncation floor this term stored or found stored (the retention thread only). */
    private long recordedFloor = -1;

    /**
     * The retention thread, before a pass deletes anything: stores {@code truncated/<floor>} unless
     * a floor at least as high is stored, then deletes the lower records. Recovery and a claim read
     * the highest record after they list: a log object found below it was written into a name a
     * truncation freed (a deposed leader's write in flight, a standby's claim racing the pass), so
     * none is taken for the log, however far back it lies or whatever it chains into. A failure
     * fails the pass before any deletion. False, with nothing stored, if this term no longer leads:
     * asked right before the record is written (plan() asked before reading the policies, which
     * takes a while), since a deposed leader's floor would make the next recovery delete, below
     * it, history a policy on the new leader may pin.
     */
    private boolean recordFloor(long floor) {
        if (floor <= recordedFloor) {
            return leadership.stillLeading();
        }
        List<String> stored = io.weaseldb.log.LogRecovery.floorRecords(store, layout, settings.requestTimeoutMs());
        long highest = stored.stream().mapToLong(layout::floorOf).max().orElse(-1);
        if (!leadership.stillLeading()) {
            return false;
        }
        if (floor > highest) {
            byte[] doc = ("{\"oldest_version\":" + floor + ",\"written_at_ms\":" + clock.epochMillis() + "}\n")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            await(store.put(layout.floorKey(floor), doc));
            highest = floor;
        }
        recordedFloor = highest;
        String keep = layout.floorKey(highest);
        List<String> lower = stored.stream().filter(k -> !k.equals(keep)).toList();
        if (!lower.isEmpty()) {
            try {
                await(store.delete(lower));
            } catch (StorageException e) {
                // only the highest record counts: the lower ones go with a later floor
                log.warn("retention: could not delete {} older truncation floor records: {}", lower.size(),
                        e.getMessage());
                recordedFloor = -1;
            }
        }
        return true;
    }

    private void cutShort(Pass p) {
        log.info("retention: a truncation pass was cut short by the term's end after deleting {} objects; the next"
                + " leader's passes delete the rest", p.deleted);
        p.done.complete(p.deleted);
    }

    private String key(String id) {
        return layout.retentionPrefix() + id;
    }

    private <T> CompletableFuture<T> submit(java.util.concurrent.Callable<T> task) {
        CompletableFuture<T> f = new CompletableFuture<>();
        try {
            thread.execute(() -> {
                try {
                    f.complete(task.call());
                } catch (Throwable t) {
                    f.completeExceptionally(t);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            f.completeExceptionally(queueFull(e));
        }
        return f;
    }

    /** No room on the retention thread: its queue is full, or it is shut down (the term ended). */
    private static StorageException queueFull(Throwable cause) {
        return new StorageException(StorageException.Kind.TRANSIENT, 0, "retention requests are queued beyond their bound",
                cause);
    }

    private <T> T await(CompletableFuture<T> f) {
        try {
            return f.get(settings.requestTimeoutMs(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(StorageException.Kind.TRANSIENT, 0, "interrupted", e);
        } catch (Exception e) {
            throw StorageException.of(e);
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
        for (CompletableFuture<Integer> done : waitingForRoom) {
            if (waitingForRoom.remove(done)) {
                done.completeExceptionally(queueFull(null));
            }
        }
        thread.shutdown();
        try {
            thread.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
