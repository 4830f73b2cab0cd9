package io.weaseldb.subscribe;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registry of subscriptions, grouped by event loop. When the publisher adds data it calls
 * {@link #notifyLoops}, which schedules at most one pump task per event loop; that task lets
 * each subscription on the loop copy what it is missing from the shared cache. A per-loop tick
 * sends keepalives and samples lag.
 *
 * <p>Thread-safe; each {@link Subscription} is owned by its channel's event loop.
 */
public final class SubscriberHub {
    private static final Logger log = LoggerFactory.getLogger(SubscriberHub.class);

    /**
     * @param inFlightBytes what may sit in the sockets' buffers between a stream and its client,
     *                      beyond what {@code maxBufferBytes} counts: truncation keeps that much
     *                      more of each stream behind its position (see Subscription)
     * @param historyMemoryBytes what history replays may hold, all streams together: objects
     *                      read from S3 and their encoded events until their last slice is
     *                      handed to the connection (one object always goes through)
     */
    public record Settings(int maxSubscribers, long maxBufferBytes, long keepaliveNanos, int readAheadObjects,
                           int maxHistoryReads, long inFlightBytes, long historyMemoryBytes) {
        /**
         * Above the kernel's largest socket buffers with common Linux defaults (a 4 MiB send
         * buffer here, a receive buffer up to 6-32 MiB at the client).
         */
        public static final long DEFAULT_IN_FLIGHT_BYTES = 64L << 20;
        /** {@code [subscription] history_memory_bytes}'s default. */
        public static final long DEFAULT_HISTORY_MEMORY_BYTES = 64L << 20;

        public Settings(int maxSubscribers, long maxBufferBytes, long keepaliveNanos, int readAheadObjects,
                        int maxHistoryReads, long inFlightBytes) {
            this(maxSubscribers, maxBufferBytes, keepaliveNanos, readAheadObjects, maxHistoryReads, inFlightBytes,
                    DEFAULT_HISTORY_MEMORY_BYTES);
        }

        public Settings(int maxSubscribers, long maxBufferBytes, long keepaliveNanos, int readAheadObjects,
                        int maxHistoryReads) {
            this(maxSubscribers, maxBufferBytes, keepaliveNanos, readAheadObjects, maxHistoryReads,
                    DEFAULT_IN_FLIGHT_BYTES);
        }

        /** How often each event loop looks at its subscriptions (lag, keepalives). */
        long tickNanos() {
            return Math.min(TimeUnit.SECONDS.toNanos(1), keepaliveNanos);
        }
    }

    /** Why a subscription cannot start. */
    public sealed interface Refusal {
        record Truncated(long oldestVersion) implements Refusal {}

        record TooMany(int max) implements Refusal {}

        record NotLeading() implements Refusal {}
    }

    final Settings settings;
    /** Admissions, and truncation publishing a new oldest version, happen one at a time under it. */
    private final Object admission = new Object();
    /** Cursors of subscriptions admitted and not yet streaming (or cancelled), with their counts; under admission. */
    private final java.util.TreeMap<Long, Integer> reserved = new java.util.TreeMap<>();
    final EventCache cache;
    final LogIndex index;
    final ObjectStore store;
    final LogLayout layout;
    final Executor decodeExecutor;
    final SubscribeMetrics metrics;
    final Clock clock;
    /**
     * History replay's shared budget, under {@link #historyLock}: GETs in flight (at most
     * {@code maxHistoryReads}) and the bytes history objects hold from their GET until their
     * last event is handed to the connection (at most {@code historyMemoryBytes}, but one object
     * always goes when nothing else is held). A GET reserves {@link #objectEstimate}; once decoded
     * its object holds its real size.
     */
    private final Object historyLock = new Object();
    private int readsInFlight;
    private long historyHeld;
    /** What a history object is expected to hold (its GET's bytes and its decoded events): the last ones read. */
    private volatile long objectEstimate = 64 << 10;
    /** Subscriptions waiting for a history read slot or bytes, oldest first; under historyLock. */
    private final java.util.ArrayDeque<Subscription> readWaiters = new java.util.ArrayDeque<>();
    private final AtomicInteger count = new AtomicInteger();
    private final ConcurrentHashMap<EventLoop, LoopSubscribers> loops = new ConcurrentHashMap<>();
    private final java.util.Set<Subscription> all = ConcurrentHashMap.newKeySet();
    /** Recently ended streams' holds on the log: {floor, until (clock nanos)}, oldest first. */
    private final java.util.ArrayDeque<long[]> holds = new java.util.ArrayDeque<>();
    private volatile String endedReason;

    public SubscriberHub(Settings settings, EventCache cache, LogIndex index, ObjectStore store, LogLayout layout,
                         Executor decodeExecutor, SubscribeMetrics metrics, Clock clock) {
        this.settings = settings;
        this.cache = cache;
        this.index = index;
        this.store = store;
        this.layout = layout;
        this.decodeExecutor = decodeExecutor;
        this.metrics = metrics;
        this.clock = clock;
    }

    /**
     * Takes a history read slot and reserves what the object it reads is expected to hold, or
     * queues {@code s} (once, however often it asks) to be pumped when a slot or bytes free up.
     * While streams that hold none and could read wait, a stream that already holds history
     * ({@code holding}) gets no more: each replaying stream gets its turn, whatever a few slow
     * readers hold.
     *
     * @return the bytes reserved (give them back with {@link #releaseHistory}), or -1 if none
     */
    long acquireRead(Subscription s, boolean holding) {
        long estimate = objectEstimate;
        boolean granted;
        boolean wakeNext;
        synchronized (historyLock) {
            boolean woken = s.wokenForRead;
            s.wokenForRead = false;
            s.waitsHolding = holding;
            boolean othersFirst = holding && othersWaiting(s);
            granted = readsInFlight < settings.maxHistoryReads()
                    && (historyHeld == 0 || historyHeld + estimate <= settings.historyMemoryBytes())
                    && !othersFirst;
            if (granted) {
                if (s.queuedForRead) {
                    s.queuedForRead = false;
                    readWaiters.remove(s); // served: its place in the queue is spent
                }
                readsInFlight++;
                historyHeld += estimate;
                // room left: the next waiter may fit too
                wakeNext = readsInFlight < settings.maxHistoryReads() && historyHeld < settings.historyMemoryBytes();
            } else {
                if (!s.queuedForRead) {
                    s.queuedForRead = true;
                    if (woken && !othersFirst) {
                        readWaiters.addFirst(s); // woken for room that was not enough: it keeps its turn
                    } else {
                        readWaiters.addLast(s);
                    }
                }
                wakeNext = woken && othersFirst; // its wake-up is of no use to it: the next waiter's
            }
        }
        if (wakeNext) {
            wakeReadWaiter();
        }
        if (!granted) {
            return -1;
        }
        metrics.historyBytes(estimate);
        return estimate;
    }

    /** A history GET finished (either way); any thread. Its bytes stay reserved until {@link #releaseHistory}. */
    void readDone() {
        synchronized (historyLock) {
            readsInFlight--;
        }
        wakeReadWaiter();
    }

    /**
     * Moves a decoded object's reservation from the estimate to what it really holds, and learns
     * the estimate for the next reads. Any thread.
     */
    void decoded(long reserved, long holds, long read) {
        objectEstimate = Math.max(4096, read + holds);
        synchronized (historyLock) {
            historyHeld += holds - reserved;
        }
        metrics.historyBytes(holds - reserved);
    }

    /** Gives back history bytes reserved by {@link #acquireRead} (as adjusted by {@link #decoded}). Any thread. */
    void releaseHistory(long bytes) {
        if (bytes <= 0) {
            return;
        }
        synchronized (historyLock) {
            historyHeld -= bytes;
        }
        metrics.historyBytes(-bytes);
        wakeReadWaiter();
    }

    /** History GETs in flight (diagnostics). */
    int readsInFlight() {
        synchronized (historyLock) {
            return readsInFlight;
        }
    }

    /** Bytes history replay holds now, all streams (tests, diagnostics). */
    long historyHeld() {
        synchronized (historyLock) {
            return historyHeld;
        }
    }

    /**
     * Whether a stream other than {@code s} waits, holds no history and could read now; under
     * historyLock. One whose connection takes nothing is not woken (see {@link #wakeReadWaiter}),
     * so {@code s} does not yield to it: it would pass its wake-up on to itself, for ever. Nor to
     * one that holds history too: it would give way in turn, and with every waiter holding, a
     * wake-up went round them for ever with no slot free (review 41).
     */
    private boolean othersWaiting(Subscription s) {
        for (Subscription w : readWaiters) {
            if (w != s && !w.waitsHolding && w.channel.isWritable()) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@code s} was woken for a read ({@link #wakeReadWaiter}) and its pump ended without asking
     * for one: its connection filled up meanwhile, it was midway through writing an object, it
     * caught up or it closed. The wake-up goes to the next waiter, which would otherwise wait for
     * the next release or tick (up to a second) with room free. No circling: a woken stream left
     * the queue, and comes back only by asking.
     */
    void passOnWakeUp(Subscription s) {
        synchronized (historyLock) {
            if (!s.wokenForRead) {
                return;
            }
            s.wokenForRead = false;
        }
        wakeReadWaiter();
    }

    /** Takes {@code s} off the read queue (it closed, or no longer replays history). */
    void leaveReadQueue(Subscription s) {
        if (s.queuedForRead) {
            synchronized (historyLock) {
                if (s.queuedForRead) {
                    s.queuedForRead = false;
                    readWaiters.remove(s);
                }
            }
        }
    }

    /** How many streams wait for a history read slot (tests). */
    int readWaiterCount() {
        synchronized (historyLock) {
            return readWaiters.size();
        }
    }

    /**
     * Wakes the first waiting stream that can use a read now. One whose connection takes nothing
     * at the moment keeps its place: woken, it would ask for nothing (it reads only while
     * writable) and the room would wait for its client while streams behind it could read; it
     * asks again once its connection is writable (or at its next tick).
     */
    private void wakeReadWaiter() {
        Subscription w = null;
        synchronized (historyLock) {
            for (java.util.Iterator<Subscription> it = readWaiters.iterator(); it.hasNext(); ) {
                Subscription s = it.next();
                if (s.channel.isWritable()) {
                    it.remove();
                    w = s;
                    break;
                }
            }
            if (w != null) {
                w.queuedForRead = false;
                w.wokenForRead = true;
            }
        }
        if (w != null) {
            try {
                w.channel.eventLoop().execute(w::pumpWoken);
            } catch (java.util.concurrent.RejectedExecutionException stopped) {
                // its event loop is gone
            }
        }
    }

    public EventCache cache() {
        return cache;
    }

    /** The oldest version a subscriber can still be sent (the first version of the oldest log object). */
    public long oldestVersion() {
        return Math.max(0, index.oldest());
    }

    /** The default {@code after}: the latest committed version. */
    public long latestVersion() {
        return cache.durableVersion();
    }

    /**
     * Checks whether a subscription from {@code after} can start; null if it can, in which case a
     * slot under {@code max_subscribers} is reserved for it (atomically, so simultaneous requests
     * cannot overshoot): follow with {@link #open}, or {@link #cancel} if the stream never starts.
     */
    public Refusal admit(long after) {
        if (endedReason != null) {
            return new Refusal.NotLeading();
        }
        synchronized (admission) {
            // Under the lock truncation publishes a new oldest version in (excludingAdmissions):
            // either this check sees it, or truncation sees this reservation.
            long oldest = oldestVersion();
            if (after < oldest - 1) {
                return new Refusal.Truncated(oldest);
            }
            if (count.incrementAndGet() > settings.maxSubscribers()) {
                count.decrementAndGet();
                return new Refusal.TooMany(settings.maxSubscribers());
            }
            reserved.merge(after, 1, Integer::sum);
        }
        return null;
    }

    /** Releases a slot reserved by {@link #admit} from {@code after} for a stream that never started. */
    public void cancel(long after) {
        unreserve(after);
        count.decrementAndGet();
    }

    private void unreserve(long after) {
        synchronized (admission) {
            reserved.computeIfPresent(after, (k, n) -> n == 1 ? null : n - 1);
        }
    }

    /** Runs {@code publish} with no subscription admitted meanwhile (see SubscriberFloor). */
    public void excludingAdmissions(Runnable publish) {
        synchronized (admission) {
            publish.run();
        }
    }

    /** Starts streaming on {@code channel} in the slot {@link #admit} reserved; on its event loop, once the 200 head is written. */
    public Subscription open(Channel channel, long after, boolean durable, String leaderId) {
        metrics.connected.incrementAndGet();
        Subscription s = new Subscription(this, channel, after, durable, leaderId);
        all.add(s);
        unreserve(after); // after it is in all: minCursor never misses it
        LoopSubscribers l = loops.computeIfAbsent(channel.eventLoop(), LoopSubscribers::new);
        l.add(s);
        if (endedReason != null) {
            s.end("leader_changed");
        } else {
            s.pump();
        }
        return s;
    }

    void closed(Subscription s) {
        leaveReadQueue(s); // a woken stream that is gone would take a freed slot's wake-up
        passOnWakeUp(s); // and one woken already would spend it
        holdAfterClose(s); // before it leaves `all`: minCursor reads `all` first, then the holds
        all.remove(s);
        count.decrementAndGet();
        metrics.connected.decrementAndGet();
        LoopSubscribers l = loops.get(s.channel.eventLoop());
        if (l != null) {
            l.remove(s);
        }
    }

    /**
     * The lowest cursor among connected subscribers and those admitted but not yet streaming
     * (every version above it is still to be sent to someone), or Long.MAX_VALUE with none:
     * truncation never deletes past it.
     */
    public long minCursor() {
        long min;
        synchronized (admission) {
            min = reserved.isEmpty() ? Long.MAX_VALUE : reserved.firstKey();
        }
        for (Subscription s : all) {
            min = Math.min(min, s.publishedCursor());
        }
        // after `all`: a stream that leaves it meanwhile has put its hold here first
        return Math.min(min, recentHolds());
    }

    /**
     * A stream that ended (the client went away, or was cut as slow) keeps its hold on the log
     * until {@link Subscription#FLOOR_SETTLE_NANOS} after its connection has closed (a stream
     * cut as slow closes once the server's buffer for it has drained, or is closed after
     * {@link Subscription#CLOSE_GRACE_NANOS}), so a client that
     * reconnects at once, as the contract tells it to, finds what it had not received yet. At
     * most max_subscribers holds; past that the oldest goes first.
     */
    private void holdAfterClose(Subscription s) {
        // {floor, until}: until 15 s after the close, or the close's own bound if it never comes
        long[] hold = {s.publishedCursor(), clock.nanoTime() + Subscription.CLOSE_GRACE_NANOS + Subscription.FLOOR_SETTLE_NANOS};
        synchronized (holds) {
            if (holds.size() >= Math.max(1, settings.maxSubscribers())) {
                holds.pollFirst();
            }
            holds.addLast(hold);
        }
        s.channel.closeFuture().addListener(f -> {
            synchronized (holds) {
                hold[1] = clock.nanoTime() + Subscription.FLOOR_SETTLE_NANOS;
            }
        });
    }

    /** The lowest floor among recently ended streams, dropping expired holds; Long.MAX_VALUE with none. */
    private long recentHolds() {
        long now = clock.nanoTime();
        long min = Long.MAX_VALUE;
        synchronized (holds) {
            holds.removeIf(h -> now - h[1] >= 0);
            for (long[] h : holds) {
                min = Math.min(min, h[0]);
            }
        }
        return min;
    }

    public int count() {
        return count.get();
    }

    /** New data: wake every loop with subscribers (at most one pending task per loop). */
    public void notifyLoops() {
        for (LoopSubscribers l : loops.values()) {
            l.schedule();
        }
    }

    /** Ends every stream (leadership lost or shutdown); new subscriptions are refused. */
    public void endAll(String reason) {
        if (endedReason != null) {
            return;
        }
        endedReason = reason;
        for (LoopSubscribers l : loops.values()) {
            try {
                l.loop.execute(() -> {
                    for (Subscription s : l.snapshot()) {
                        s.end(reason.startsWith("shutdown") ? "shutdown" : "leader_changed");
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException stopped) {
                // the event loop is already shut down: its connections are closed
            }
        }
    }

    /** The subscriptions of one event loop; the list is touched only on that loop. */
    private final class LoopSubscribers {
        final EventLoop loop;
        final AtomicBoolean scheduled = new AtomicBoolean();
        final List<Subscription> subs = new ArrayList<>();
        private final Runnable pumpAll = this::pumpAll;
        /** The periodic tick; it cancels itself once the hub has ended and the loop's streams are gone. */
        private final io.netty.util.concurrent.ScheduledFuture<?> ticks;

        LoopSubscribers(EventLoop loop) {
            this.loop = loop;
            long tick = settings.tickNanos();
            ticks = loop.scheduleAtFixedRate(this::tick, tick, tick, TimeUnit.NANOSECONDS);
        }

        /** subs.size(), for the publisher's thread (the list itself is this loop's alone). */
        private volatile int live;

        void add(Subscription s) {
            subs.add(s);
            live = subs.size();
        }

        void remove(Subscription s) {
            subs.remove(s);
            live = subs.size();
        }

        List<Subscription> snapshot() {
            return new ArrayList<>(subs);
        }

        void schedule() {
            if (live > 0 && scheduled.compareAndSet(false, true)) {
                loop.execute(pumpAll);
            }
        }

        private void pumpAll() {
            scheduled.set(false);
            for (int i = subs.size() - 1; i >= 0; i--) {
                if (i < subs.size()) {
                    Subscription s = subs.get(i);
                    try {
                        s.pump();
                    } catch (RuntimeException e) {
                        failed(s, e);
                    }
                }
            }
        }

        private void tick() {
            if (endedReason != null && subs.isEmpty()) {
                // The term is over: the event loop outlives it, and a tick left scheduled there
                // would keep this hub (and its event cache) reachable for good.
                ticks.cancel(false);
                loops.remove(loop, this);
                return;
            }
            // Never lets an exception escape: a periodic task that throws is cancelled for good,
            // which would leave every stream on this loop without keepalives or lag checks.
            long now = clock.nanoTime();
            for (Subscription s : snapshot()) {
                try {
                    s.tick(now);
                } catch (RuntimeException e) {
                    failed(s, e);
                }
            }
        }

        private void failed(Subscription s, RuntimeException e) {
            log.error("subscriber stream failed ({}): ending it", s.describe(), e);
            try {
                s.end("error");
            } catch (RuntimeException again) {
                log.error("could not end a failed subscriber stream", again);
            }
        }
    }
}
