package io.weaseldb;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.http.Backend;
import io.weaseldb.http.Backend.VersionInfo;
import io.weaseldb.http.HttpMetrics;
import io.weaseldb.http.HttpServer;
import io.weaseldb.http.HttpSettings;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.CorruptBatchException;
import io.weaseldb.log.LeaderRecord;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.LogRecovery;
import io.weaseldb.log.Term;
import io.weaseldb.metrics.Metrics;
import io.weaseldb.metrics.PipelineMetrics;
import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Outcome;
import io.weaseldb.pipeline.RequestIdIndex;
import io.weaseldb.pipeline.RequestIdRecovery;
import io.weaseldb.pipeline.SequencerMessage;
import io.weaseldb.pipeline.TermHistory;
import io.weaseldb.retention.RetentionManager;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.SdkObjectStore;
import io.weaseldb.s3.StorageException;
import io.weaseldb.subscribe.SubscribeMetrics;
import io.weaseldb.subscribe.SubscriberHub;
import io.weaseldb.time.Clock;
import io.weaseldb.time.IdSource;
import io.weaseldb.txn.CommitRequest;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WeaselDB server. It is either the leader of the log (a {@link LeaderTerm} runs the
 * pipeline) or a standby that watches the log and answers with the leader's address. A single
 * control thread ("leadership") decides: it claims the log when it is empty, when the previous
 * leader stopped writing for {@code leader_timeout_ms}, or at once with the embedded fake S3
 * (which no other server can share); and it steps down when the pipeline finds another leader's
 * object in the log. Plain constructor wiring: clock and id source are parameters.
 */
public final class WeaselServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WeaselServer.class);

    private final WeaselConfig config;
    private final Clock clock;
    private final IdSource ids;
    private final Metrics metrics = new Metrics();
    private final ExecutorService blocking;
    /**
     * Metrics scrapes, apart from {@link #blocking}: a burst of scrapes must not delay the
     * leadership looks that /ok and /v1/version wait on. One thread, a few queued; more are refused.
     */
    private final ExecutorService metricsScrapes;
    private final ExecutorService history;
    private final ScheduledExecutorService leadership;
    private EmbeddedS3 embeddedS3;
    private ObjectStore store;
    private LogLayout layout;
    private HttpServer http;
    private LeaderTerm.Context termContext;
    private volatile LeaderTerm current;
    private volatile Standby standby = new Standby(null, "starting up", -1, null);
    private volatile boolean closed;
    private volatile boolean shuttingDown; // refuse new work while what is in flight finishes
    private long lastProgressNanos;
    /** Takeover attempts that failed in a row (storage refusing the claim or the reads before it). */
    private int failedClaims;
    /** No takeover attempt before this (clock.nanoTime()): failed ones back off. */
    private long nextClaimNanos;
    private String lastSeenKey;
    /**
     * The term and last version of the log's end as this standby last saw it: the newest object
     * at its last look, or the valid log's end its last claim attempt found. A claim goes ahead
     * only if the log still ends in that term, no later than that (see {@link #claim(boolean)}).
     */
    private long seenTerm;
    private long seenVersion = -1;
    /** The newest object of the valid log a standby's {@code /v1/version} found (only its look touches it). */
    private LogRecovery.End validEnd;
    /** The recovery window the look that found {@link #validEnd} used. */
    private int validEndWindow;
    /**
     * Leader records read, by term (a record is written once and never changes): for recovery
     * windows and for naming the leader. Used by the leadership thread and the standby's looks.
     */
    private final java.util.concurrent.ConcurrentHashMap<Long, LeaderRecord> leaderRecords =
            new java.util.concurrent.ConcurrentHashMap<>();
    /** A standby's look for the valid log's end, shared by the version requests waiting at the same time. */
    private SharedLook<LogRecovery.End> validEndLook;

    /** What a standby knows: the newest log object (key and last version) and the leader's record. */
    private record Standby(LeaderRecord leader, String message, long lastVersion, String lastKey) {}

    public WeaselServer(WeaselConfig config, Clock clock, IdSource ids) {
        this.config = config;
        this.clock = clock;
        this.ids = ids;
        this.blocking = Executors.newFixedThreadPool(2, daemon("weaseldb-blocking"));
        this.metricsScrapes = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
                new java.util.concurrent.ArrayBlockingQueue<>(8), daemon("weaseldb-metrics"));
        // Decodes log objects read from S3 for subscribers replaying history (CPU work kept off
        // the event loops). Bounded by the hub's limit on history reads in flight.
        this.history = Executors.newFixedThreadPool(2, daemon("weaseldb-history"));
        this.leadership = Executors.newSingleThreadScheduledExecutor(daemon("weaseldb-leadership"));
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /**
     * Starts storage, the HTTP listener and the leadership loop. Returns once this server leads,
     * or once it has settled as a standby behind a live leader.
     */
    public void start() throws Exception {
        MeterRegistry registry = metrics.registry();
        WeaselConfig.S3 s3 = config.s3();
        URI endpoint;
        if (s3.embedded()) {
            // it reads the header of every object file before it serves (and before this server's
            // port opens): seconds per hundred thousand objects, so say what is happening
            log.info("storage: opening the embedded fake S3 under {} (it reads every stored object first)",
                    s3.dataDir().toAbsolutePath().normalize());
            long opening = System.nanoTime();
            embeddedS3 = EmbeddedS3.start(s3);
            endpoint = embeddedS3.endpoint();
            log.info("storage: embedded fake S3 at {} storing under {} (fsync {}; this server reaches it {}), opened in {} ms",
                    endpoint, s3.dataDir().toAbsolutePath().normalize(), s3.fsync() ? "on" : "off",
                    s3.fakeOverHttp() ? "over HTTP through the AWS SDK" : "in-process",
                    (System.nanoTime() - opening) / 1_000_000);
        } else {
            endpoint = URI.create(s3.endpoint());
            log.info("storage: S3 endpoint {} bucket {} prefix \"{}\"", endpoint, s3.bucket(), s3.prefix());
            String host = config.server().host();
            if (config.server().advertiseUrl().isEmpty()
                    && (host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]"))) {
                // a shared log has standbys, and they hand this URL to clients as leader_url
                log.warn("[server] host is {} and advertise_url is not set: other servers of this log will send"
                        + " clients to {}, which reaches no one; set [server] advertise_url to this server's address",
                        host, config.server().url(config.server().port(), config.security().tls()));
            }
        }
        if (s3.embedded() && !s3.fakeOverHttp()) {
            // In-process calls to the fake S3's storage: same semantics and fsync, without the
            // HTTP hop, request signing and the SDK pipeline (see EmbeddedObjectStore).
            store = new EmbeddedObjectStore(embeddedS3.server().backend(), s3.bucket(),
                    Math.max(4, config.persistence().maxInFlightPuts() + 4), new io.weaseldb.s3.StoreMetrics(registry));
        } else {
            String accessKey = s3.embedded() ? EmbeddedS3.ACCESS_KEY : s3.accessKeyId();
            String secretKey = s3.embedded() ? EmbeddedS3.SECRET_KEY : s3.secretAccessKey();
            store = new SdkObjectStore(new SdkObjectStore.Settings(endpoint, s3.region(), s3.bucket(), accessKey,
                    secretKey, Duration.ofMillis(s3.requestTimeoutMs()), s3.maxConnections()), registry);
        }
        layout = new LogLayout(s3.prefix());
        validEndLook = new SharedLook<>(this::findValidEnd, blocking);
        retryAtStartup("checking the bucket", () -> store.ensureBucket(s3.createBucket())
                .get(s3.requestTimeoutMs() * 3, TimeUnit.MILLISECONDS));

        Runnable fatal = () -> {
            log.error("a pipeline stage failed; exiting");
            Runtime.getRuntime().halt(70);
        };
        SubscribeMetrics subscribeMetrics = new SubscribeMetrics(registry);
        termContext = new LeaderTerm.Context(config, clock, ids, store, layout, new PipelineMetrics(registry),
                subscribeMetrics, registry, history, blocking, fatal);
        registerGauges(registry, subscribeMetrics);

        http = new HttpServer(HttpSettings.from(config), new ServerBackend(), new HttpMetrics(registry),
                clock::epochMillis);
        try {
            http.start();
        } catch (Exception e) {
            // Netty's own message names neither the address nor the setting ("bind(..) failed ...:
            // Address already in use", or none at all for a host that does not resolve).
            String why = e instanceof java.nio.channels.UnresolvedAddressException ? "the host does not resolve"
                    : e.getMessage() != null ? e.getMessage() : e.toString();
            throw new java.io.IOException("cannot listen on " + config.server().host() + ":" + config.server().port()
                    + " ([server] host and port, or --host and --port): " + why, e);
        }

        lastProgressNanos = clock.nanoTime();
        // First decision on this thread: a lone server leads before start() returns.
        retryAtStartup("taking the log over", () -> decide(false));
        long poll = pollMillis();
        leadership.scheduleWithFixedDelay(this::tick, poll, poll, TimeUnit.MILLISECONDS);
        LeaderTerm t = current;
        String scheme = config.security().tls() ? "https" : "http";
        if (t != null) {
            log.info("WeaselDB listening on {}://{}:{} (leader {}, term {}, first version {})",
                    scheme, config.server().host(), http.port(), t.term.leaderId(), t.term.term(), t.term.startVersion() + 1);
        } else {
            log.info("WeaselDB listening on {}://{}:{} as a standby ({})", scheme, config.server().host(), http.port(),
                    standby.message());
        }
    }

    private interface StartupStep {
        void run() throws Exception;
    }

    /**
     * Storage may be briefly unreachable while everything starts (or cold and slow on the first
     * request): transient failures are retried with backoff for up to 60 s before giving up.
     */
    private void retryAtStartup(String what, StartupStep step) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        long backoffMs = 100;
        StorageException first = null;
        while (true) {
            try {
                step.run();
                return;
            } catch (Exception e) {
                StorageException se = StorageException.of(e);
                if (closed) {
                    throw new java.io.IOException(what + ": startup interrupted by shutdown", e);
                }
                if (se.kind() != StorageException.Kind.TRANSIENT) {
                    throw e;
                }
                if (first == null) {
                    first = se;
                }
                if (System.nanoTime() > deadline) {
                    // the last error alone can be the SDK's own timeout; the first says what was wrong
                    throw new java.io.IOException(what + ": storage at " + storageWhere() + " did not answer for 60 s"
                            + " (first error: " + first.getMessage() + "; last: " + se.getMessage() + ")", e);
                }
                log.warn("{}: storage not answering yet ({}); retrying in {} ms", what, se.getMessage(), backoffMs);
                Thread.sleep(backoffMs); // startup only, before anything is served
                backoffMs = Math.min(2_000, backoffMs * 2);
            }
        }
    }

    /** Where storage is, for messages. */
    private String storageWhere() {
        return config.s3().embedded() ? "the embedded fake S3" : config.s3().endpoint() + " (bucket " + config.s3().bucket() + ")";
    }

    private long pollMillis() {
        long hb = config.persistence().leaderHeartbeatMs();
        long base = hb > 0 ? hb / 2 : config.persistence().leaderTimeoutMs() / 4;
        return Math.max(50, Math.min(500, base));
    }

    /** The leadership thread. */
    private void tick() {
        try {
            decide(true);
        } catch (Throwable t) {
            if (closed) {
                return; // stopping: an interrupted read is no storage problem (audit 38)
            }
            log.warn("leadership check failed (will retry): {}", t instanceof ClaimFailed ? t.getMessage() : t.toString());
        }
    }

    /** @param backOff whether failed takeover attempts pause before the next (the leadership thread) */
    private void decide(boolean backOff) throws Exception {
        if (closed) {
            return;
        }
        LeaderTerm t = current;
        if (t != null) {
            if (!t.leading()) {
                stepDown(t);
            }
            return;
        }
        if (config.s3().embedded()) {
            claim(); // nobody else can write to an in-process fake S3
            return;
        }
        observe();
        long now = clock.nanoTime();
        if (standby.lastVersion() >= 0 && now - lastProgressNanos < config.persistence().leaderTimeoutMs() * 1_000_000L) {
            failedClaims = 0; // a leader is writing
            return;
        }
        if (!backOff) {
            claim(true); // at startup: retryAtStartup paces the attempts
            return;
        }
        if (now - nextClaimNanos >= 0) {
            try {
                claim(true);
                failedClaims = 0;
            } catch (Exception e) {
                // Each attempt lists the log and rebuilds the request-id index (thousands of reads
                // on a long window): when storage refuses writes but serves reads, attempts every
                // poll would hammer it for the whole outage (audit 38). Double the pause up to
                // leader_timeout_ms.
                failedClaims++;
                long pauseMs = Math.min(config.persistence().leaderTimeoutMs(),
                        pollMillis() << Math.min(20, failedClaims));
                nextClaimNanos = clock.nanoTime() + pauseMs * 1_000_000L;
                throw new ClaimFailed(pauseMs, e);
            }
        }
    }

    /** A takeover attempt failed; the next one waits {@code pauseMs}. */
    private static final class ClaimFailed extends Exception {
        ClaimFailed(long pauseMs, Exception cause) {
            super("taking the log over failed (next attempt in " + pauseMs + " ms): " + cause, cause);
        }
    }

    /** Standby: notes new log objects (a live leader writes at least one per heartbeat). */
    private void observe() throws Exception {
        long timeoutMs = config.s3().requestTimeoutMs() * 3;
        String newest = newestLogKeyAfter(lastSeenKey);
        if (newest == null) {
            standby = new Standby(null, "the log is empty", -1, null);
            seenTerm = 0;
            seenVersion = -1;
            return;
        }
        if (newest.equals(lastSeenKey)) {
            Standby s = standby;
            if (s.leader() == null && s.lastKey() != null) {
                // not readable at the last look (or not written yet): a dead leader writes no new
                // object that would make this look again
                LeaderRecord leader = readLeaderRecord(seenTerm);
                if (leader != null) {
                    standby = behind(leader, seenTerm, null, s.lastVersion(), s.lastKey());
                }
            }
            return;
        }
        BatchHeader h = BatchCodec.decodeHeader(newest,
                store.getRange(newest, 0, BatchCodec.MAX_HEADER_BYTES).get(timeoutMs, TimeUnit.MILLISECONDS));
        boolean first = lastSeenKey == null;
        lastSeenKey = newest;
        seenTerm = h.term();
        seenVersion = h.lastVersion();
        lastProgressNanos = clock.nanoTime();
        if (h.kind() == BatchHeader.TERM_END
                || first && clock.epochMillis() - h.timestampMillis() > config.persistence().leaderTimeoutMs()) {
            // The leader ended its term cleanly, or the newest object is older than the timeout
            // by the wall clock (nobody is writing): no need to wait.
            lastProgressNanos -= config.persistence().leaderTimeoutMs() * 1_000_000L;
        }
        LeaderRecord leader = readLeaderRecord(h.term());
        standby = behind(leader, h.term(), h.leaderId(), h.lastVersion(), newest);
    }

    /** A standby behind the leader of {@code term}: named by its record when there is one, else by its id. */
    private static Standby behind(LeaderRecord leader, long term, String leaderId, long lastVersion, String lastKey) {
        return new Standby(leader, leader == null ? "leader " + leaderId + " (term " + term + ")"
                : "leader " + leader.leaderId() + " at " + leader.url(), lastVersion, lastKey);
    }

    /** The leader record of {@code term}, or null: none, or it cannot be read now (names in 503 answers only). */
    private LeaderRecord readLeaderRecord(long term) {
        try {
            return leaderRecord(term);
        } catch (Exception e) {
            return null; // the log is what counts
        }
    }

    /**
     * The leader record of {@code term}: null if there is none (never written, or by a version
     * without records) or this server may not read it, but a storage failure that may pass (a 503,
     * a timeout) throws, so a recovery is tried again rather than made with a window too narrow
     * for that leader's writes in flight.
     */
    private LeaderRecord leaderRecord(long term) throws Exception {
        LeaderRecord known = leaderRecords.get(term);
        if (known != null) {
            return known; // written once, never changed
        }
        byte[] b;
        try {
            b = store.get(layout.leaderKey(term)).get(config.s3().requestTimeoutMs() * 3, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            if (StorageException.of(e).kind() == StorageException.Kind.TRANSIENT) {
                throw e;
            }
            return null;
        }
        LeaderRecord r;
        try {
            r = LeaderRecord.decode(layout.leaderKey(term), b);
        } catch (java.io.IOException notARecord) {
            return null;
        }
        if (leaderRecords.size() >= 64) {
            leaderRecords.clear();
        }
        leaderRecords.put(term, r);
        return r;
    }

    /**
     * The window to recover with: {@code window}, widened to the setting of the leader of the term
     * the valid log ends in (its leader record) while that is larger. {@code first} runs with
     * {@code window}, {@code again} with each wider one; returns what the last run found and its
     * window.
     */
    private <T> Scanned<T> scanWidening(int window, RecoveryScan<T> first, RecoveryScan<T> again,
                                        java.util.function.ToLongFunction<T> endTerm) throws Exception {
        T found = first.run(newRecovery(window));
        long term;
        while (found != null && (term = endTerm.applyAsLong(found)) > 0) {
            LeaderRecord r = leaderRecord(term);
            int wider = LeaderRecord.recoveryWindow(config.persistence().maxInFlightPuts(), r);
            if (wider <= window) {
                break;
            }
            log.info("term {}'s leader had max_in_flight_puts = {} (this server: {}): recovering over the newest {}"
                    + " log objects instead of {}", term, r.maxInFlightPuts(), config.persistence().maxInFlightPuts(),
                    wider, window);
            window = wider;
            found = again.run(newRecovery(window));
        }
        return new Scanned<>(found, window);
    }

    private interface RecoveryScan<T> {
        T run(LogRecovery recovery) throws Exception;
    }

    private record Scanned<T>(T found, int window) {}

    private void claim() throws Exception {
        claim(false);
    }

    /**
     * Tries to take the log over; on losing the race stays a standby. A standby ({@code
     * asStandby}) claims only if the valid log still ends where it saw it end: in the term of the
     * newest object of its last look, no later. Otherwise the log moved since that look (the
     * timeout starts again from this look): an object that appeared after it shows a leader
     * alive, and that leader's lease ({@link LeadershipCheck}) counts from it.
     *
     * <p>The term matters, not only the version: the newest object listed can be an older term's
     * orphan past the newest term's objects (an unacknowledged write that landed beyond a hole,
     * inside a later batch's range). A new leader may have written and acknowledged its first
     * objects below it after that look, and a standby comparing versions alone would take the log
     * from it inside its lease; and once that leader died, the orphan's version, lower than the
     * log's end, would have kept the standby from ever claiming.
     */
    private void claim(boolean asStandby) throws Exception {
        // The log's last leader may have had more writes in flight than this server would: its
        // holes can then lie further back than this server's own window reaches
        Scanned<LogRecovery.Tail> scanned = scanWidening(ownWindow(), LogRecovery::findTail, LogRecovery::findTail,
                t -> t.lastVersion() < 0 ? 0 : t.term());
        LogRecovery recovery = newRecovery(scanned.window());
        LogRecovery.Tail tail = scanned.found();
        if (asStandby && (tail.term() != seenTerm || tail.lastVersion() > seenVersion)) {
            log.info("the log moved on to version {} (term {}, leader {}) since this standby last looked;"
                    + " waiting another leader_timeout_ms", tail.lastVersion(), tail.term(), tail.lastLeaderId());
            seenTerm = tail.term();
            seenVersion = tail.lastVersion();
            lastProgressNanos = clock.nanoTime();
            LeaderRecord leader = tail.lastVersion() < 0 ? null : readLeaderRecord(tail.term());
            standby = behind(leader, tail.term(), tail.lastLeaderId(), tail.lastVersion(), standby.lastKey());
            return;
        }
        if (tail.lastVersion() < 0) {
            log.info("log is empty: starting a new log");
        } else {
            log.info("log has {} objects; last version {} (term {}, leader {})", tail.objects(), tail.lastVersion(),
                    tail.term(), tail.lastLeaderId());
        }
        // The request-id index is rebuilt before the claim, from the log up to the tail this look
        // found: a claim fails if anything was written after that tail, so the log it read is the
        // log the term continues. After the claim no other server may find this term silent: a
        // standby takes the log over after leader_timeout_ms without a new object, and a rebuild
        // (seconds on a long request-id window) between the claim and the first heartbeat had
        // standbys taking the log from each other's claims (audit 13).
        String leaderId = ids.uuid();
        Term planned = new Term(tail.term() + 1, leaderId, tail.lastVersion() + 1, tail.lastTxnVersion());
        LogIndex index = new LogIndex();
        for (long first : tail.firstVersions()) {
            index.add(first);
        }
        TermHistory terms = new TermHistory();
        Rebuilt rebuilt = rebuildRequestIds(planned, index, tail.bareMarkers(), terms);
        if (recovery.movedSince(tail)) {
            // the leader was only slow or paused: it wrote during the rebuild (and its truncation
            // may have freed the name this claim would take), so stand by and look again
            log.info("the log moved on past version {} while this server prepared its claim; standing by",
                    tail.lastVersion());
            watchAfresh();
            return;
        }
        Term term;
        long claimNanos = clock.nanoTime();
        try {
            term = recovery.claim(tail, leaderId, clock);
        } catch (LogRecovery.LostClaimException e) {
            log.info("could not claim the log ({}); standing by", e.getMessage());
            watchAfresh();
            return;
        }
        assert term.equals(planned) : term + " claimed, " + planned + " planned";
        index.add(term.startVersion());
        terms.add(term.startVersion(), term.leaderId());
        LeaderTerm t = new LeaderTerm(termContext, term, index, rebuilt.requestIds(), terms, claimNanos);
        try {
            t.start();
        } catch (Exception | Error e) {
            t.close(); // its stage and retention threads, whichever had started
            throw e;
        }
        t.retention.deleteOrphans(recovery.orphansInsideTheLog(tail, rebuilt.orphans()));
        t.retention.deleteBelowFloor(tail.belowFloor());
        String url = config.server().url(http.port(), config.security().tls());
        try {
            store.putIfAbsent(layout.leaderKey(term.term()),
                    new LeaderRecord(term.leaderId(), term.term(), url, term.startVersion(), clock.epochMillis(),
                            config.persistence().maxInFlightPuts()).encode())
                    .get(config.s3().requestTimeoutMs() * 3, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("could not write the leader record (standbys will name the leader by id only): {}", e.toString());
        }
        current = t;
        log.info("leading term {} as {} from version {} ({})", term.term(), term.leaderId(), term.startVersion(), url);
    }

    /** The request-id index, and the first versions of the orphans its rebuild found (RequestIdRecovery). */
    private record Rebuilt(RequestIdIndex requestIds, long[] orphans) {}

    /** The request-id index for the retention window, rebuilt from the log's request-id sections. */
    private Rebuilt rebuildRequestIds(Term term, LogIndex index, long[] bareMarkers, TermHistory terms)
            throws CorruptBatchException {
        var c = config.commit();
        long from = RequestIdRecovery.startVersion(index, term.startVersion(), c.requestIdRetentionVersions());
        java.security.SecureRandom random = new java.security.SecureRandom();
        RequestIdIndex requestIds = new RequestIdIndex(random.nextLong(), random.nextLong(), c.requestIdRetentionVersions(),
                TimeUnit.HOURS.toMillis(c.requestIdRetentionHours()), from, clock.epochMillis());
        long start = System.nanoTime();
        RequestIdRecovery.Result r = RequestIdRecovery.rebuild(store, layout, index, bareMarkers, from, requestIds, terms, 32,
                config.s3().requestTimeoutMs() * 3);
        requestIds.expire(term.startVersion(), clock.epochMillis(), Integer.MAX_VALUE);
        log.info("request-id index: {} ids and {} bans from {} log objects (versions >= {}) in {} ms",
                r.ids(), r.bans(), r.objects(), from, (System.nanoTime() - start) / 1_000_000);
        if (r.orphans().length > 0) {
            log.info("{} older log objects of earlier terms are not part of the log (never acknowledged; ids ignored): "
                    + "first versions {}", r.orphans().length, java.util.Arrays.toString(r.orphans()));
        }
        return new Rebuilt(requestIds, r.orphans());
    }

    /** As a standby, watches the log from its start again, the leader's timeout counting from now. */
    private void watchAfresh() {
        lastProgressNanos = clock.nanoTime();
        lastSeenKey = null;
    }

    /** Another leader owns the log: stop serving as leader, answer what is queued, become a standby. */
    private void stepDown(LeaderTerm t) {
        log.warn("term {} lost the log to another server; becoming a standby", t.term.term());
        current = null;
        t.drain(2_000);
        t.close();
        watchAfresh();
        standby = new Standby(null, "this server lost the log; looking for the new leader", t.persister.durableVersion(),
                null);
    }

    private void registerGauges(MeterRegistry registry, SubscribeMetrics subscribeMetrics) {
        queueGauge(registry, "sequencer", t -> t.sequencer.inboxSize());
        queueGauge(registry, "persister", t -> t.persister.inputSize());
        queueGauge(registry, "releaser", t -> t.releaser.queueSize());
        queueGauge(registry, "publisher", t -> t.publisher.queueSize());
        Gauge.builder("weaseldb.batches.in.flight", this, s -> termValue(t -> t.persister.inFlightCount()))
                .description("Log batches written but not yet acknowledged (max_in_flight_puts bounds it)").register(registry);
        Gauge.builder("weaseldb.version.committed", this, s -> {
            LeaderTerm t = current;
            return t != null ? t.persister.durableVersion() : standby.lastVersion();
        }).description("Latest committed (durable) version").register(registry);
        Gauge.builder("weaseldb.version.oldest", this, s -> termValue(t -> t.retention.oldestVersion()))
                .description("Oldest version still in the log (the first version of the oldest log object)").register(registry);
        Gauge.builder("weaseldb.leader", this, s -> current != null && current.leading() ? 1 : 0)
                .description("1 while this server leads the log, 0 as a standby").register(registry);
        Gauge.builder("weaseldb.retention.policies", this, s -> termValue(t -> t.retention.policyCount()))
                .description("Live retention policies").register(registry);
        Gauge.builder("weaseldb.request.ids", this, s -> termValue(t -> t.sequencer.requestIdCount()))
                .description("Request ids remembered for idempotent retries (request_id_retention_* bounds them)")
                .tag("kind", "committed").register(registry);
        Gauge.builder("weaseldb.request.ids", this, s -> termValue(t -> t.sequencer.banCount()))
                .description("Request ids remembered for idempotent retries (request_id_retention_* bounds them)")
                .tag("kind", "banned").register(registry);
        Gauge.builder("weaseldb.conflict.set.entries", this, s -> termValue(t -> t.sequencer.conflictEntries()))
                .description("Keys and ranges written within conflict_window_ms, held to check reads against")
                .register(registry);
        subscribeMetrics.cacheGauge(() -> (long) termValue(t -> t.cache.retainedBytesApprox()));
    }

    private void queueGauge(MeterRegistry registry, String stage, java.util.function.ToDoubleFunction<LeaderTerm> f) {
        Gauge.builder("weaseldb.pipeline.queue.depth", this, s -> termValue(f))
                .description("Items waiting in each pipeline stage's input queue").tag("stage", stage).register(registry);
    }

    private double termValue(java.util.function.ToDoubleFunction<LeaderTerm> f) {
        LeaderTerm t = current;
        return t == null ? 0 : f.applyAsDouble(t);
    }

    public int port() {
        return http.port();
    }

    /** The current term, or null as a standby. */
    public Term term() {
        LeaderTerm t = current;
        return t == null ? null : t.term;
    }

    public boolean leading() {
        LeaderTerm t = current;
        return t != null && t.leading();
    }

    public RetentionManager retention() {
        LeaderTerm t = current;
        return t == null ? null : t.retention;
    }

    public Metrics metrics() {
        return metrics;
    }

    /** The embedded fake S3 (tests inject faults through it), or null with an S3 endpoint. */
    public io.weaseldb.fakes3.FakeS3Server embeddedS3() {
        return embeddedS3 == null ? null : embeddedS3.server();
    }

    /** Stops accepting requests, lets the pipeline finish what it holds, and releases resources. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        shuttingDown = true; // new requests get 503 from now; the HTTP listener stays up to answer what is in flight
        leadership.shutdownNow();
        try {
            leadership.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LeaderTerm t = current;
        if (t != null) {
            long grace = config.server().shutdownGraceMs();
            t.drain(grace);
            if (t.leading()) {
                boolean handedOver = t.retire(grace);
                log.info(handedOver ? "term {} ended cleanly: a successor can take over at once"
                        : "term {} could not write its end marker: a successor waits leader_timeout_ms", t.term.term());
            }
            t.hub.endAll("shutdown");
        }
        if (http != null) {
            http.close();
        }
        if (t != null) {
            t.close();
        }
        current = null;
        if (store != null) {
            store.close();
        }
        if (embeddedS3 != null) {
            embeddedS3.close();
        }
        blocking.shutdownNow();
        metricsScrapes.shutdownNow();
        history.shutdownNow();
        metrics.close();
    }

    /** 503 for a request that needed LeadershipCheck's look at the log, which storage did not answer. */
    static Outcome.Unavailable cannotConfirm(Throwable failure) {
        return new Outcome.Unavailable("could not check that this server still leads the log (storage: "
                + StorageException.of(failure).getMessage() + "); retry shortly", false, 1, null, null);
    }

    /** A term's newest durable version and its leader id. */
    private static VersionInfo versionOf(LeaderTerm t) {
        return new VersionInfo(t.persister.durableVersion(), t.term.leaderId());
    }

    private Outcome.Unavailable notLeader(String requestId) {
        if (shuttingDown) {
            return new Outcome.Unavailable("this server is shutting down", false, 1, null, requestId);
        }
        if (current != null) {
            // it still runs a term, but found the log written by another server (LeadershipCheck),
            // or its term is ending: which server leads is not known here yet
            return new Outcome.Unavailable("this server no longer leads the log; another server has taken it over",
                    false, 1, null, requestId);
        }
        Standby s = standby;
        if (s.leader() != null && http != null
                && s.leader().url().equals(config.server().url(http.port(), config.security().tls()))) {
            // The last leader was this address: this server before a restart. Never send a client
            // to itself (it would loop until the timeout): it is about to take the log over
            return new Outcome.Unavailable("this server is not the leader yet (starting up: the last leader, "
                    + s.leader().leaderId() + ", was this address before a restart)", false, 1, null, requestId);
        }
        String leaderId = s.leader() != null ? s.leader().leaderId() : null;
        String where = s.leader() != null ? "; the leader is at " + s.leader().url() : "";
        return new Outcome.Unavailable("this server is not the leader (" + s.message() + ")" + where, false, 1,
                leaderId, requestId, s.leader() != null ? s.leader().url() : null);
    }

    /**
     * The newest log object key listed after {@code startAfter}, or {@code startAfter} itself when
     * there is none (blocking; never on an event loop).
     */
    private String newestLogKeyAfter(String startAfter) throws Exception {
        long timeoutMs = config.s3().requestTimeoutMs() * 3;
        String newest = startAfter;
        String token = null;
        do {
            ObjectStore.ListPage page = store.list(layout.logPrefix(), startAfter, token, 1000)
                    .get(timeoutMs, TimeUnit.MILLISECONDS);
            for (ObjectStore.Entry e : page.entries()) {
                if (layout.versionOf(e.key()) >= 0) {
                    newest = e.key();
                }
            }
            token = page.continuationToken();
        } while (token != null);
        return newest;
    }

    /**
     * A standby's look for {@code /v1/version}: the end of the valid log now in storage (blocking;
     * never on an event loop; one at a time, see {@link SharedLook}). Not the newest object: that
     * can be the leader's write that landed before an earlier one, or a dead leader's orphan past a
     * hole, neither of which committed. Walks the headers of the objects written since the last
     * look, from the valid end that look found (the first scans the newest objects as recovery does).
     */
    private LogRecovery.End findValidEnd() throws Exception {
        LogRecovery.End known = validEnd;
        int window = known == null ? ownWindow() : validEndWindow;
        // From the last answer's end if there was one; the window is checked against the leader
        // record of the term the end is in (a wider one scans from scratch: an end found with a
        // narrower window cannot be trusted as part of the log)
        Scanned<LogRecovery.End> scanned = scanWidening(window,
                r -> known == null ? r.findEnd() : r.advance(known), LogRecovery::findEnd, e -> e.header().term());
        validEnd = scanned.found();
        validEndWindow = scanned.window();
        return validEnd;
    }

    /** A standby's version answer from the valid log's end, named by the leader record of its term when known. */
    private static VersionInfo versionAt(LogRecovery.End end, Standby s) {
        if (end == null) {
            return null;
        }
        BatchHeader h = end.header();
        LeaderRecord leader = s.leader();
        return new VersionInfo(h.lastVersion(), leader != null && leader.term() == h.term() ? leader.leaderId() : h.leaderId());
    }

    /** Recovery over the newest max(64, 4 * max_in_flight_puts) log objects of this server's own setting. */
    private int ownWindow() {
        return LeaderRecord.recoveryWindow(config.persistence().maxInFlightPuts());
    }

    /** Recovery over the newest {@code window} log objects (log-format.md). */
    private LogRecovery newRecovery(int window) {
        return new LogRecovery(store, layout, window, config.s3().requestTimeoutMs() * 3);
    }

    /** The HTTP layer's view of the server: the current term, or standby answers. */
    private final class ServerBackend implements Backend {

        @Override
        public boolean draining() {
            return shuttingDown;
        }

        private boolean refuse(Completion c, String requestId) {
            c.completeLater(notLeader(requestId));
            return true;
        }

        @Override
        public boolean submitCommit(CommitRequest request, Completion completion) {
            LeaderTerm t = shuttingDown ? null : current;
            return t == null ? refuse(completion, request.requestId())
                    : t.sequencer.offer(new SequencerMessage.Commit(request, completion));
        }

        @Override
        public boolean submitStatus(String requestId, long minVersion, Completion completion) {
            LeaderTerm t = shuttingDown ? null : current;
            return t == null ? refuse(completion, requestId)
                    : t.sequencer.offer(new SequencerMessage.Status(requestId, minVersion, completion));
        }

        @Override
        public boolean submitProbe(Completion completion) {
            LeaderTerm t = shuttingDown ? null : current;
            if (t == null || !t.persister.leading()) {
                return refuse(completion, null);
            }
            if (!t.persister.storageHealthy()) {
                // Storage refuses log writes (a batch outlived the retry budget): say so now. Through
                // the pipeline the answer could wait behind a batch that cannot be sent until storage
                // is back, and past the lease a look at the log would wait on the same storage.
                completion.completeLater(t.sequencer.storageRefusal());
                return true;
            }
            if (t.leadership.withinLease()) {
                return t.sequencer.offer(new SequencerMessage.Probe(completion));
            }
            // past its lease a leader may have been replaced without knowing it (LeadershipCheck):
            // a load balancer must not keep sending it commits, so look at the log first
            t.leadership.confirm().whenComplete((stillLeading, failure) -> {
                if (failure != null) {
                    completion.completeLater(cannotConfirm(failure));
                } else if (!stillLeading) {
                    refuse(completion, null);
                } else if (!t.sequencer.offer(new SequencerMessage.Probe(completion))) {
                    completion.completeLater(new Outcome.Unavailable("the commit pipeline is full", false, 1, null, null));
                }
            });
            return true;
        }

        @Override
        public VersionInfo leaderInfo() {
            LeaderTerm t = current;
            return t == null ? null : versionOf(t);
        }

        @Override
        public java.util.concurrent.CompletableFuture<VersionInfo> version() {
            LeaderTerm t = current;
            if (t != null && (shuttingDown || !t.leading())) {
                // its term ends (a term-end marker lets a standby take over at once) or is fenced
                return java.util.concurrent.CompletableFuture.completedFuture(null);
            }
            if (t != null) {
                if (t.leadership.withinLease()) {
                    return java.util.concurrent.CompletableFuture.completedFuture(versionOf(t));
                }
                return t.leadership.confirm().handle((stillLeading, failure) -> {
                    if (failure != null) {
                        throw new Backend.Refused(cannotConfirm(failure)); // not "another server leads"
                    }
                    return stillLeading ? versionOf(t) : null;
                });
            }
            // A standby reads the log now: every acknowledged commit is in it before its answer.
            Standby s = standby;
            if (s.lastKey() == null) {
                return java.util.concurrent.CompletableFuture.completedFuture(null);
            }
            return validEndLook.get().thenApply(end -> versionAt(end, s));
        }

        @Override
        public Outcome.Unavailable notLeader(String requestId) {
            return WeaselServer.this.notLeader(requestId);
        }

        @Override
        public SubscriberHub subscribers() {
            LeaderTerm t = shuttingDown ? null : current;
            return t == null ? null : t.hub;
        }

        @Override
        public RetentionManager retention() {
            LeaderTerm t = current;
            return t == null || !t.leading() ? null : t.retention; // a fenced term answers as a standby
        }

        @Override
        public String scrapeMetrics() {
            return metrics.scrape();
        }

        @Override
        public Executor metricsExecutor() {
            return metricsScrapes;
        }
    }
}
