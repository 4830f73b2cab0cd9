package io.weaseldb.pipeline;

import io.weaseldb.conflict.BTreeConflictSet;
import io.weaseldb.log.Batch;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.CorruptBatchException;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.Term;
import io.weaseldb.testing.ManualClock;
import io.weaseldb.testing.ManualObjectStore;
import io.weaseldb.testing.RecordingCompletion;
import io.weaseldb.time.IdSource;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Precondition;
import io.weaseldb.txn.Transaction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The three stages wired to a {@link ManualObjectStore} and a {@link ManualClock}, stepped by
 * the test on its own thread: no runner threads, no sleeps.
 */
final class PipelineHarness {
    final ManualClock clock = new ManualClock();
    final ManualObjectStore store = new ManualObjectStore();
    final LogLayout layout = new LogLayout("");
    final Releaser releaser = new Releaser(1024);
    final Persister persister;
    final Sequencer sequencer;
    final Term term;
    final List<BatchHeader> durable = new ArrayList<>();
    final List<Transaction> durableTxns = new ArrayList<>();
    final List<Transaction> sequenced = new ArrayList<>();
    String fencedReason;
    /** Whether the log listener (the publisher, in the server) takes more; a test may fill it. */
    volatile boolean listenerHasRoom = true;
    final RequestIdIndex requestIds;

    PipelineHarness(Persister.Settings settings, long conflictWindowMs, Term term) {
        this(settings, conflictWindowMs, term, 1_000_000);
    }

    PipelineHarness(Persister.Settings settings, long conflictWindowMs, Term term, long requestIdRetentionVersions) {
        this(settings, conflictWindowMs, term, requestIdRetentionVersions, Integer.MAX_VALUE);
    }

    /** @param maxUndurable the log listener's bound on transactions handed to it and not durable yet (the publisher's ring) */
    PipelineHarness(Persister.Settings settings, long conflictWindowMs, Term term, long requestIdRetentionVersions,
                    int maxUndurable) {
        this.term = term;
        Persister.LogListener listener = new Persister.LogListener() {
            @Override
            public boolean hasRoom() {
                return listenerHasRoom;
            }

            @Override
            public void sequenced(Transaction txn) {
                sequenced.add(txn);
            }

            @Override
            public void durable(BatchHeader header, List<Transaction> transactions) {
                durable.add(header);
                durableTxns.addAll(transactions);
            }

            @Override
            public void fenced(String reason) {
                fencedReason = reason;
            }

            @Override
            public int maxUndurableTransactions() {
                return maxUndurable;
            }
        };
        persister = new Persister(settings, store, layout, releaser, listener, Persister.Observer.NONE, clock,
                IdSource.seeded(7));
        sequencer = new Sequencer(new Sequencer.Settings(conflictWindowMs, 4096, 1), new BTreeConflictSet(), clock,
                IdSource.seeded(8), persister);
        persister.markerSource(sequencer::requestMarker);
        requestIds = new RequestIdIndex(1, 2, requestIdRetentionVersions, 3_600_000, term.startVersion(), clock.epochMillis());
        persister.lead(term);
        sequencer.lead(term, requestIds, new TermHistory());
    }

    PipelineHarness(Persister.Settings settings) {
        this(settings, 5_000, new Term(1, "leader-1", 0, -1));
    }

    static Persister.Settings settings(long batchTimeoutMs, long batchMaxBytes, int maxInFlight) {
        return new Persister.Settings(batchTimeoutMs, batchMaxBytes, maxInFlight, 10, 100, 1_000, 1, 4096, 0);
    }

    /** Runs every stage until none has work left. */
    void step() {
        for (int round = 0; round < 1000; round++) {
            long now = clock.nanoTime();
            int work = sequencer.doWork(now) + persister.doWork(now) + releaser.doWork(now);
            if (work == 0) {
                return;
            }
        }
        throw new AssertionError("pipeline did not go idle");
    }

    void advanceMillis(long ms) {
        clock.advanceMillis(ms);
        step();
    }

    RecordingCompletion commit(CommitRequest r) {
        RecordingCompletion c = new RecordingCompletion();
        if (!sequencer.offer(new SequencerMessage.Commit(r, c))) {
            throw new AssertionError("sequencer inbox full");
        }
        return c;
    }

    RecordingCompletion write(String key, String value) {
        return commit(request(List.of(), List.of(new Operation.Write(b(key), b(value))), CommitRequest.NO_READ_VERSION));
    }

    RecordingCompletion probe() {
        RecordingCompletion c = new RecordingCompletion();
        sequencer.offer(new SequencerMessage.Probe(c));
        return c;
    }

    static CommitRequest request(List<Precondition> pre, List<Operation> ops, long readVersion) {
        return new CommitRequest(null, null, readVersion, pre, ops, 0);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Every log object currently stored, decoded, in key order. */
    List<Batch> log() throws CorruptBatchException {
        List<Batch> out = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : store.objects().entrySet()) {
            out.add(BatchCodec.decode(e.getKey(), e.getValue()));
        }
        return out;
    }

    /** Storage answers every request 500 for {@code ms}, in 100 ms steps of the clock. */
    void failStorageFor(long ms) {
        for (long t = 0; t < ms; t += 100) {
            for (ManualObjectStore.Pending p : store.pending()) {
                store.takeFor(p.key).fail(500);
            }
            step();
            advanceMillis(100);
        }
    }

    /** Succeeds every pending storage request, repeatedly, until none is left. */
    void completeAll() {
        for (int i = 0; i < 1000; i++) {
            step();
            if (store.pendingCount() == 0) {
                return;
            }
            for (ManualObjectStore.Pending p : store.pending()) {
                store.takeFor(p.key).succeed();
            }
        }
        throw new AssertionError("storage did not go idle");
    }
}
