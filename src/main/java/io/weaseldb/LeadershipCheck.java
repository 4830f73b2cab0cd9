package io.weaseldb;

import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.Term;
import io.weaseldb.pipeline.Persister;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import io.weaseldb.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * Whether this server still leads its term, for answers that must reflect every commit
 * acknowledged before their request arrived ({@code GET /v1/version}). A leader learns it was
 * replaced only when its next log write fails; until then (a process paused for longer than
 * leader_timeout_ms, or an idle leader without heartbeats) another server may lead and
 * acknowledge commits this one has never seen.
 *
 * <p>Two ways to know:
 * <ul>
 *   <li>The lease: a standby takes the log over only after it has seen no new log object for
 *       leader_timeout_ms, and it does not take it over if the log moved while it looked
 *       ({@code WeaselServer.claim}). So no other server can lead before the first send of this
 *       term's newest acknowledged object plus that timeout ({@link Persister#leaseBaseNanos}).
 *       Within three quarters of it (the rest absorbs clock-rate differences and, for a standby
 *       that just started, wall-clock skew between servers), the answer is free. A leader that
 *       writes heartbeats is always within it.</li>
 *   <li>Otherwise a look at the log made after the request arrived: every object after this
 *       term's acknowledged ones must be this term's own (in flight) or an older term's orphan.
 *       An object of a newer term means another server leads. Requests waiting at the same time
 *       share one look; one that arrives while a look runs waits for the next ({@link SharedLook}).</li>
 * </ul>
 * Thread-safe: asked from event loops, the look runs on the blocking executor. Public for the
 * deterministic simulation, which runs the persister's looks through it.
 */
public final class LeadershipCheck {
    private final Persister persister;
    private final Term term;
    private final ObjectStore store;
    private final LogLayout layout;
    private final Clock clock;
    private final long leaseNanos;
    private final long requestTimeoutMs;
    /** No other server can write this storage (the in-process fake S3): this one always leads. */
    private final boolean soleWriter;

    /** The look at the log, shared by the requests waiting at the same time. */
    private final SharedLook<Boolean> look;

    public LeadershipCheck(Persister persister, Term term, ObjectStore store, LogLayout layout, Clock clock, Executor executor,
                    long leaderTimeoutMs, long requestTimeoutMs, boolean soleWriter) {
        this.persister = persister;
        this.term = term;
        this.store = store;
        this.layout = layout;
        this.clock = clock;
        this.leaseNanos = leaseNanos(leaderTimeoutMs);
        this.requestTimeoutMs = requestTimeoutMs;
        this.soleWriter = soleWriter;
        this.look = new SharedLook<>(this::noOtherLeader, executor);
    }

    /** Three quarters of leader_timeout_ms (see the class comment), in nanoseconds. */
    public static long leaseNanos(long leaderTimeoutMs) {
        return TimeUnit.MILLISECONDS.toNanos(leaderTimeoutMs) / 4 * 3;
    }

    /**
     * True if no other server can have taken the log over yet (see the class comment): always,
     * on storage no other server can write.
     */
    boolean withinLease() {
        if (soleWriter) {
            return true;
        }
        long base = persister.leaseBaseNanos();
        return base != Persister.NO_LEASE && clock.nanoTime() - base < leaseNanos;
    }

    /**
     * Completes with true if, in a look at the log that started after this call, no other
     * server had written it; false if one had; exceptionally if storage did not answer.
     */
    public CompletableFuture<Boolean> confirm() {
        return look.get();
    }

    /**
     * {@link #withinLease()}, or else a look at the log waited for (a thread that may block: the
     * retention thread), at most {@code timeoutMs}; a look storage does not answer throws
     * {@code StorageException}.
     */
    boolean confirmBlocking(long timeoutMs) {
        if (withinLease()) {
            return true;
        }
        try {
            return confirm().get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(StorageException.Kind.TRANSIENT, 0, "interrupted", e);
        } catch (Exception e) {
            throw StorageException.of(e);
        }
    }

    /** Lists the log after this term's acknowledged objects and reads the header of each (few: those in flight). */
    private boolean noOtherLeader() throws Exception {
        String startAfter = layout.objectKey(persister.durableVersion());
        String token = null;
        do {
            ObjectStore.ListPage page = store.list(layout.logPrefix(), startAfter, token, 1000)
                    .get(requestTimeoutMs, TimeUnit.MILLISECONDS);
            for (ObjectStore.Entry e : page.entries()) {
                if (layout.versionOf(e.key()) < 0) {
                    continue;
                }
                BatchHeader h = BatchCodec.decodeHeader(e.key(),
                        store.getRange(e.key(), 0, BatchCodec.MAX_HEADER_BYTES).get(requestTimeoutMs, TimeUnit.MILLISECONDS));
                if (h.term() > term.term()) {
                    return false;
                }
            }
            token = page.continuationToken();
        } while (token != null);
        return true;
    }
}
