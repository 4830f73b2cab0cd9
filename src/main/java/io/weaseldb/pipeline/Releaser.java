package io.weaseldb.pipeline;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
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
    private final SpscAtomicArrayQueue<Release> input;
    private final WakeSignal signal = new WakeSignal();
    private final Map<Executor, LoopBatch> byLoop = new IdentityHashMap<>();

    /** One event loop's share of a round: completed there, in order, by one task. */
    private static final class LoopBatch implements Runnable {
        final List<Completion> completions = new ArrayList<>();
        final List<Outcome> outcomes = new ArrayList<>();

        @Override
        public void run() {
            for (int i = 0; i < completions.size(); i++) {
                completions.get(i).complete(outcomes.get(i));
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
        return input.size() < input.capacity() - 1;
    }

    /** Persister thread. Never fails: the persister checks {@link #hasRoom} first. */
    void offer(Release r) {
        if (!input.offer(r)) {
            throw new IllegalStateException("releaser queue overflow");
        }
        signal.wake();
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
                                ? r.failure().withRequestId(Outcome.requestIdOf(reply.outcome()))
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
                LoopBatch b = byLoop.computeIfAbsent(c.executor(), k -> new LoopBatch());
                b.completions.add(c);
                b.outcomes.add(o);
            }
        }
        if (!byLoop.isEmpty()) {
            for (Map.Entry<Executor, LoopBatch> e : byLoop.entrySet()) {
                try {
                    e.getKey().execute(e.getValue());
                } catch (RejectedExecutionException shuttingDown) {
                    // the event loop is gone (shutdown): its connections are closed anyway
                }
            }
            byLoop.clear();
        }
        return n;
    }

}
