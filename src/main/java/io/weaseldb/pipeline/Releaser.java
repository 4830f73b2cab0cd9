package io.weaseldb.pipeline;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.jctools.queues.atomic.SpscAtomicArrayQueue;

/**
 * Stage 3: release. Turns decided items into outcomes and hands them back to each connection's
 * own event loop, one task per event loop per batch (not one per response), so a batch of a
 * thousand commits costs each event loop one wake-up.
 *
 * <p>Owned by its runner thread; the persister {@link #offer}s.
 */
public final class Releaser implements Stage {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Releaser.class);
    /** Batches kept for one event loop while the ones before are still queued there; more are made and dropped. */
    private static final int POOLED_PER_LOOP = 4;
    /**
     * Event loops remembered; past this, those with nothing this round are forgotten. At least
     * {@code [server] io_threads}' maximum (256), so a server's own loops are never forgotten.
     */
    private static final int MAX_LOOPS = 256;

    private final SpscAtomicArrayQueue<Release> input;
    private final WakeSignal signal = new WakeSignal();
    /** Every event loop seen, in first-seen order (a handful: a linear search beats hashing). */
    private final List<Loop> loops = new ArrayList<>();

    /** One event loop: its batch being filled this round, and its batches to fill again. */
    private static final class Loop {
        final Executor executor;
        final LoopBatch[] pool = new LoopBatch[POOLED_PER_LOOP];
        LoopBatch filling;

        Loop(Executor executor) {
            this.executor = executor;
        }

        /** A batch the event loop has run and emptied, or a new one (pooled while there is room). */
        LoopBatch take() {
            for (int i = 0; i < pool.length; i++) {
                LoopBatch b = pool[i];
                if (b == null) {
                    return pool[i] = new LoopBatch(true);
                }
                if (b.free) {
                    b.free = false;
                    return b;
                }
            }
            return new LoopBatch(false);
        }
    }

    /**
     * One event loop's share of a round: completed there, in order, by one task. A pooled batch
     * goes back to the releaser when its task has run: {@link #free} is written last by the event
     * loop and read first by the releaser, so the emptied lists are seen before the batch is
     * filled again.
     */
    private static final class LoopBatch implements Runnable {
        List<Completion> completions = new ArrayList<>();
        List<Outcome> outcomes = new ArrayList<>();
        final boolean pooled;
        volatile boolean free;

        LoopBatch(boolean pooled) {
            this.pooled = pooled;
        }

        @Override
        public void run() {
            try {
                for (int i = 0; i < completions.size(); i++) {
                    try {
                        completions.get(i).complete(outcomes.get(i));
                    } catch (RuntimeException e) {
                        // a bug in answering one request must not leave the rest of the batch unanswered
                        log.error("answering a request failed; this is a bug", e);
                    }
                }
            } finally {
                empty();
            }
        }

        /** Drops what was released (lists grown by a burst are not kept), then goes back to the pool. */
        void empty() {
            if (completions.size() > 4096) {
                completions = new ArrayList<>();
                outcomes = new ArrayList<>();
            } else {
                completions.clear();
                outcomes.clear();
            }
            if (pooled) {
                free = true;
            }
        }
    }

    public Releaser(int capacity) {
        this.input = new SpscAtomicArrayQueue<>(capacity);
    }

    public WakeSignal signal() {
        return signal;
    }

    boolean hasRoom() {
        return room() > 0;
    }

    /** Releases that can be offered now; persister thread (the only producer: it can only grow meanwhile). */
    int room() {
        return input.capacity() - 1 - input.size();
    }

    /** Persister thread. Never fails: the persister checks {@link #hasRoom} first. */
    void offer(Release r) {
        if (!input.offer(r)) {
            throw new IllegalStateException("releaser queue overflow");
        }
        signal.wake();
    }

    /**
     * After the runner stopped (the caller is now this stage's only thread): releases what is
     * queued, then {@code last}.
     */
    void releaseAfterStop(Release last) {
        while (doWork(0) > 0) {
            // what the persister handed over before it stopped
        }
        if (!last.items().isEmpty()) {
            offer(last);
            while (doWork(0) > 0) {
                // a Release is taken whole
            }
        }
    }

    public int queueSize() {
        return input.size();
    }

    @Override
    public String name() {
        return "releaser";
    }

    @Override
    public long nextDeadlineNanos() {
        return Long.MAX_VALUE;
    }

    @Override
    public int doWork(long nowNanos) {
        int n = 0;
        Release r;
        while (n < 256 && (r = input.poll()) != null) {
            n++;
            for (Sequenced item : r.items()) {
                Completion c;
                Outcome o;
                switch (item) {
                    case Sequenced.Txn t -> {
                        c = t.completion();
                        o = r.failure() == null
                                ? new Outcome.Committed(t.txn().version(), r.leaderId(), t.txn().requestId(), false)
                                : r.failure().withRequestId(t.txn().requestId());
                    }
                    case Sequenced.Reply reply -> {
                        c = reply.completion();
                        o = reply.needsDurability() && r.failure() != null
                                ? failedReply(reply.outcome(), r.failure())
                                : reply.outcome();
                    }
                    case Sequenced.Ban ban -> {
                        c = ban.completion();
                        o = r.failure() != null ? r.failure().withRequestId(ban.requestId()) : ban.outcome();
                    }
                    case Sequenced.Marker m -> {
                        c = null;
                        o = null;
                    }
                }
                if (c == null) {
                    continue;
                }
                LoopBatch b = filling(c.executor());
                b.completions.add(c);
                b.outcomes.add(o);
            }
        }
        for (int i = 0; i < loops.size(); i++) {
            Loop loop = loops.get(i);
            LoopBatch b = loop.filling;
            if (b != null) {
                loop.filling = null;
                try {
                    loop.executor.execute(b);
                } catch (RejectedExecutionException shuttingDown) {
                    // the event loop is gone (shutdown): its connections are closed anyway. A
                    // rejected task was not queued (Netty's loops and the JDK's executors refuse
                    // before queuing), so the batch is free to be filled again.
                    b.empty();
                }
            }
        }
        return n;
    }

    /**
     * The answer of a reply whose batch failed. What it reported is not durable, so it becomes the
     * batch's failure; but a conflict was judged against writes sequenced before it, some of which
     * may now never be stored (a deposed leader's, or a batch that outlived the retry budget). Its
     * commit was certainly not applied, and whether a precondition really failed is not known:
     * 503 not_committed, not 409. A too_old or leader_changed refusal names the latest version
     * sequenced as the one to retry from, which may now never be stored: likewise 503 not_committed.
     */
    static Outcome failedReply(Outcome reported, Outcome.Unavailable failure) {
        if (reported instanceof Outcome.Conflict c) {
            return new Outcome.Unavailable("the commit was not applied: its preconditions conflicted with writes that "
                    + "may not be stored (" + failure.message() + "); retry it", false, failure.retryAfterSeconds(),
                    failure.leaderId(), c.requestId(), failure.leaderUrl());
        }
        if (reported instanceof Outcome.TooOld || reported instanceof Outcome.LeaderChanged) {
            // refused before it took a version: certainly not applied, whatever became of the batch
            return new Outcome.Unavailable("the commit was not applied (" + failure.message() + "); retry it", false,
                    failure.retryAfterSeconds(), failure.leaderId(), Outcome.requestIdOf(reported), failure.leaderUrl());
        }
        return failure.withRequestId(Outcome.requestIdOf(reported));
    }

    /** This round's batch for {@code executor}'s connections. */
    private LoopBatch filling(Executor executor) {
        Loop loop = null;
        for (int i = 0; i < loops.size(); i++) {
            if (loops.get(i).executor == executor) {
                loop = loops.get(i);
                break;
            }
        }
        if (loop == null) {
            if (loops.size() >= MAX_LOOPS) {
                loops.removeIf(l -> l.filling == null);
            }
            loop = new Loop(executor);
            loops.add(loop);
        }
        if (loop.filling == null) {
            loop.filling = loop.take();
        }
        return loop.filling;
    }
}
