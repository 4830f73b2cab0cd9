package io.weaseldb;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.conflict.ConflictSet;
import io.weaseldb.http.Backend;
import io.weaseldb.http.HttpMetrics;
import io.weaseldb.http.HttpServer;
import io.weaseldb.http.HttpSettings;
import io.weaseldb.log.CorruptBatchException;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.LogRecovery;
import io.weaseldb.log.Term;
import io.weaseldb.metrics.Metrics;
import io.weaseldb.metrics.PipelineMetrics;
import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Persister;
import io.weaseldb.pipeline.Releaser;
import io.weaseldb.pipeline.RequestIdIndex;
import io.weaseldb.pipeline.RequestIdRecovery;
import io.weaseldb.pipeline.TermHistory;
import io.weaseldb.pipeline.Sequencer;
import io.weaseldb.pipeline.SequencerMessage;
import io.weaseldb.pipeline.StageRunner;
import io.weaseldb.retention.RetentionManager;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.SdkObjectStore;
import io.weaseldb.subscribe.EventCache;
import io.weaseldb.subscribe.Publisher;
import io.weaseldb.subscribe.SubscribeMetrics;
import io.weaseldb.subscribe.SubscriberHub;
import io.weaseldb.time.Clock;
import io.weaseldb.time.IdSource;
import io.weaseldb.txn.CommitRequest;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires a WeaselDB server from its configuration: storage, log recovery and the term claim, the
 * three pipeline stages on their own threads, and the HTTP listener. Plain constructor wiring;
 * clock and id source are parameters so tests can control them.
 */
public final class WeaselServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WeaselServer.class);

    private final WeaselConfig config;
    private final Clock clock;
    private final IdSource ids;
    private final Metrics metrics = new Metrics();
    private final ExecutorService blocking;
    private EmbeddedS3 embeddedS3;
    private ObjectStore store;
    private Sequencer sequencer;
    private Persister persister;
    private StageRunner sequencerRunner;
    private StageRunner persisterRunner;
    private StageRunner releaserRunner;
    private StageRunner publisherRunner;
    private SubscriberHub hub;
    private RetentionManager retention;
    private final ExecutorService history;
    private HttpServer http;
    private Term term;
    private volatile boolean closed;

    public WeaselServer(WeaselConfig config, Clock clock, IdSource ids) {
        this.config = config;
        this.clock = clock;
        this.ids = ids;
        this.blocking = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "weaseldb-blocking");
            t.setDaemon(true);
            return t;
        });
        // Decodes log objects read from S3 for subscribers replaying history (CPU work kept off
        // the event loops). Bounded by the hub's limit on history reads in flight.
        this.history = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "weaseldb-history");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts everything; returns when the server accepts commits. */
    public void start() throws Exception {
        MeterRegistry registry = metrics.registry();
        WeaselConfig.S3 s3 = config.s3();
        URI endpoint;
        if (s3.embedded()) {
            embeddedS3 = EmbeddedS3.start(s3);
            endpoint = embeddedS3.endpoint();
            log.info("storage: embedded fake S3 at {} storing under {} (fsync {})", endpoint,
                    s3.dataDir().toAbsolutePath().normalize(), s3.fsync() ? "on" : "off");
        } else {
            endpoint = URI.create(s3.endpoint());
            log.info("storage: S3 endpoint {} bucket {} prefix \"{}\"", endpoint, s3.bucket(), s3.prefix());
        }
        String accessKey = s3.embedded() ? EmbeddedS3.ACCESS_KEY : s3.accessKeyId();
        String secretKey = s3.embedded() ? EmbeddedS3.SECRET_KEY : s3.secretAccessKey();
        store = new SdkObjectStore(new SdkObjectStore.Settings(endpoint, s3.region(), s3.bucket(), accessKey, secretKey,
                Duration.ofMillis(s3.requestTimeoutMs()), s3.maxConnections()), registry);
        store.ensureBucket(s3.createBucket()).get(s3.requestTimeoutMs() * 3, TimeUnit.MILLISECONDS);

        LogLayout layout = new LogLayout(s3.prefix());
        LogIndex index = new LogIndex();
        term = claimTerm(layout, index);

        var p = config.persistence();
        int retryAfter = 1;
        Releaser releaser = new Releaser(1024);
        var sub = config.subscription();
        EventCache cache = new EventCache(sub.memoryWindowBytes(), 1 << 16, term.startVersion());
        SubscribeMetrics subscribeMetrics = new SubscribeMetrics(registry);
        subscribeMetrics.cacheGauge(cache, EventCache::retainedBytesApprox);
        hub = new SubscriberHub(new SubscriberHub.Settings(sub.maxSubscribers(), sub.maxBufferSizeBytes(),
                TimeUnit.SECONDS.toNanos(sub.keepaliveIntervalSeconds()), sub.historyReadAheadBatches(), 64),
                cache, index, store, layout, history, subscribeMetrics, clock);
        Publisher publisher = new Publisher(1 << 16, cache, index, hub, term.leaderId());
        persister = new Persister(new Persister.Settings(p.batchTimeoutMs(), p.batchMaxBytes(), p.maxInFlightPuts(),
                p.retryInitialBackoffMs(), p.retryMaxBackoffMs(), p.retryBudgetMs(), retryAfter,
                Math.max(1024, config.commit().maxPendingCommits()), p.leaderHeartbeatMs()),
                store, layout, releaser, publisher, new PipelineMetrics(registry), clock, ids);
        sequencer = new Sequencer(new Sequencer.Settings(config.commit().conflictWindowMs(),
                config.commit().maxPendingCommits(), retryAfter),
                new ConflictSet(), clock, ids, persister);
        persister.markerSource(sequencer::requestMarker);
        RequestIdIndex requestIds = rebuildRequestIds(layout, index);
        persister.lead(term);
        sequencer.lead(term, requestIds, terms);

        Runnable fatal = () -> {
            log.error("a pipeline stage failed; exiting");
            Runtime.getRuntime().halt(70);
        };
        publisherRunner = new StageRunner(publisher, publisher.signal(), clock, fatal);
        releaserRunner = new StageRunner(releaser, releaser.signal(), clock, fatal);
        persisterRunner = new StageRunner(persister, persister.signal(), clock, fatal);
        sequencerRunner = new StageRunner(sequencer, sequencer.signal(), clock, fatal);
        publisherRunner.start();
        releaserRunner.start();
        persisterRunner.start();
        sequencerRunner.start();
        registerGauges(registry, releaser);

        retention = new RetentionManager(new RetentionManager.Settings(config.retention().truncateIntervalSeconds(),
                config.retention().maxDeletesPerRequest(), s3.requestTimeoutMs() * 3), store, layout, index, clock,
                persister::durableVersion, hub::minCursor, registry);
        retention.start();

        http = new HttpServer(HttpSettings.from(config), new ServerBackend(), new HttpMetrics(registry));
        http.start();
        log.info("WeaselDB listening on http://{}:{} (leader {}, term {}, first version {})",
                config.server().host(), http.port(), term.leaderId(), term.term(), term.startVersion() + 1);
    }

    private Term claimTerm(LogLayout layout, LogIndex index) throws CorruptBatchException, LogRecovery.LostClaimException {
        LogRecovery recovery = new LogRecovery(store, layout,
                Math.max(64, 4 * config.persistence().maxInFlightPuts()), config.s3().requestTimeoutMs() * 3);
        LogRecovery.Tail tail = recovery.findTail();
        if (tail.lastVersion() < 0) {
            log.info("log is empty: starting a new log");
        } else {
            log.info("log has {} objects; last version {} (term {}, leader {})", tail.objects(), tail.lastVersion(),
                    tail.term(), tail.lastLeaderId());
        }
        Term t = recovery.claim(tail, ids.uuid(), clock);
        for (long first : tail.firstVersions()) {
            index.add(first);
        }
        index.add(t.startVersion());
        return t;
    }

    private final TermHistory terms = new TermHistory();

    /** The request-id index for the retention window, rebuilt from the log's request-id sections. */
    private RequestIdIndex rebuildRequestIds(LogLayout layout, LogIndex index) throws CorruptBatchException {
        var c = config.commit();
        long from = RequestIdRecovery.startVersion(index, term.startVersion(), c.requestIdRetentionVersions());
        java.security.SecureRandom random = new java.security.SecureRandom();
        RequestIdIndex ids = new RequestIdIndex(random.nextLong(), random.nextLong(), c.requestIdRetentionVersions(),
                TimeUnit.HOURS.toMillis(c.requestIdRetentionHours()), from, clock.epochMillis());
        long start = System.nanoTime();
        RequestIdRecovery.Result r = RequestIdRecovery.rebuild(store, layout, index, from, ids, terms, 32,
                config.s3().requestTimeoutMs() * 3);
        ids.expire(term.startVersion(), clock.epochMillis(), Integer.MAX_VALUE);
        log.info("request-id index: {} ids and {} bans from {} log objects (versions >= {}) in {} ms",
                r.ids(), r.bans(), r.objects(), from, (System.nanoTime() - start) / 1_000_000);
        return ids;
    }

    private void registerGauges(MeterRegistry registry, Releaser releaser) {
        Gauge.builder("weaseldb.pipeline.queue.depth", sequencer, Sequencer::inboxSize)
                .description("Items waiting in each pipeline stage's input queue").tag("stage", "sequencer").register(registry);
        Gauge.builder("weaseldb.pipeline.queue.depth", persister, Persister::inputSize)
                .tag("stage", "persister").register(registry);
        Gauge.builder("weaseldb.pipeline.queue.depth", releaser, Releaser::queueSize)
                .tag("stage", "releaser").register(registry);
        Gauge.builder("weaseldb.batches.in.flight", persister, Persister::inFlightCount)
                .description("Log batches written but not yet acknowledged (max_in_flight_puts bounds it)").register(registry);
        Gauge.builder("weaseldb.version.committed", persister, Persister::durableVersion)
                .description("Latest committed (durable) version").register(registry);
        Gauge.builder("weaseldb.leader", persister, x -> x.leading() ? 1 : 0)
                .description("1 while this server leads the log").register(registry);
    }

    public int port() {
        return http.port();
    }

    public Term term() {
        return term;
    }

    public RetentionManager retention() {
        return retention;
    }

    public Metrics metrics() {
        return metrics;
    }

    /** Stops accepting requests, lets the pipeline finish what it holds, and releases resources. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (hub != null) {
            hub.endAll("shutdown");
        }
        if (http != null) {
            http.close();
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.server().shutdownGraceMs());
        while (persister != null && sequencer != null && System.nanoTime() < deadline
                && (sequencer.inboxSize() > 0 || persister.inputSize() > 0 || persister.inFlightCount() > 0)) {
            try {
                Thread.sleep(10); // shutdown only: waiting for the pipeline to drain
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (StageRunner r : new StageRunner[] {sequencerRunner, persisterRunner, releaserRunner, publisherRunner}) {
            if (r != null) {
                r.close();
            }
        }
        if (retention != null) {
            retention.close();
        }
        if (store != null) {
            store.close();
        }
        if (embeddedS3 != null) {
            embeddedS3.close();
        }
        blocking.shutdownNow();
        history.shutdownNow();
        metrics.close();
    }

    /** The HTTP layer's view of the server. */
    private final class ServerBackend implements Backend {
        @Override
        public boolean submitCommit(CommitRequest request, Completion completion) {
            return sequencer.offer(new SequencerMessage.Commit(request, completion));
        }

        @Override
        public boolean submitStatus(String requestId, long minVersion, Completion completion) {
            return sequencer.offer(new SequencerMessage.Status(requestId, minVersion, completion));
        }

        @Override
        public boolean submitProbe(Completion completion) {
            return sequencer.offer(new SequencerMessage.Probe(completion));
        }

        @Override
        public VersionInfo version() {
            return new VersionInfo(persister.durableVersion(), term.leaderId());
        }

        @Override
        public SubscriberHub subscribers() {
            return hub;
        }

        @Override
        public RetentionManager retention() {
            return retention;
        }

        @Override
        public String scrapeMetrics() {
            return metrics.scrape();
        }

        @Override
        public java.util.concurrent.Executor blockingExecutor() {
            return blocking;
        }
    }
}
