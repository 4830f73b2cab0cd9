package io.weaseldb.pipeline;

import io.weaseldb.conflict.ConflictSet;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.Term;
import io.weaseldb.time.Clock;
import io.weaseldb.time.IdSource;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Precondition;
import io.weaseldb.txn.Transaction;
import java.util.ArrayList;
import java.util.List;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stage 1: sequence and resolve. The single writer of versions and of the conflict set: for
 * each commit, in arrival order, it checks leadership, checks every precondition against the
 * conflict set, and either assigns the next version (inserting the writes into the conflict set)
 * or produces the rejection. Everything goes to the persister in version order.
 *
 * <p>Owned by its runner thread; other threads only {@link #offer} messages.
 */
public final class Sequencer implements Stage {
    private static final Logger log = LoggerFactory.getLogger(Sequencer.class);
    /** Messages handled per doWork before yielding to let downstream stages run. */
    private static final int MAX_BATCH = 1024;

    public record Settings(long conflictWindowMs, int inboxCapacity, int retryAfterSeconds) {}

    private final Settings settings;
    private final ConflictSet conflicts;
    private int writesSincePrune;
    private long lastUpkeepNanos;
    private static final long UPKEEP_IDLE_NANOS = 1_000_000L;
    private final Clock clock;
    private final IdSource ids;
    private final MpscAtomicArrayQueue<SequencerMessage> inbox;
    private final WakeSignal signal = new WakeSignal();
    private final Persister persister;

    private Term term; // null until leading
    private boolean leading;
    private String stepDownReason = "not the leader";
    private volatile boolean closed; // see closeInbox
    private long lastVersion = -1;
    private long lastTxnVersion = -1;
    private VersionWindow window;
    private RequestIdIndex requestIds;
    /**
     * {@code requestIds.horizon()} as of the last upkeep, for retention (another thread): log
     * objects holding versions at or after it must stay, or a restart could not rebuild the ids
     * still within the window. 0 until a term is led (nothing may be deleted).
     */
    private volatile long requestIdHorizon;
    // sizes for the metrics gauges, published at each upkeep (any thread reads them)
    private volatile long requestIdCount;
    private volatile long banCount;
    private volatile long conflictEntries;
    private TermHistory terms;
    private final ArrayList<Integer> failed = new ArrayList<>();

    public Sequencer(Settings settings, ConflictSet conflicts, Clock clock, IdSource ids, Persister persister) {
        this.settings = settings;
        this.conflicts = conflicts;
        this.clock = clock;
        this.ids = ids;
        this.persister = persister;
        this.inbox = new MpscAtomicArrayQueue<>(settings.inboxCapacity());
    }

    /**
     * The oldest version whose request ids the sequencer still remembers (any thread). The log
     * objects from it on are what a restart or a new leader reads to remember them again.
     */
    public long requestIdHorizon() {
        return requestIdHorizon;
    }

    /** Request ids remembered as committed, as of the last upkeep (any thread; metrics). */
    public long requestIdCount() {
        return requestIdCount;
    }

    /** Request ids held as never to commit (bans), as of the last upkeep (any thread; metrics). */
    public long banCount() {
        return banCount;
    }

    /** Entries in the conflict set (keys and ranges written within the window), as of the last upkeep. */
    public long conflictEntries() {
        return conflictEntries;
    }

    public WakeSignal signal() {
        return signal;
    }

    /**
     * Starts leading: called once, before the runner starts, after the term start marker is
     * durable in the log at {@code term.startVersion()}.
     */
    public void lead(Term t, RequestIdIndex requestIds, TermHistory terms) {
        assert term == null : "already led a term";
        this.term = t;
        this.requestIds = requestIds;
        this.requestIdHorizon = requestIds.horizon();
        this.terms = terms;
        terms.add(t.startVersion(), t.leaderId());
        this.leading = true;
        this.lastVersion = t.startVersion();
        this.lastTxnVersion = t.prevTxnVersion();
        // Writes before the term are not in the conflict set: reads older than the previous
        // term's last transaction cannot be checked. The versions after it (a clean stop's term
        // end, heartbeats, status markers) hold no write, so a read at it is judged rightly: a
        // client that read /v1/version just before a rolling restart keeps its read version.
        this.window = new VersionWindow(settings.conflictWindowMs() * 1_000_000L, t.prevTxnVersion());
    }

    /** Any thread: enqueue; false when the inbox is full (the caller answers 503). */
    public boolean offer(SequencerMessage m) {
        if (!inbox.offer(m)) {
            return false;
        }
        signal.wake();
        if (closed) {
            // The term ended after the caller picked it (closeInbox); its answer may have polled
            // before this offer landed. Volatile write then read on both sides: one of the two sees the other.
            answerLeftovers();
        }
        return true;
    }

    /**
     * After the runner stopped: nothing reads the inbox again, so what is in it, and whatever an
     * event loop offers afterwards (it picked this term just before the term ended), is answered
     * here: never sequenced, so not committed. Any thread.
     */
    public void closeInbox() {
        closed = true;
        answerLeftovers();
    }

    /** One poller at a time (the inbox has one consumer), and only after the runner stopped. */
    private synchronized void answerLeftovers() {
        SequencerMessage m;
        while ((m = inbox.poll()) != null) {
            switch (m) {
                case SequencerMessage.Commit c -> answerNow(unavailable(c.request().requestId()), c.completion());
                case SequencerMessage.Status st -> answerNow(unavailable(null), st.completion());
                case SequencerMessage.Probe p -> answerNow(unavailable(null), p.completion());
                case SequencerMessage.Retire r -> {
                    // the term is over already
                }
                case SequencerMessage.MarkerRequest mr -> {
                    // nothing more is written
                }
            }
        }
    }

    public int inboxSize() {
        return inbox.size();
    }

    @Override
    public String name() {
        return "sequencer";
    }

    @Override
    public long nextDeadlineNanos() {
        return Long.MAX_VALUE;
    }

    @Override
    public int doWork(long nowNanos) {
        int done = 0;
        if (leading && !persister.leading()) {
            // The persister found another leader's object where this term writes: stop at once.
            leading = false;
            stepDownReason = "it lost leadership of the log to another server";
            log.warn("stopped sequencing term {} ({})", term.term(), term.leaderId());
        }
        // Window upkeep after every round that wrote, else at most once per millisecond: an idle
        // round would otherwise sweep the conflict set again for nothing (the horizon moves with
        // the clock, so a finished sweep never stays clean), which on a spinning runner was most
        // of this thread's CPU at moderate load. A horizon up to 1 ms late only keeps entries longer.
        if (window != null && (writesSincePrune > 0 || nowNanos - lastUpkeepNanos >= UPKEEP_IDLE_NANOS)) {
            lastUpkeepNanos = nowNanos;
            window.advance(nowNanos, lastVersion);
            long horizon = window.oldestVersion();
            if (horizon > conflicts.oldestVersion()) {
                conflicts.removeBefore(horizon);
            }
            // Reclaim in small steps: at least as fast as writes arrive, never a long pause.
            conflicts.prune(64 + 2 * writesSincePrune);
            writesSincePrune = 0;
            requestIds.expire(lastVersion, clock.epochMillis(), 1024);
            requestIdHorizon = requestIds.horizon();
            banCount = requestIds.bans();
            requestIdCount = requestIds.size() - banCount;
            conflictEntries = conflicts.size();
        }
        while (done < MAX_BATCH && persister.hasRoom()) {
            SequencerMessage m = inbox.poll();
            if (m == null) {
                break;
            }
            handle(m, nowNanos);
            done++;
        }
        if (done > 0) {
            persister.signal().wake();
        }
        return done;
    }

    /** Any thread: begins a clean shutdown of this term (see {@link Persister#retired()}). */
    public boolean retire() {
        return offer(SequencerMessage.Retire.INSTANCE);
    }

    /** Persister thread: asks for a version without a transaction. */
    public boolean requestMarker() {
        return offer(SequencerMessage.MarkerRequest.INSTANCE);
    }

    private void handle(SequencerMessage m, long nowNanos) {
        switch (m) {
            case SequencerMessage.Commit c -> commit(c.request(), c.completion(), nowNanos);
            case SequencerMessage.Status st -> status(st.requestId(), st.minVersion(), st.completion());
            case SequencerMessage.Retire r -> {
                if (leading) {
                    leading = false;
                    stepDownReason = "it is shutting down";
                    persister.accept(new Sequenced.Marker(++lastVersion, nowNanos, true));
                }
            }
            case SequencerMessage.MarkerRequest mr -> {
                if (leading) {
                    persister.accept(new Sequenced.Marker(++lastVersion, nowNanos));
                }
            }
            case SequencerMessage.Probe p -> {
                if (leading && !persister.storageHealthy()) {
                    answerNow(storageRefusal(), p.completion());
                } else if (leading) {
                    persister.accept(new Sequenced.Reply(new Outcome.Healthy(lastVersion, term.leaderId()), p.completion(), true));
                } else {
                    persister.accept(new Sequenced.Reply(unavailable(null), p.completion(), false));
                }
            }
        }
    }

    /** The 400 message for the first precondition whose version is newer than the latest assigned, or null. */
    private String versionNewerThanLatest(CommitRequest r) {
        List<Precondition> pre = r.preconditions();
        for (int i = 0; i < pre.size(); i++) {
            Precondition p = pre.get(i);
            long v = p.version() != Precondition.DEFAULT_VERSION ? p.version() : r.readVersion();
            if (v > lastVersion) {
                return "preconditions[" + i + "] version " + v + " is newer than the latest version " + lastVersion;
            }
        }
        return null;
    }

    private void commit(CommitRequest r, Completion completion, long nowNanos) {
        String requestId = r.requestId() != null ? r.requestId() : ids.uuid();
        if (!leading) {
            reply(unavailable(requestId), completion);
            return;
        }
        if (r.requestId() != null) {
            long known = requestIds.lookup(requestId);
            if (RequestIdIndex.isBanned(known)) {
                reply(new Outcome.Rejected("request_id \"" + requestId + "\" was declared not committed by /v1/status"
                        + " (at version " + RequestIdIndex.bannedAt(known) + ") and can never commit; use a new request_id"),
                        completion);
                return;
            }
            if (known != RequestIdIndex.UNKNOWN) {
                // Idempotent retry: the original outcome, once the original is durable. Its body
                // must still be valid (a 400 stays a 400); the original's own versions were not
                // newer than the version it got, so a true retry always passes.
                String invalid = versionNewerThanLatest(r);
                if (invalid != null) {
                    reply(new Outcome.Rejected(invalid), completion);
                    return;
                }
                persister.accept(new Sequenced.Reply(new Outcome.Committed(known, leaderAt(known), requestId, true),
                        completion, true));
                return;
            }
        }
        if (!persister.storageHealthy()) {
            answerNow(new Outcome.Unavailable("storage is unavailable; the commit was not applied", false,
                    settings.retryAfterSeconds(), term.leaderId(), requestId), completion);
            return;
        }
        if (r.leaderId() != null && !r.leaderId().equals(term.leaderId())) {
            // names the latest version as the one to retry from: it waits until that is stored
            // (a leader change before it would leave the client a version newer than the log)
            persister.accept(new Sequenced.Reply(new Outcome.LeaderChanged(lastVersion, term.leaderId(), requestId),
                    completion, true));
            return;
        }
        String invalid = versionNewerThanLatest(r);
        if (invalid != null) {
            reply(new Outcome.Rejected(invalid), completion);
            return;
        }
        // Preconditions: all are checked so the client learns every failed index at once.
        long oldest = window.oldestVersion();
        boolean tooOld = false;
        failed.clear();
        List<Precondition> pre = r.preconditions();
        for (int i = 0; i < pre.size(); i++) {
            Precondition p = pre.get(i);
            long v = p.version() != Precondition.DEFAULT_VERSION ? p.version() : r.readVersion();
            if (v < oldest) {
                tooOld = true;
                continue;
            }
            boolean conflict = switch (p) {
                case Precondition.PointRead pr -> conflicts.pointConflicts(pr.key(), v);
                case Precondition.RangeRead rr -> conflicts.rangeConflicts(rr.begin(), rr.end(), v);
            };
            if (conflict) {
                failed.add(i);
            }
        }
        if (!failed.isEmpty()) {
            // judged against everything sequenced, some of it perhaps not stored yet: the 409 waits
            // for it, and becomes 503 not_committed should it never be stored (Releaser)
            persister.accept(new Sequenced.Reply(new Outcome.Conflict(lastVersion, term.leaderId(), requestId, failed),
                    completion, true));
            return;
        }
        if (tooOld) {
            // as for a conflict: the version to read again from must be stored before it is named
            persister.accept(new Sequenced.Reply(new Outcome.TooOld(lastVersion, term.leaderId(), requestId),
                    completion, true));
            return;
        }
        long version = ++lastVersion;
        writesSincePrune += r.operations().size();
        for (Operation op : r.operations()) {
            switch (op) {
                case Operation.Write w -> conflicts.addPointWrite(w.key(), version);
                case Operation.Delete d -> conflicts.addPointWrite(d.key(), version);
                case Operation.RangeDelete rd -> conflicts.addRangeWrite(rd.begin(), rd.end(), version);
            }
        }
        long now = clock.epochMillis();
        Transaction txn = new Transaction(requestId, version, lastTxnVersion, now, r.operations());
        lastTxnVersion = version;
        requestIds.committed(requestId, version, now);
        persister.accept(new Sequenced.Txn(txn, completion, BatchCodec.encodedSize(txn), nowNanos));
    }

    /**
     * {@code /v1/status}. Asking makes the outcome final: an id that is not known is banned at
     * the latest version (recorded in the log with the next batch), so it can never commit.
     */
    private void status(String requestId, long minVersion, Completion completion) {
        if (!leading) {
            reply(unavailable(requestId), completion);
            return;
        }
        long known = requestIds.lookup(requestId);
        if (RequestIdIndex.isBanned(known)) {
            persister.accept(new Sequenced.Reply(new Outcome.StatusNotCommitted(requestId, RequestIdIndex.bannedAt(known)),
                    completion, true));
            return;
        }
        if (known != RequestIdIndex.UNKNOWN) {
            persister.accept(new Sequenced.Reply(new Outcome.StatusCommitted(requestId, known, leaderAt(known)),
                    completion, true));
            return;
        }
        long from = Math.max(0, minVersion);
        // the commit cannot be at or before from: every id after it must be known
        if (from < requestIds.horizon() - 1) {
            reply(new Outcome.Truncated("request ids of versions before " + requestIds.horizon()
                    + " are no longer known (request_id_retention_*); the outcome of a commit after version " + from
                    + " cannot be determined", requestIds.horizon()), completion);
            return;
        }
        if (!requestIds.canBan()) {
            // bounded memory: each unknown id asked about is remembered for the retention period
            reply(new Outcome.Unavailable("too many request ids are held as never to commit (" + requestIds.bans()
                    + ", the request_id_retention_versions limit); retry once older ones expire",
                    false, settings.retryAfterSeconds(), null, requestId), completion);
            return;
        }
        long at = lastVersion;
        requestIds.banned(requestId, at, clock.epochMillis());
        persister.accept(new Sequenced.Ban(requestId, new Outcome.StatusNotCommitted(requestId, at), completion));
    }

    private String leaderAt(long version) {
        String l = terms.leaderAt(version);
        return l != null ? l : term.leaderId();
    }

    private void reply(Outcome outcome, Completion completion) {
        persister.accept(new Sequenced.Reply(outcome, completion, false));
    }

    /**
     * Answers on the request's event loop at once, past the persister and the releaser: only for
     * answers that rest on nothing sequenced before (storage refusing writes). Through the pipeline
     * they would wait behind an open batch that cannot be sent until storage is back.
     */
    private static void answerNow(Outcome outcome, Completion completion) {
        try {
            completion.completeLater(outcome);
        } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
            // the event loop is gone (shutdown): its connection is closed anyway (as in Releaser)
        }
    }

    /** The answer to a probe while storage refuses log writes; any thread. */
    public Outcome.Unavailable storageRefusal() {
        return new Outcome.Unavailable("storage is not accepting log writes", false, settings.retryAfterSeconds(),
                term.leaderId(), null);
    }

    /** Sequencer thread, or any thread once the runner stopped (closeInbox). */
    private Outcome.Unavailable unavailable(String requestId) {
        String reason = closed && leading ? "its term ended" : stepDownReason;
        return new Outcome.Unavailable("this server is not the leader: " + reason, false,
                settings.retryAfterSeconds(), null, requestId);
    }

    /** Latest assigned version (sequencer thread only; for tests and the simulation). */
    long lastVersion() {
        return lastVersion;
    }
}
