package io.weaseldb.subscribe;

import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.LogIndex;
import io.weaseldb.pipeline.Persister;
import io.weaseldb.pipeline.Stage;
import io.weaseldb.pipeline.WakeSignal;
import io.weaseldb.txn.Transaction;
import java.util.ArrayList;
import java.util.List;
import org.jctools.queues.atomic.SpscAtomicArrayQueue;

/**
 * Fan-out stage: turns the persister's view of the log into encoded SSE chunks in the shared
 * {@link EventCache}, records durable objects in the {@link LogIndex}, and wakes each event loop
 * that has subscribers once per step. Encoding happens here, once per transaction, off the
 * sequencer's and persister's threads.
 *
 * <p>Owned by its runner thread; the persister calls the {@link Persister.LogListener} methods.
 */
public final class Publisher implements Stage, Persister.LogListener {
    private record Durable(long firstVersion, long lastVersion) {}

    private record Fenced(String reason) {}

    private final SpscAtomicArrayQueue<Object> input;
    private final WakeSignal signal = new WakeSignal();
    private final EventCache cache;
    private final LogIndex index;
    private final SubscriberHub hub;
    private final SseEncoder encoder = new SseEncoder();
    private final String leaderId;
    private final ArrayList<Transaction> pending = new ArrayList<>();
    private int[] offsets = new int[1025];

    public Publisher(int capacity, EventCache cache, LogIndex index, SubscriberHub hub, String leaderId) {
        this.input = new SpscAtomicArrayQueue<>(capacity);
        this.cache = cache;
        this.index = index;
        this.hub = hub;
        this.leaderId = leaderId;
    }

    public WakeSignal signal() {
        return signal;
    }

    public int queueSize() {
        return input.size();
    }

    // ---- persister thread ----

    @Override
    public boolean hasRoom() {
        return input.size() < input.capacity() - 1;
    }

    /** Each transaction may become a chunk of its own: the cache's ring must hold every non-durable one. */
    @Override
    public int maxUndurableTransactions() {
        return cache.maxChunks() - 1;
    }

    @Override
    public void sequenced(Transaction txn) {
        offer(txn);
    }

    @Override
    public void durable(BatchHeader header, List<Transaction> transactions) {
        offer(new Durable(header.firstVersion(), header.lastVersion()));
    }

    @Override
    public void fenced(String reason) {
        offer(new Fenced(reason));
    }

    private void offer(Object o) {
        if (!input.offer(o)) {
            throw new IllegalStateException("publisher queue overflow: the persister must check hasRoom()");
        }
        signal.wake();
    }

    // ---- the stage ----

    @Override
    public String name() {
        return "publisher";
    }

    @Override
    public long nextDeadlineNanos() {
        return Long.MAX_VALUE;
    }

    @Override
    public int doWork(long nowNanos) {
        int n = 0;
        while (n < 4096) {
            Object o = input.peek();
            if (o == null) {
                break;
            }
            if (o instanceof Transaction t) {
                if (!pending.isEmpty() && t.version() != pending.get(pending.size() - 1).version() + 1) {
                    flush(); // chunks hold consecutive versions; a marker sits in the gap
                }
                if (pending.isEmpty() && !cache.canAppend()) {
                    // The persister hands over fewer non-durable transactions than the ring holds
                    // (maxUndurableTransactions), so this is a bug: the Durable that would free the
                    // ring sits behind this transaction in the queue, and waiting would wedge the
                    // pipeline for good. Fail the stage (the server exits) instead.
                    throw new IllegalStateException("event cache ring full of non-durable chunks at version "
                            + t.version());
                }
                pending.add(t);
                if (pending.size() == 1024) {
                    flush();
                }
            } else {
                flush();
                if (o instanceof Durable d) {
                    index.add(d.firstVersion());
                    cache.durable(d.lastVersion());
                } else if (o instanceof Fenced f) {
                    hub.endAll("this server lost leadership of the log: " + f.reason());
                }
            }
            input.poll();
            n++;
        }
        flush();
        if (n > 0) {
            hub.notifyLoops();
        }
        return n;
    }

    private void flush() {
        if (pending.isEmpty()) {
            return;
        }
        if (offsets.length < pending.size() + 1) {
            offsets = new int[pending.size() + 1];
        }
        byte[] data = encoder.encode(pending, leaderId, offsets);
        int[] own = java.util.Arrays.copyOf(offsets, pending.size() + 1);
        cache.append(pending.get(0).version(), pending.get(pending.size() - 1).version(), data, own);
        pending.clear();
    }
}
