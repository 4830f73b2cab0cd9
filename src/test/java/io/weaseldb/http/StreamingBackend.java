package io.weaseldb.http;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Outcome;
import io.weaseldb.retention.RetentionManager;
import io.weaseldb.subscribe.EventCache;
import io.weaseldb.subscribe.SubscribeMetrics;
import io.weaseldb.subscribe.SubscriberHub;
import io.weaseldb.testing.ManualClock;
import io.weaseldb.testing.ManualObjectStore;
import io.weaseldb.txn.CommitRequest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * {@link HttpServerTest.HeldBackend} (commits held until the test releases them), with a real
 * subscriber hub (10 subscribers at most) and a real retention manager on in-memory storage: for
 * tests of the connection pipeline that need streams or retention requests.
 */
final class StreamingBackend implements Backend {
    final HttpServerTest.HeldBackend held = new HttpServerTest.HeldBackend();
    final SubscriberHub hub;
    final RetentionManager retention = new RetentionManager(new RetentionManager.Settings(3600, 2, 5_000),
            new ManualObjectStore().auto(true), new LogLayout(""), new LogIndex(), new ManualClock(), () -> 99,
            () -> Long.MAX_VALUE, () -> Long.MAX_VALUE, new SimpleMeterRegistry());

    StreamingBackend(MeterRegistry registry) {
        hub = new SubscriberHub(new SubscriberHub.Settings(10, Long.MAX_VALUE, TimeUnit.SECONDS.toNanos(1), 2, 4),
                new EventCache(1 << 20, 64, 0), new LogIndex(), new ManualObjectStore().auto(true), new LogLayout(""),
                Runnable::run, new SubscribeMetrics(registry), new ManualClock());
    }

    @Override public boolean submitCommit(CommitRequest r, Completion c) { return held.submitCommit(r, c); }
    @Override public boolean submitStatus(String id, long v, Completion c) { return held.submitStatus(id, v, c); }
    @Override public boolean submitProbe(Completion c) { return held.submitProbe(c); }
    @Override public VersionInfo leaderInfo() { return held.leaderInfo(); }
    @Override public CompletableFuture<VersionInfo> version() { return held.version(); }
    @Override public Outcome.Unavailable notLeader(String id) { return held.notLeader(id); }
    @Override public SubscriberHub subscribers() { return hub; }
    @Override public RetentionManager retention() { return retention; }
    @Override public String scrapeMetrics() { return held.scrapeMetrics(); }
    @Override public Executor metricsExecutor() { return held.metricsExecutor(); }
}
