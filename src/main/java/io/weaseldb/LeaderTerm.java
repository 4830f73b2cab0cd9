package io.weaseldb;

import io.weaseldb.config.WeaselConfig;
import io.weaseldb.conflict.BTreeConflictSet;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.Term;
import io.weaseldb.metrics.PipelineMetrics;
import io.weaseldb.pipeline.Persister;
import io.weaseldb.pipeline.Releaser;
import io.weaseldb.pipeline.RequestIdIndex;
import io.weaseldb.pipeline.Sequencer;
import io.weaseldb.pipeline.StageRunner;
import io.weaseldb.pipeline.TermHistory;
import io.weaseldb.retention.RetentionManager;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.subscribe.EventCache;
import io.weaseldb.subscribe.Publisher;
import io.weaseldb.subscribe.SubscribeMetrics;
import io.weaseldb.subscribe.SubscriberHub;
import io.weaseldb.time.Clock;
import io.weaseldb.time.IdSource;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything that exists only while this server leads one term: the pipeline stages and their
 * threads, the subscriber cache and hub, and the retention manager. A server that loses the log
 * closes its term and becomes a standby; one that takes over builds a new term.
 */
final class LeaderTerm implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LeaderTerm.class);

    /** What a term borrows from its server. */
    record Context(WeaselConfig config, Clock clock, IdSource ids, ObjectStore store, LogLayout layout,
                   PipelineMetrics pipelineMetrics, SubscribeMetrics subscribeMetrics,
                   io.micrometer.core.instrument.MeterRegistry registry, ExecutorService history,
                   java.util.concurrent.Executor blocking, Runnable fatal) {}

    final Term term;
    final LogIndex index;
    final Sequencer sequencer;
    final Persister persister;
    final Releaser releaser;
    final Publisher publisher;
    final EventCache cache;
    final SubscriberHub hub;
    final RetentionManager retention;
    final LeadershipCheck leadership;
    private final StageRunner[] runners;
    private final Context ctx;

    /**
     * @param claimNanos when the claim of {@code term} was sent (clock.nanoTime): the lease of a
     *                   term that has acknowledged nothing yet counts from it
     */
    LeaderTerm(Context ctx, Term term, LogIndex index, RequestIdIndex requestIds, TermHistory terms, long claimNanos) {
        this.ctx = ctx;
        this.term = term;
        this.index = index;
        WeaselConfig config = ctx.config();
        var p = config.persistence();
        var sub = config.subscription();
        int retryAfter = 1;
        releaser = new Releaser(1024);
        cache = new EventCache(sub.memoryWindowBytes(), 1 << 16, term.startVersion());
        // History replays share S3 connections with log writes: they may take at most half of
        // what the writes leave, so a commit never queues behind them for a connection.
        int historyReads = Math.max(1, Math.min(64, (config.s3().maxConnections() - p.maxInFlightPuts()) / 2));
        hub = new SubscriberHub(new SubscriberHub.Settings(sub.maxSubscribers(), sub.maxBufferSizeBytes(),
                TimeUnit.SECONDS.toNanos(sub.keepaliveIntervalSeconds()), sub.historyReadAheadBatches(), historyReads,
                SubscriberHub.Settings.DEFAULT_IN_FLIGHT_BYTES, sub.historyMemoryBytes()),
                cache, index, ctx.store(), ctx.layout(), ctx.history(), ctx.subscribeMetrics(), ctx.clock());
        publisher = new Publisher(1 << 16, cache, index, hub, term.leaderId());
        persister = new Persister(new Persister.Settings(p.batchTimeoutMs(), p.batchMaxBytes(), p.maxInFlightPuts(),
                p.retryInitialBackoffMs(), p.retryMaxBackoffMs(), p.retryBudgetMs(), retryAfter,
                Math.max(1024, config.commit().maxPendingCommits()), p.leaderHeartbeatMs()),
                ctx.store(), ctx.layout(), releaser, publisher, ctx.pipelineMetrics(), ctx.clock(), ctx.ids());
        sequencer = new Sequencer(new Sequencer.Settings(config.commit().conflictWindowMs(),
                config.commit().maxPendingCommits(), retryAfter),
                new BTreeConflictSet(), ctx.clock(), ctx.ids(), persister);
        persister.markerSource(sequencer::requestMarker);
        leadership = new LeadershipCheck(persister, term, ctx.store(), ctx.layout(), ctx.clock(), ctx.blocking(),
                p.leaderTimeoutMs(), config.s3().requestTimeoutMs() * 3, config.s3().embedded());
        if (!config.s3().embedded()) {
            // other servers write this storage: past the lease, look before acknowledging
            persister.confirmLeadershipWith(LeadershipCheck.leaseNanos(p.leaderTimeoutMs()), claimNanos,
                    leadership::confirm);
        }
        persister.lead(term);
        sequencer.lead(term, requestIds, terms);
        retention = new RetentionManager(new RetentionManager.Settings(config.retention().truncateIntervalSeconds(),
                config.retention().maxDeletesPerRequest(), config.s3().requestTimeoutMs() * 3), ctx.store(), ctx.layout(),
                index, ctx.clock(), persister::durableVersion, io.weaseldb.retention.SubscriberFloor.of(hub),
                sequencer::requestIdHorizon, ctx.registry());
        long lookTimeoutMs = config.s3().requestTimeoutMs() * 3;
        retention.leadership(() -> persister.leading() && leadership.confirmBlocking(lookTimeoutMs));
        runners = new StageRunner[] {
            new StageRunner(publisher, publisher.signal(), ctx.clock(), ctx.fatal()),
            new StageRunner(releaser, releaser.signal(), ctx.clock(), ctx.fatal()),
            new StageRunner(persister, persister.signal(), ctx.clock(), ctx.fatal()),
            new StageRunner(sequencer, sequencer.signal(), ctx.clock(), ctx.fatal()),
        };
    }

    void start() throws java.io.IOException {
        for (StageRunner r : runners) {
            r.start();
        }
        retention.start();
        if (!ctx.config().s3().embedded()) {
            // a leader replaced while paused or cut off may still land writes inside this term's
            // versions; an in-process fake S3 has no other writer
            retention.sweepOrphansFrom(term.term(), term.startVersion(), ctx.config().persistence().leaderTimeoutMs());
        }
    }

    /** False once the persister found another leader's object in the log. */
    boolean leading() {
        return persister.leading();
    }

    /** Waits (bounded) until the stages hold nothing: queued requests have been answered. */
    void drain(long timeoutMs) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (System.nanoTime() < deadline && (sequencer.inboxSize() > 0 || persister.inputSize() > 0
                || persister.inFlightCount() > 0 || releaser.queueSize() > 0)) {
            try {
                Thread.sleep(10); // shutdown and step-down only: the stages finish what they hold
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Ends the term cleanly: the sequencer stops and the last object written is a term-end
     * marker, so a successor takes over at once instead of waiting out the leader timeout.
     * Returns whether the marker became durable in time.
     */
    boolean retire(long timeoutMs) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!sequencer.retire()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.onSpinWait();
        }
        while (!persister.retired()) {
            if (System.nanoTime() > deadline || !persister.storageHealthy() && !persister.leading()) {
                return false;
            }
            try {
                Thread.sleep(5); // shutdown only
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    @Override
    public void close() {
        hub.endAll(leading() ? "shutdown" : "leader_changed");
        retention.close();
        boolean stopped = true;
        for (int i = runners.length - 1; i >= 0; i--) {
            stopped &= runners[i].stop();
        }
        if (stopped) {
            // Nothing runs the stages now: answer what they still hold, and whatever an event loop
            // offers the sequencer after this (it read this term as current just before it ended).
            sequencer.closeInbox();
            persister.answerAbandoned();
        } else {
            log.error("term {}: a stage thread did not stop within 5 s; requests it holds stay unanswered", term.term());
        }
        log.info("term {} ({}) closed", term.term(), term.leaderId());
    }
}
