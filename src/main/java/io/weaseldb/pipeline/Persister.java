package io.weaseldb.pipeline;

import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.CorruptBatchException;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.Term;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import io.weaseldb.time.Clock;
import io.weaseldb.time.IdSource;
import io.weaseldb.txn.Transaction;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;
import org.jctools.queues.atomic.SpscAtomicArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stage 2: persist. Groups sequenced transactions into batches and writes each batch as one log
 * object with {@code If-None-Match: *}; acknowledges batches strictly in version order once each
 * one and every earlier one is durable; hands decided items to the releaser and durable batches
 * to subscribers.
 *
 * <p>Batching: with no PUT in flight a batch is sent at once (idle means send now); while PUTs
 * are in flight it collects until {@code batch_timeout_ms} or {@code batch_max_bytes}, with at
 * most {@code max_in_flight_puts} batches outstanding, retries included. When that bound and the
 * open batch are full it stops taking input, so backpressure reaches the sequencer and then the
 * event loops.
 *
 * <p>Failures: transient storage errors are retried with exponential backoff and jitter. A
 * batch not durable within {@code retry_budget_ms} of sequencing has its commits answered 503
 * with outcome unknown (it keeps being retried, so it may still commit; clients resolve through
 * /v1/status) and new commits are refused until a write succeeds. A conditional write that finds
 * the object present is resolved by reading it: our own bytes mean an earlier attempt landed and
 * only its reply was lost; an older term's orphan is deleted and the write retried; anything else
 * means another leader owns the log, and this server stops leading at once.
 *
 * <p>Owned by its runner thread. The sequencer calls {@link #accept}/{@link #hasRoom}; storage
 * completions arrive on SDK threads and are queued back to this thread.
 */
public final class Persister implements Stage {
    private static final Logger log = LoggerFactory.getLogger(Persister.class);
    /** How soon to look again while a queue downstream is full (the releaser takes up to 256 a round). */
    private static final long ROOM_POLL_NANOS = 200_000;

    public record Settings(
            long batchTimeoutMs,
            long batchMaxBytes,
            int maxInFlightPuts,
            long retryInitialBackoffMs,
            long retryMaxBackoffMs,
            long retryBudgetMs,
            int retryAfterSeconds,
            int inputCapacity,
            long heartbeatMs) {}

    /** Asks the sequencer for a version without a transaction; false if it cannot take the request now. */
    public interface MarkerSource {
        boolean requestMarker();
    }

    /**
     * Follows the log as the persister sees it, on the persister thread: each transaction as it
     * is sequenced (for durable=false subscribers), each batch once it and all before it are
     * durable, and the loss of leadership. {@link #hasRoom} is asked before each call; a listener
     * that is full holds the persister back (backpressure) rather than dropping anything.
     */
    public interface LogListener {
        boolean hasRoom();

        /**
         * How many transactions may be handed to {@link #sequenced} before the {@link #durable}
         * call that covers them. Beyond it the persister takes no more input until a batch is
         * acknowledged (the publisher's cache evicts only durable transactions, so it must never
         * be handed more non-durable ones than it can hold: the {@code durable} call that frees it
         * would queue behind them).
         */
        default int maxUndurableTransactions() {
            return Integer.MAX_VALUE;
        }

        void sequenced(Transaction txn);

        void durable(BatchHeader header, List<Transaction> transactions);

        /** Leadership was lost: end anything that depends on this term. */
        void fenced(String reason);

        LogListener NONE = new LogListener() {
            @Override
            public boolean hasRoom() {
                return true;
            }

            @Override
            public void sequenced(Transaction txn) {}

            @Override
            public void durable(BatchHeader header, List<Transaction> transactions) {}

            @Override
            public void fenced(String reason) {}
        };
    }

    /** Observes batch-level events for metrics; methods run on the persister thread. */
    public interface Observer {
        default void batchSent(int transactions, int bytes, long ageNanos) {}

        default void batchDurable(int transactions, long putNanos) {}

        default void retry(StorageException cause) {}

        default void budgetExceeded(int commits) {}

        Observer NONE = new Observer() {};
    }

    private sealed interface IoEvent {
        Batch batch();
    }

    private record PutDone(Batch batch, ObjectStore.PutResult result, Throwable error) implements IoEvent {}

    private record VerifyDone(Batch batch, ObjectStore.Versioned existing, Throwable error) implements IoEvent {}

    /** The compare-and-swap that replaces an older term's orphan with this batch. */
    private record ReplaceDone(Batch batch, ObjectStore.PutResult result, Throwable error) implements IoEvent {}

    /**
     * A look at the log ({@link #confirmLeadershipWith}) made before acknowledging {@code covered}:
     * the batches already stored when it started, the first of them at the head.
     */
    private record LookDone(List<Batch> covered, Boolean stillLeading, Throwable error) implements IoEvent {
        @Override
        public Batch batch() {
            return covered.get(0);
        }
    }

    /** A sealed batch from the moment it is sent until it is acknowledged. Persister thread only. */
    private static final class Batch {
        final BatchHeader header;
        final String key;
        final byte[] object;
        final List<Transaction> txns;
        ArrayList<Sequenced> items; // replaced, never cleared: a Release holds the old list
        final long firstSequencedNanos;
        final long sentNanos;
        boolean durable;
        boolean released;
        /** A look at the log found no newer term after this batch was stored ({@link #confirmLeadershipWith}). */
        boolean confirmed;
        boolean outstanding;
        int attempts;
        long retryAtNanos = Long.MAX_VALUE;

        Batch(BatchHeader header, String key, byte[] object, List<Transaction> txns, ArrayList<Sequenced> items,
              long firstSequencedNanos, long sentNanos) {
            this.header = header;
            this.key = key;
            this.object = object;
            this.txns = txns;
            this.items = items;
            this.firstSequencedNanos = firstSequencedNanos;
            this.sentNanos = sentNanos;
        }
    }

    private final Settings settings;
    private final ObjectStore store;
    private final LogLayout layout;
    private final Releaser releaser;
    private final LogListener listener;
    private final Observer observer;
    private final Clock clock;
    private final IdSource random;
    private final SpscAtomicArrayQueue<Sequenced> input;
    private final MpscAtomicArrayQueue<IoEvent> ioEvents;
    private final WakeSignal signal = new WakeSignal();
    private final long batchTimeoutNanos;
    private final long budgetNanos;

    private Term term;
    private long prevVersion; // lastVersion of the newest sealed object
    private long prevTxnVersion;
    private final BatchCodec.Encoder encoder = new BatchCodec.Encoder();
    private ArrayList<Transaction> openTxns = new ArrayList<>();
    private ArrayList<Sequenced> openItems = new ArrayList<>();
    private final ArrayList<String> openBans = new ArrayList<>();
    private long openFirstVersion = -1; // -1: no open batch
    private long openLastVersion;
    private long openStartNanos;
    private boolean openReleased; // the open batch's commits were already answered "unknown"
    /** After a fence: items owed the "lost leadership" answer, handed to the releaser as one Release when it has room. */
    private List<Sequenced> lost = new ArrayList<>();
    /**
     * A step of the last pass stopped for room in the releaser's or the publisher's queue. Neither
     * wakes this stage when it drains, so {@link #nextDeadlineNanos} polls while this is set.
     */
    private boolean waitingForRoom;
    private final ArrayList<Sequenced.Ban> pendingBans = new ArrayList<>(); // waiting for a version to ride on
    private boolean markerRequested;
    /** When to ask again for a marker the sequencer had no room for (its inbox full); 0: not refused. */
    private long markerRetryAtNanos;
    private MarkerSource markerSource = () -> false;
    private final long heartbeatNanos;
    private long lastSentNanos;
    private final ArrayDeque<Batch> inFlight = new ArrayDeque<>();
    private boolean fenced;
    /** Transactions handed to the listener whose batch it has not been told is durable. */
    private int undurableTxns;
    private final int maxUndurableTxns;

    private volatile long durableVersion = -1;
    /**
     * When the newest acknowledged log object of this term was first sent (clock.nanoTime), or
     * {@link #NO_LEASE} before the first. Acknowledged means in version order: every object of the
     * term up to it is in storage, so a server taking the log over must have seen it, and a
     * standby takes over only after seeing no new object for leader_timeout_ms. No other server
     * can lead before this plus that timeout: the leader's lease ({@code LeadershipCheck}).
     */
    private volatile long leaseBaseNanos = NO_LEASE;
    /** {@link #leaseBaseNanos()} before any object of the term is acknowledged. */
    public static final long NO_LEASE = Long.MIN_VALUE;
    private boolean retiring; // the open batch ends the term: send it now, then write nothing more
    private boolean retiredSent;
    private volatile boolean retired;
    private volatile boolean storageHealthy = true;
    private volatile boolean leading;

    public Persister(Settings settings, ObjectStore store, LogLayout layout, Releaser releaser,
                     LogListener listener, Observer observer, Clock clock, IdSource random) {
        this.settings = settings;
        this.store = store;
        this.layout = layout;
        this.releaser = releaser;
        this.listener = listener;
        this.observer = observer;
        this.clock = clock;
        this.random = random;
        this.input = new SpscAtomicArrayQueue<>(settings.inputCapacity());
        // at most one storage request per in-flight batch is outstanding at a time
        this.ioEvents = new MpscAtomicArrayQueue<>(Math.max(16, settings.maxInFlightPuts() * 2));
        this.batchTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(settings.batchTimeoutMs());
        this.budgetNanos = TimeUnit.MILLISECONDS.toNanos(settings.retryBudgetMs());
        this.heartbeatNanos = TimeUnit.MILLISECONDS.toNanos(settings.heartbeatMs());
        this.maxUndurableTxns = listener.maxUndurableTransactions();
    }

    /** Wires the sequencer in (they reference each other); before the runners start. */
    public void markerSource(MarkerSource source) {
        this.markerSource = source;
    }

    /**
     * Storage other servers write too: a batch acknowledged {@code leaseNanos} or more after the
     * first send of the newest acknowledged object (before the first: after {@code claimNanos},
     * when the term's claim was sent) waits for a look at the log ({@code look}, completing with
     * false if a newer term's object is in it) before it is acknowledged. Before the runner starts.
     *
     * <p>Why: a standby can take the log over only after leader_timeout_ms without a new object,
     * so within the lease no other server leads. Past it (this process was paused, or cut off from
     * storage, or storage was down) another may have taken over; normally its objects occupy the
     * names this term writes next and the write fails. But its truncation may since have deleted
     * them (a retention policy, a small request-id window), and then this term's writes land in
     * the freed names and look durable: acknowledging them would answer commits that are not in
     * the log (audit 13).
     */
    public void confirmLeadershipWith(long leaseNanos, long claimNanos,
                                      Supplier<CompletableFuture<Boolean>> look) {
        this.leaseNanos = leaseNanos;
        this.claimNanos = claimNanos;
        this.leadershipLook = look;
    }

    /** How soon a look that failed (storage did not answer) is made again. */
    static final long LOOK_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    private Supplier<CompletableFuture<Boolean>> leadershipLook;
    private long leaseNanos;
    private long claimNanos;
    /** The batch whose acknowledgment waits for the look in progress, or null. */
    private Batch looking;
    private long lookRetryAtNanos;

    public WakeSignal signal() {
        return signal;
    }

    /** Starts writing the term whose start marker is durable at {@code t.startVersion()}. Before the runner starts. */
    public void lead(Term t) {
        this.term = t;
        this.prevVersion = t.startVersion();
        this.prevTxnVersion = t.prevTxnVersion();
        this.durableVersion = t.startVersion();
        this.leading = true;
        this.lastSentNanos = clock.nanoTime();
    }

    // ---- called by the sequencer thread ----

    boolean hasRoom() {
        return input.size() < input.capacity() - 1;
    }

    void accept(Sequenced s) {
        boolean ok = input.offer(s);
        assert ok : "persister input overflow: the sequencer must check hasRoom()";
        if (!ok) {
            throw new IllegalStateException("persister input overflow");
        }
    }

    // ---- readable from any thread ----

    /** See {@link #leaseBaseNanos}; any thread. */
    public long leaseBaseNanos() {
        return leaseBaseNanos;
    }

    /** The newest version such that it and every earlier version are durable. */
    public long durableVersion() {
        return durableVersion;
    }

    /** False after a batch outlived the retry budget unstored, until every such batch is stored. */
    public boolean storageHealthy() {
        return storageHealthy;
    }

    /** True once the term's end marker is durable after a clean shutdown. */
    public boolean retired() {
        return retired;
    }

    /** True while this server leads its term (false once fenced or retired). */
    public boolean leading() {
        return leading;
    }

    public int inputSize() {
        return input.size();
    }

    public int inFlightCount() {
        return inFlightCountVolatile;
    }

    private volatile int inFlightCountVolatile;

    // ---- the stage ----

    @Override
    public String name() {
        return "persister";
    }

    /**
     * Only deadlines this stage can act on when they pass: a batch that cannot be sent (every
     * in-flight slot busy) waits for a storage completion, which wakes the stage anyway; a
     * deadline reported without being actionable would make the runner spin.
     */
    @Override
    public long nextDeadlineNanos() {
        if (waitingForRoom) {
            // before any other deadline, which may have passed but cannot be acted on without room
            return clock.nanoTime() + (releaser.hasRoom() && listener.hasRoom() ? 0 : ROOM_POLL_NANOS);
        }
        if (fenced) {
            return Long.MAX_VALUE;
        }
        long next = Long.MAX_VALUE;
        if (heartbeatNanos > 0 && !retiring && openFirstVersion < 0 && inFlight.isEmpty() && !markerRequested) {
            next = Math.max(lastSentNanos + heartbeatNanos, markerRetryAtNanos);
        }
        if (!pendingBans.isEmpty() && !retiring && openFirstVersion < 0 && !markerRequested && markerRetryAtNanos > 0) {
            next = Math.min(next, markerRetryAtNanos);
        }
        if (openFirstVersion >= 0) {
            if (inFlight.size() < settings.maxInFlightPuts() && !inFlight.isEmpty()) {
                next = Math.min(next, openStartNanos + batchTimeoutNanos);
            }
            if (!openReleased) {
                next = Math.min(next, openStartNanos + budgetNanos);
            }
        }
        if (looking == null && lookRetryAtNanos > 0 && !inFlight.isEmpty() && inFlight.peekFirst().durable
                && !inFlight.peekFirst().confirmed) {
            next = Math.min(next, lookRetryAtNanos); // a failed look, made again
        }
        boolean holeBefore = false; // an earlier batch is not stored
        boolean lookBefore = false; // an earlier stored batch may need a look (once the lease has run out)
        for (Batch b : inFlight) {
            if (!b.outstanding && !b.durable) {
                next = Math.min(next, b.retryAtNanos);
            }
            boolean owes = !b.released || !b.items.isEmpty();
            boolean unlooked = b.durable && leadershipLook != null && !b.confirmed;
            if ((!b.durable || holeBefore) && owes) {
                next = Math.min(next, b.firstSequencedNanos + budgetNanos);
            } else if (owes && (unlooked || lookBefore)) {
                // stored, waiting for a look (its own, or an earlier batch's): enforceBudget answers
                // it once both its budget and the lease have run out (a deadline it could not act
                // on would make the runner spin)
                next = Math.min(next, Math.max(b.firstSequencedNanos + budgetNanos, leaseBase() + leaseNanos));
            }
            holeBefore |= !b.durable;
            lookBefore |= unlooked;
        }
        return next;
    }

    @Override
    public int doWork(long now) {
        int work = 0;
        waitingForRoom = false;
        IoEvent e;
        while ((e = ioEvents.poll()) != null) {
            onIo(e, now);
            work++;
        }
        work += releaseLost();
        work += acknowledge(now);
        work += drainInput(now);
        work += releaseLost();
        requestMarkerIfNeeded(now);
        work += maybeSend(now);
        work += retryDue(now);
        work += enforceBudget(now);
        inFlightCountVolatile = inFlight.size();
        return work;
    }

    private int drainInput(long now) {
        int n = 0;
        Sequenced s;
        // Each item hands the releaser at most one Release, so a pass takes at most as many items
        // as its bounded queue has room for (read once: only this thread adds to that queue).
        // After a fence, items go to `lost`, which takes one Release for all of them, and nothing
        // goes to the listener, so its room no longer holds them back. While leading, what the
        // listener holds that is not durable yet is bounded too; only an acknowledgement (which
        // storage's answer wakes this stage for) lowers it.
        int room = releaser.room();
        while (n < room
                && (fenced || (encoder.bodyBytes() < settings.batchMaxBytes() && listener.hasRoom()
                        && undurableTxns < maxUndurableTxns))
                && (s = input.poll()) != null) {
            n++;
            switch (s) {
                case Sequenced.Txn t -> {
                    if (fenced) {
                        lost.add(s);
                        continue;
                    }
                    openVersion(t.txn().version(), t.sequencedNanos());
                    encoder.append(t.txn());
                    openTxns.add(t.txn());
                    openItems.add(s);
                    undurableTxns++;
                    listener.sequenced(t.txn());
                }
                case Sequenced.Marker m -> {
                    if (fenced) {
                        continue;
                    }
                    markerRequested = false;
                    openVersion(m.version(), m.sequencedNanos());
                    if (m.endOfTerm()) {
                        retiring = true;
                    }
                }
                case Sequenced.Ban b -> {
                    if (fenced) {
                        lost.add(s);
                    } else {
                        pendingBans.add(b);
                    }
                }
                case Sequenced.Reply r -> {
                    if (fenced && r.needsDurability()) {
                        // what it reports was never made durable by this (deposed) leader
                        lost.add(s);
                    } else {
                        attachReply(s);
                    }
                }
            }
            if (openFirstVersion >= 0 && !pendingBans.isEmpty()) {
                for (Sequenced.Ban b : pendingBans) {
                    openBans.add(b.requestId());
                    openItems.add(b);
                }
                pendingBans.clear();
            }
        }
        if ((n >= room || (!fenced && !listener.hasRoom())) && !input.isEmpty()) {
            waitingForRoom = true;
        }
        return n;
    }

    /** Adds a version to the open batch (opening one if needed); versions arrive gap-free. */
    private void openVersion(long version, long sequencedNanos) {
        long expected = (openFirstVersion < 0 ? prevVersion : openLastVersion) + 1;
        assert version == expected : "version " + version + " arrived, expected " + expected;
        if (version != expected) {
            throw new IllegalStateException("version " + version + " arrived, expected " + expected);
        }
        if (openFirstVersion < 0) {
            openFirstVersion = version;
            openStartNanos = sequencedNanos;
        }
        openLastVersion = version;
    }

    /**
     * Bans need a version to be written with. Under load they ride on the next batch; when idle
     * the persister asks the sequencer for a marker version. Likewise a heartbeat while idle
     * proves this leader alive and, being a log write, finds out at once if it was deposed.
     */
    private void requestMarkerIfNeeded(long now) {
        if (fenced || markerRequested || openFirstVersion >= 0) {
            return;
        }
        if (retiring) {
            return;
        }
        boolean heartbeat = heartbeatNanos > 0 && inFlight.isEmpty() && now - lastSentNanos >= heartbeatNanos;
        if ((!pendingBans.isEmpty() || heartbeat) && now >= markerRetryAtNanos) {
            markerRequested = markerSource.requestMarker();
            // refused while the sequencer's inbox is full: ask again a little later, not at once
            // (the deadline above would otherwise stay in the past and the runner spin)
            markerRetryAtNanos = markerRequested ? 0 : now + ROOM_POLL_NANOS;
        }
    }

    /**
     * A reply waits for everything sequenced before it: the open batch, else the newest in flight.
     * A reply that reports something durable waits even for a batch whose commits were already
     * answered "unknown" (it may still land); other replies need not.
     */
    private void attachReply(Sequenced reply) {
        boolean needsDurability = reply instanceof Sequenced.Reply r && r.needsDurability();
        if (openFirstVersion >= 0) {
            openItems.add(reply);
        } else if (!inFlight.isEmpty() && (needsDurability || !inFlight.peekLast().released)) {
            inFlight.peekLast().items.add(reply);
        } else {
            releaser.offer(new Release(List.of(reply), term == null ? null : term.leaderId(), null));
        }
    }

    private int maybeSend(long now) {
        if (fenced || retiredSent || openFirstVersion < 0 || inFlight.size() >= settings.maxInFlightPuts()) {
            return 0;
        }
        if (!releaser.hasRoom()) {
            waitingForRoom = true;
            return 0;
        }
        boolean send = retiring || inFlight.isEmpty()
                || encoder.bodyBytes() >= settings.batchMaxBytes()
                || now - openStartNanos >= batchTimeoutNanos;
        if (!send) {
            return 0;
        }
        long lastTxn = openTxns.isEmpty() ? prevTxnVersion : openTxns.get(openTxns.size() - 1).version();
        BatchHeader h = new BatchHeader(retiring ? BatchHeader.TERM_END : BatchHeader.DATA, term.term(), term.leaderId(),
                openFirstVersion,
                openLastVersion, prevVersion, prevTxnVersion, lastTxn, clock.epochMillis(), openTxns.size(),
                openBans.size());
        int bodyBytes = encoder.bodyBytes();
        for (String ban : openBans) {
            encoder.appendBan(ban);
        }
        byte[] object = encoder.seal(h);
        Batch b = new Batch(h, layout.objectKey(openFirstVersion), object, openTxns, openItems, openStartNanos, now);
        b.released = openReleased;
        openReleased = false;
        // the sequencer's clock sample can be a hair later than this stage's
        observer.batchSent(openTxns.size(), bodyBytes, Math.max(0, now - openStartNanos));
        prevVersion = openLastVersion;
        prevTxnVersion = lastTxn;
        openTxns = new ArrayList<>();
        openItems = new ArrayList<>();
        openBans.clear();
        openFirstVersion = -1;
        lastSentNanos = now;
        retiredSent = retiring;
        inFlight.addLast(b);
        put(b);
        return 1;
    }

    private void put(Batch b) {
        b.outstanding = true;
        b.attempts++;
        b.retryAtNanos = Long.MAX_VALUE;
        store.putIfAbsent(b.key, b.object).whenComplete((r, t) -> deliver(new PutDone(b, r, t)));
    }

    private void deliver(IoEvent e) {
        boolean ok = ioEvents.offer(e);
        assert ok : "io event queue overflow";
        if (!ok) {
            log.error("persister io event queue overflow; dropping {}", e);
        }
        signal.wake();
    }

    private void onIo(IoEvent e, long now) {
        if (e instanceof LookDone l) {
            onLook(l, now);
            return;
        }
        Batch b = e.batch();
        b.outstanding = false;
        if (fenced || b.durable) {
            return;
        }
        switch (e) {
            case LookDone l -> { } // handled above
            case PutDone p -> {
                if (p.error() == null && p.result() == ObjectStore.PutResult.CREATED) {
                    markDurable(b, now);
                } else if (p.error() == null) {
                    // Present already: our own earlier attempt, an older term's orphan, or another leader.
                    verify(b);
                } else {
                    scheduleRetry(b, StorageException.of(p.error()), now);
                }
            }
            case VerifyDone v -> {
                if (v.error() != null) {
                    StorageException cause = StorageException.of(v.error());
                    if (cause.kind() == StorageException.Kind.NOT_FOUND) {
                        // 412 for the write, then nothing there: an object that vanished meanwhile,
                        // or storage (or a proxy) answering 412 for no object. Write again after the
                        // backoff, counted as a failed attempt: at once, a storage that keeps
                        // answering so spun the persister at full CPU, unseen (audit 22)
                        scheduleRetry(b, new StorageException(StorageException.Kind.TRANSIENT, 412, "storage answered 412"
                                + " Precondition Failed to the write, but no object is there", null), now);
                    } else {
                        scheduleRetry(b, cause, now);
                    }
                } else if (Arrays.equals(v.existing().bytes(), b.object)) {
                    log.info("{}: found our own batch after an unacknowledged attempt; it is durable", b.key);
                    markDurable(b, now);
                } else {
                    resolveCollision(b, v.existing(), now);
                }
            }
            case ReplaceDone r -> {
                if (r.error() != null) {
                    scheduleRetry(b, StorageException.of(r.error()), now);
                } else if (r.result() == ObjectStore.PutResult.CREATED) {
                    markDurable(b, now);
                } else {
                    verify(b); // the object changed meanwhile: look again
                }
            }
        }
    }

    private void verify(Batch b) {
        b.outstanding = true;
        store.getVersioned(b.key).whenComplete((v, t) -> deliver(new VerifyDone(b, v, t)));
    }

    /**
     * Another object holds this batch's name. An older term's object here can never have been
     * acknowledged (its writer lost the log to this term, whose claim precedes it), so it is
     * replaced by compare-and-swap on its entity tag, which never races another writer. A newer
     * term's object means another server leads now.
     */
    private void resolveCollision(Batch b, ObjectStore.Versioned existing, long now) {
        BatchHeader other;
        try {
            other = BatchCodec.decodeHeader(b.key, existing.bytes());
        } catch (CorruptBatchException ex) {
            fence("object " + b.key + " exists and is not a valid log object: " + ex.getMessage());
            return;
        }
        if (other.term() < term.term()) {
            log.warn("{}: replacing an orphan of older term {} ({}) that sits where this term writes",
                    b.key, other.term(), other.leaderId());
            b.outstanding = true;
            store.putIfMatch(b.key, b.object, existing.etag()).whenComplete((r, t) -> deliver(new ReplaceDone(b, r, t)));
        } else {
            fence("log object " + b.key + " was written by leader " + other.leaderId() + " (term " + other.term() + ")");
        }
    }

    private void markDurable(Batch b, long now) {
        b.durable = true;
        observer.batchDurable(b.txns.size(), now - b.sentNanos);
        if (openReleased && openFirstVersion >= 0) {
            return; // the open batch outlived its budget unsent: it is missing too (review 41)
        }
        for (Batch other : inFlight) {
            if (!other.durable && other.released) {
                // another batch outlived its budget unstored, and nothing after it can be
                // acknowledged: storage stays unhealthy (new commits refused at once, certainly not
                // applied, rather than taken and answered "unknown" later) until it lands too
                return;
            }
        }
        if (!storageHealthy && !fenced) {
            // the counterpart of the "not durable after" line: operators see when it ended
            log.info("{}: stored after {} attempts, {} ms after it was first sent; storage is taking log writes again",
                    b.key, b.attempts, TimeUnit.NANOSECONDS.toMillis(now - b.sentNanos));
        }
        storageHealthy = true;
    }

    private void scheduleRetry(Batch b, StorageException cause, long now) {
        observer.retry(cause);
        long backoffMs = Math.min(settings.retryMaxBackoffMs(),
                settings.retryInitialBackoffMs() << Math.min(20, Math.max(0, b.attempts - 1)));
        // full jitter: uniformly in [backoff/2, backoff]
        long delayNanos = TimeUnit.MILLISECONDS.toNanos(backoffMs) / 2
                + (long) (random.nextDouble() * TimeUnit.MILLISECONDS.toNanos(backoffMs) / 2);
        b.retryAtNanos = now + delayNanos;
        if (cause.kind() == StorageException.Kind.PERMANENT) {
            log.error("{}: storage refused the write (attempt {}), retrying in {} ms: {}", b.key, b.attempts,
                    delayNanos / 1_000_000, cause.getMessage());
        } else if (b.attempts == 1 || b.attempts % 10 == 0) {
            log.warn("{}: write failed (attempt {}), retrying in {} ms: {}", b.key, b.attempts,
                    delayNanos / 1_000_000, cause.getMessage());
        }
    }

    private int retryDue(long now) {
        if (fenced) {
            return 0;
        }
        int n = 0;
        for (Batch b : inFlight) {
            if (!b.durable && !b.outstanding && b.retryAtNanos <= now) {
                put(b);
                n++;
            }
        }
        return n;
    }

    private int acknowledge(long now) {
        int n = 0;
        while (!inFlight.isEmpty() && inFlight.peekFirst().durable) {
            if (!releaser.hasRoom() || !listener.hasRoom()) {
                waitingForRoom = true;
                break;
            }
            // the time now, not the pass's: a reply read after a pause must not look timely
            if (leadershipLook != null && needsLook(inFlight.peekFirst(), clock.nanoTime())) {
                startLook(inFlight.peekFirst(), now);
                break;
            }
            Batch b = inFlight.pollFirst();
            assert b.header.firstVersion() == durableVersion + 1 : "acknowledging " + b.header.firstVersion()
                    + " after durable " + durableVersion;
            durableVersion = b.header.lastVersion();
            leaseBaseNanos = b.sentNanos; // first sent: a retry that landed was sent later still
            undurableTxns -= b.txns.size();
            listener.durable(b.header, b.txns);
            if (b.header.kind() == BatchHeader.TERM_END) {
                retired = true;
                leading = false;
            }
            if (!b.released) {
                b.released = true;
                releaser.offer(new Release(b.items, term.leaderId(), null));
            } else if (!b.items.isEmpty()) {
                // its commits were answered "unknown" (and removed) when the budget ran out; replies
                // attached later are all that is left, and they are answered now that it landed
                releaser.offer(new Release(b.items, term.leaderId(), null));
                b.items = new ArrayList<>();
            }
            n++;
        }
        return n;
    }

    private int enforceBudget(long now) {
        int n = 0;
        int room = releaser.room(); // one Release per batch below; what finds no room waits a pass
        // an earlier batch cannot be acknowledged (not stored, or waiting for a look storage does
        // not answer): this one, acknowledged in order after it, cannot be either (review 39)
        boolean holeBefore = false;
        for (Batch b : inFlight) {
            if (n >= room) {
                waitingForRoom = true;
                return n;
            }
            // stored but waiting for a look at the log that storage does not answer: as unknown
            boolean unconfirmed = b.durable && needsLook(b, now);
            // not acknowledgeable: not stored, stored after one that is not (acknowledgement is
            // in order; review 37), or stored and waiting for a look storage does not answer
            boolean stuck = !b.durable || holeBefore || unconfirmed;
            holeBefore = stuck;
            if (!stuck || now - b.firstSequencedNanos < budgetNanos) {
                continue;
            }
            if (b.released) {
                if (!b.items.isEmpty()) {
                    // replies that joined a batch already past its budget (a conflict, too_old or
                    // duplicate naming a version in it): answer them now as well (review 37)
                    releaser.offer(new Release(b.items, term.leaderId(), storageTimedOut()));
                    b.items = new ArrayList<>();
                    n++;
                }
                continue;
            }
            b.released = true;
            if (!b.durable) {
                // with heartbeats off no later write would mark storage healthy again (review 19)
                storageHealthy = false;
            }
            observer.budgetExceeded(b.txns.size());
            log.error("{}: {} after {} ms ({} attempts); answering its {} commits 503 outcome unknown", b.key,
                    !b.durable ? "not durable"
                            : unconfirmed ? "stored, but leadership not confirmed by a look at the log"
                            : "stored, but an earlier batch is not",
                    settings.retryBudgetMs(), b.attempts, b.txns.size());
            releaser.offer(new Release(b.items, term.leaderId(), storageTimedOut()));
            b.items = new ArrayList<>();
            n++;
        }
        if (n >= room) {
            waitingForRoom = true;
            return n;
        }
        if (openFirstVersion >= 0 && !openReleased && now - openStartNanos >= budgetNanos) {
            // Still waiting for a free in-flight slot: storage has been stuck for the whole budget.
            openReleased = true;
            storageHealthy = false;
            observer.budgetExceeded(openTxns.size());
            releaser.offer(new Release(openItems, term.leaderId(), storageTimedOut()));
            openItems = new ArrayList<>();
            n++;
        } else if (openReleased && !openItems.isEmpty()) {
            // items that joined the open batch after its budget ran out: it is no closer to being
            // sent, so they are answered now as well (as for the in-flight batches above)
            releaser.offer(new Release(openItems, term.leaderId(), storageTimedOut()));
            openItems = new ArrayList<>();
            n++;
        }
        return n;
    }

    /** True if {@code b} may be acknowledged only after a look at the log ({@link #confirmLeadershipWith}). */
    private boolean needsLook(Batch b, long now) {
        return leadershipLook != null && !b.confirmed && now - leaseBase() >= leaseNanos;
    }

    /** What the lease counts from: the first send of the newest acknowledged object, or the claim. */
    private long leaseBase() {
        return leaseBaseNanos == NO_LEASE ? claimNanos : leaseBaseNanos;
    }

    private void startLook(Batch b, long now) {
        if (looking != null || now < lookRetryAtNanos) {
            return; // one at a time; a failed one is made again after a pause
        }
        looking = b;
        // every batch stored by now is covered: it landed before the look, which then finds any
        // newer term that could have claimed before it landed (after a stall, one look confirms
        // them all instead of one per batch, which could fall behind for good)
        List<Batch> covered = new ArrayList<>();
        for (Batch d : inFlight) {
            if (d.durable) {
                covered.add(d);
            }
        }
        long silentMs = TimeUnit.NANOSECONDS.toMillis(now - leaseBase());
        log.info("{}: stored {} ms after this term's last acknowledged write was sent, past the lease; looking at the"
                + " log for a newer term before acknowledging it", b.key, silentMs);
        CompletableFuture<Boolean> f;
        try {
            f = leadershipLook.get();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((ok, t) -> deliver(new LookDone(covered, ok, t)));
    }

    private void onLook(LookDone l, long now) {
        looking = null;
        if (fenced) {
            return;
        }
        if (l.error() != null) {
            lookRetryAtNanos = now + LOOK_RETRY_NANOS;
            log.warn("{}: could not look at the log before acknowledging it (again in {} ms): {}", l.batch().key,
                    TimeUnit.NANOSECONDS.toMillis(LOOK_RETRY_NANOS), StorageException.of(l.error()).getMessage());
        } else if (Boolean.TRUE.equals(l.stillLeading())) {
            for (Batch b : l.covered()) {
                b.confirmed = true;
            }
        } else {
            fence("the log holds a newer term's objects (seen in a look before acknowledging " + l.batch().key
                    + ", past this term's lease): another server took it over while this one was paused or cut off");
        }
    }

    private void fence(String reason) {
        if (fenced) {
            return;
        }
        fenced = true;
        leading = false;
        storageHealthy = false;
        log.error("lost leadership of the log (term {}, leader {}): {}", term.term(), term.leaderId(), reason);
        takeOwed(lost);
        listener.fenced(reason);
    }

    /**
     * Moves every item still owed an answer out of the batches in flight, the open batch and the
     * bans waiting for a version into {@code owed}, and drops those batches: nothing more is
     * written, and nothing more goes to the listener.
     */
    private void takeOwed(List<Sequenced> owed) {
        for (Batch b : inFlight) {
            if (!b.released || !b.items.isEmpty()) { // released ones may still hold replies attached later
                b.released = true;
                owed.addAll(b.items);
                b.items = new ArrayList<>();
            }
        }
        inFlight.clear();
        owed.addAll(openItems);
        owed.addAll(pendingBans);
        openItems = new ArrayList<>();
        openTxns = new ArrayList<>();
        openBans.clear();
        pendingBans.clear();
        openFirstVersion = -1;
        undurableTxns = 0;
        encoder.reset();
    }

    /**
     * After every runner of the term stopped (the caller is now this stage's and the releaser's
     * only thread): answers everything still owed one, which a step-down or a shutdown that
     * outwaited its drain can leave behind (queued input, the open batch, batches whose write was
     * not confirmed): outcome unknown, since some may yet land. Nothing is written after.
     */
    public void answerAbandoned() {
        List<Sequenced> owed = new ArrayList<>(lost);
        lost = new ArrayList<>();
        takeOwed(owed);
        Sequenced s;
        while ((s = input.poll()) != null) {
            owed.add(s);
        }
        fenced = true;
        leading = false;
        inFlightCountVolatile = 0;
        releaser.releaseAfterStop(new Release(owed, term == null ? null : term.leaderId(),
                unknown("this server stopped leading the log before storage confirmed the write", null)));
    }

    private int releaseLost() {
        if (lost.isEmpty()) {
            return 0;
        }
        if (!releaser.hasRoom()) {
            waitingForRoom = true;
            return 0;
        }
        releaser.offer(new Release(lost, term.leaderId(), lostLeadership()));
        lost = new ArrayList<>();
        return 1;
    }

    private Outcome.Unavailable lostLeadership() {
        return unknown("this server lost leadership of the log", null); // who leads now is not known here
    }

    /** This server still leads: the answer names it, as the not_committed 503s do. */
    private Outcome.Unavailable storageTimedOut() {
        return unknown("storage did not confirm the write in time", term.leaderId());
    }

    private Outcome.Unavailable unknown(String message, String leaderId) {
        return new Outcome.Unavailable(message, true, settings.retryAfterSeconds(), leaderId, null);
    }
}
