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
    private final Clock clock;
    private final IdSource ids;
    private final MpscAtomicArrayQueue<SequencerMessage> inbox;
    private final WakeSignal signal = new WakeSignal();
    private final Persister persister;

    private Term term; // null until leading
    private boolean leading;
    private String stepDownReason = "not the leader";
    private long lastVersion = -1;
    private long lastTxnVersion = -1;
    private VersionWindow window;
    private final ArrayList<Integer> failed = new ArrayList<>();

    public Sequencer(Settings settings, ConflictSet conflicts, Clock clock, IdSource ids, Persister persister) {
        this.settings = settings;
        this.conflicts = conflicts;
        this.clock = clock;
        this.ids = ids;
        this.persister = persister;
        this.inbox = new MpscAtomicArrayQueue<>(settings.inboxCapacity());
    }

    public WakeSignal signal() {
        return signal;
    }

    /**
     * Starts leading: called once, before the runner starts, after the term start marker is
     * durable in the log at {@code term.startVersion()}.
     */
    public void lead(Term t) {
        assert term == null : "already led a term";
        this.term = t;
        this.leading = true;
        this.lastVersion = t.startVersion();
        this.lastTxnVersion = t.prevTxnVersion();
        // Writes before the term are not in the conflict set: reads older than the version the
        // previous term ended at cannot be checked.
        this.window = new VersionWindow(settings.conflictWindowMs() * 1_000_000L, t.startVersion() - 1);
    }

    /** Any thread: enqueue; false when the inbox is full (the caller answers 503). */
    public boolean offer(SequencerMessage m) {
        if (!inbox.offer(m)) {
            return false;
        }
        signal.wake();
        return true;
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
        if (window != null) {
            window.advance(nowNanos, lastVersion);
            conflicts.removeBefore(window.oldestVersion());
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

    private void handle(SequencerMessage m, long nowNanos) {
        switch (m) {
            case SequencerMessage.Commit c -> commit(c.request(), c.completion(), nowNanos);
            case SequencerMessage.Probe p -> {
                if (leading) {
                    persister.accept(new Sequenced.Reply(new Outcome.Healthy(lastVersion, term.leaderId()), p.completion()));
                } else {
                    persister.accept(new Sequenced.Reply(unavailable(null), p.completion()));
                }
            }
        }
    }

    private void commit(CommitRequest r, Completion completion, long nowNanos) {
        String requestId = r.requestId() != null ? r.requestId() : ids.uuid();
        if (!leading) {
            persister.accept(new Sequenced.Reply(unavailable(requestId), completion));
            return;
        }
        if (!persister.storageHealthy()) {
            persister.accept(new Sequenced.Reply(new Outcome.Unavailable(
                    "storage is unavailable; the commit was not applied", false, settings.retryAfterSeconds(),
                    term.leaderId(), requestId), completion));
            return;
        }
        if (r.leaderId() != null && !r.leaderId().equals(term.leaderId())) {
            persister.accept(new Sequenced.Reply(new Outcome.LeaderChanged(lastVersion, term.leaderId(), requestId), completion));
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
            if (v > lastVersion) {
                persister.accept(new Sequenced.Reply(new Outcome.Rejected("preconditions[" + i + "] version " + v
                        + " is newer than the latest committed version " + lastVersion), completion));
                return;
            }
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
            persister.accept(new Sequenced.Reply(new Outcome.Conflict(lastVersion, term.leaderId(), requestId, failed), completion));
            return;
        }
        if (tooOld) {
            persister.accept(new Sequenced.Reply(new Outcome.TooOld(lastVersion, term.leaderId(), requestId), completion));
            return;
        }
        long version = ++lastVersion;
        for (Operation op : r.operations()) {
            switch (op) {
                case Operation.Write w -> conflicts.addPointWrite(w.key(), version);
                case Operation.Delete d -> conflicts.addPointWrite(d.key(), version);
                case Operation.RangeDelete rd -> conflicts.addRangeWrite(rd.begin(), rd.end(), version);
            }
        }
        Transaction txn = new Transaction(requestId, version, lastTxnVersion, clock.epochMillis(), r.operations());
        lastTxnVersion = version;
        persister.accept(new Sequenced.Txn(txn, completion, BatchCodec.encodedSize(txn), nowNanos));
    }

    private Outcome.Unavailable unavailable(String requestId) {
        return new Outcome.Unavailable("this server is not the leader: " + stepDownReason, false,
                settings.retryAfterSeconds(), null, requestId);
    }

    /** Latest assigned version (sequencer thread only; for tests and the simulation). */
    long lastVersion() {
        return lastVersion;
    }
}
