package io.weaseldb.sim;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Ticker;
import io.weaseldb.conflict.BTreeConflictSet;
import io.weaseldb.fakes3.ObjectInfo;
import io.weaseldb.log.Batch;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.LogRecovery;
import io.weaseldb.log.Term;
import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Outcome;
import io.weaseldb.pipeline.Persister;
import io.weaseldb.pipeline.Releaser;
import io.weaseldb.pipeline.RequestIdIndex;
import io.weaseldb.pipeline.RequestIdRecovery;
import io.weaseldb.pipeline.Sequencer;
import io.weaseldb.pipeline.SequencerMessage;
import io.weaseldb.pipeline.TermHistory;
import io.weaseldb.subscribe.EventCache;
import io.weaseldb.subscribe.Publisher;
import io.weaseldb.subscribe.SubscribeMetrics;
import io.weaseldb.subscribe.SubscriberHub;
import io.weaseldb.subscribe.Subscription;
import io.weaseldb.testing.Json;
import io.weaseldb.testing.LogAudit;
import io.weaseldb.time.IdSource;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Precondition;
import io.weaseldb.txn.Transaction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * One deterministic run of WeaselDB's pipeline, subscribers and storage, from a seed.
 *
 * <p>The real stages (sequencer, persister, releaser, publisher), the real subscription code on
 * Netty's EmbeddedChannel, and the fake S3's real in-memory backend run on one thread and one
 * simulated clock. Storage answers late, fails, times out and loses success replies; servers
 * crash (in-flight writes land or not, nobody hears back) and a second server takes the log over
 * while the first still runs. After every step the invariants are checked against what storage
 * actually holds:
 * <ul>
 *   <li>the log is one valid chain: versions gap-free, each transaction linked to the previous;</li>
 *   <li>every acknowledged commit is in it, at its version, exactly once; no request id twice;</li>
 *   <li>nothing is acknowledged twice, and duplicates report the original version;</li>
 *   <li>/v1/status answers agree with the log (not_committed ids never appear in it);</li>
 *   <li>every precondition a 409 conflict lists met a logged transaction after its read version
 *       and at or before the conflict's version;</li>
 *   <li>subscribers receive transactions in order, without gaps or duplicates, exactly as logged;
 *       at the end every live durable subscriber has everything.</li>
 * </ul>
 */
final class Simulation {
    /**
     * How many of the newest log objects a booting server's recovery reads: production's rule
     * ({@code max(64, 4 * max_in_flight_puts)}) scaled to the simulation's largest
     * {@code max_in_flight_puts} (4), so that in a run of a few hundred objects the window slides
     * past older terms' orphans, as it does on a long-lived log.
     */
    static final int RECOVERY_WINDOW = 16;

    /**
     * leader_timeout_ms of the simulated servers: their lease is three quarters of it. Truncation
     * waits for every older server still leading to be past its lease (the standby's wait).
     */
    static final long LEADER_TIMEOUT_MS = 40;

    final long seed;
    private final SplittableRandom random;
    private final SimScheduler clock = new SimScheduler();
    private final SimStore store;
    private final LogLayout layout = new LogLayout("");
    private final IdSource ids;
    private final int clientActions;
    private final List<Node> nodes = new ArrayList<>();
    private Node leader;
    private final List<SimSubscriber> subscribers = new ArrayList<>();
    private final Set<Long> wakeups = new HashSet<>();
    private final Executor direct = Runnable::run;
    private final Ticker ticker = new Ticker() {
        @Override
        public long initialNanoTime() {
            return 0;
        }

        @Override
        public long nanoTime() {
            return clock.nanoTime();
        }

        @Override
        public void sleep(long delay, TimeUnit unit) {
            throw new UnsupportedOperationException("no sleeping in a simulation");
        }
    };

    // what clients were told
    private final Map<Long, String> acked = new HashMap<>();
    private final Map<String, Long> ackedById = new HashMap<>();
    private final Map<String, Long> statusCommitted = new HashMap<>();
    /** Ids /v1/status said did not commit, with the version it said so at. */
    private final Map<String, Long> statusNotCommitted = new HashMap<>();
    /** Commits answered 409 conflict, with what they read: each listed precondition must have met a logged write. */
    private final List<Map.Entry<CommitRequest, Outcome.Conflict>> conflicts = new ArrayList<>();
    private final List<String> usedIds = new ArrayList<>();
    /** The leader's durable version when each id was first sent: retries go only to recent ones (below). */
    private final Map<String, Long> firstSentAt = new HashMap<>();
    /**
     * Versions of request ids remembered: small in most runs, so that truncation (which keeps
     * that window, as the server does) has something to delete; then a client retries only ids
     * it first sent within a quarter of it, as a real client retries within the window.
     */
    private final long requestIdWindow;
    /** The highest truncation floor stored: objects below it are no part of the log. */
    private long floor;
    private int truncations;
    private int looks;
    private int looksFindingANewerTerm;
    private int belowFloorFound;
    private int nextId;
    private long stepsRun;

    // the log as storage holds it, re-read when storage changed
    private final Map<String, Batch> decoded = new HashMap<>();
    private LogAudit.Result log;
    private int auditedAt = -1;

    Simulation(long seed, int clientActions) {
        this.seed = seed;
        this.random = new SplittableRandom(seed);
        this.ids = IdSource.seeded(seed);
        this.clientActions = clientActions;
        double failure = random.nextDouble() * 0.15;
        double lost = random.nextDouble() * 0.05;
        this.store = new SimStore(clock, new SplittableRandom(random.nextLong()), failure, lost);
        this.requestIdWindow = random.nextInt(3) == 0 ? 1_000_000 : 8 + random.nextInt(60);
    }

    /** One server term, stepped by the simulation. */
    private final class Node {
        final Term term;
        final LogIndex index;
        final Sequencer sequencer;
        final Persister persister;
        final Releaser releaser;
        final Publisher publisher;
        final EventCache cache;
        final SubscriberHub hub;
        boolean crashed;
        final long claimNanos = clock.nanoTime();

        Node(Term term, LogIndex index, RequestIdIndex requestIds, TermHistory terms) {
            this.term = term;
            this.index = index;
            releaser = new Releaser(1024);
            cache = new EventCache(512 + random.nextInt(4096), 1 << 10, term.startVersion());
            hub = new SubscriberHub(new SubscriberHub.Settings(100, Long.MAX_VALUE, TimeUnit.SECONDS.toNanos(1), 2, 4),
                    cache, index, store, layout, direct, new SubscribeMetrics(new SimpleMeterRegistry()), clock);
            publisher = new Publisher(1 << 12, cache, index, hub, term.leaderId());
            persister = new Persister(new Persister.Settings(random.nextInt(0, 5), 512 + random.nextInt(8192),
                    1 + random.nextInt(4), 1, 20, 300, 1, 1 << 12, 0), store, layout, releaser, publisher,
                    Persister.Observer.NONE, clock, ids);
            sequencer = new Sequencer(new Sequencer.Settings(200 + random.nextInt(2000), 1 << 12, 1),
                    new BTreeConflictSet(), clock, ids, persister);
            persister.markerSource(sequencer::requestMarker);
            // past its lease, a write is acknowledged only after a look at the log (LeaderTerm); the
            // look runs later on the scheduler, answered at once by storage
            var check = new io.weaseldb.LeadershipCheck(persister, term, store, layout, clock,
                    look -> clock.after(200_000L + random.nextLong(5_000_000L), () -> {
                        boolean was = store.immediate;
                        store.immediate = true;
                        try {
                            look.run();
                        } finally {
                            store.immediate = was;
                        }
                    }), LEADER_TIMEOUT_MS, 1_000, false);
            persister.confirmLeadershipWith(io.weaseldb.LeadershipCheck.leaseNanos(LEADER_TIMEOUT_MS), claimNanos,
                    () -> check.confirm().whenComplete((leading, failure) -> {
                        looks++;
                        if (Boolean.FALSE.equals(leading)) {
                            looksFindingANewerTerm++;
                        }
                    }));
            persister.lead(term);
            sequencer.lead(term, requestIds, terms);
        }

        int work() {
            if (crashed) {
                return 0;
            }
            long now = clock.nanoTime();
            return sequencer.doWork(now) + persister.doWork(now) + releaser.doWork(now) + publisher.doWork(now);
        }

        long deadline() {
            if (crashed) {
                return Long.MAX_VALUE;
            }
            return Math.min(Math.min(sequencer.nextDeadlineNanos(), persister.nextDeadlineNanos()),
                    Math.min(releaser.nextDeadlineNanos(), publisher.nextDeadlineNanos()));
        }
    }

    /** Starts a new term the way a server does: recover, claim, rebuild request ids. */
    private static final boolean DEBUG = Boolean.getBoolean("weaseldb.sim.debug");

    private void debug(String what) {
        if (DEBUG) {
            System.out.println("t=" + clock.nanoTime() / 1_000 + "us " + what);
        }
    }

    private Node boot() {
        store.immediate = true;
        if (DEBUG) {
            StringBuilder sb = new StringBuilder();
            for (ObjectInfo i : store.logObjects()) {
                try {
                    var h = BatchCodec.decodeHeader(i.key(), store.read(i.key()));
                    sb.append("\n   ").append(i.key().substring(4)).append(" T").append(h.term()).append(" [")
                            .append(h.firstVersion()).append("..").append(h.lastVersion()).append("] prev ")
                            .append(h.prevVersion()).append(" kind ").append(h.kind()).append(" n ").append(h.count());
                } catch (Exception e) {
                    sb.append("\n   ").append(i.key()).append(" ").append(e);
                }
            }
            debug("boot; log objects:" + sb);
        }
        try {
            for (int attempt = 0; ; attempt++) {
                LogRecovery recovery = new LogRecovery(store, layout, RECOVERY_WINDOW, 1_000);
                LogRecovery.Tail tail = recovery.findTail();
                Term term;
                try {
                    term = recovery.claim(tail, ids.uuid(), clock);
                } catch (LogRecovery.LostClaimException e) {
                    if (attempt > 5) {
                        throw new AssertionError("cannot claim the log: " + e.getMessage());
                    }
                    continue;
                }
                debug("claimed " + term + " tail last " + tail.lastVersion() + " orphans " + tail.orphans()
                        + " firsts " + java.util.Arrays.toString(tail.firstVersions()));
                LogIndex index = new LogIndex();
                for (long f : tail.firstVersions()) {
                    index.add(f);
                }
                index.add(term.startVersion());
                TermHistory terms = new TermHistory();
                long from = RequestIdRecovery.startVersion(index, term.startVersion(), requestIdWindow);
                RequestIdIndex requestIds = new RequestIdIndex(1, 2, requestIdWindow, 3_600_000, from, clock.epochMillis());
                RequestIdRecovery.Result rebuilt = RequestIdRecovery.rebuild(store, layout, index, tail.bareMarkers(), from,
                        requestIds, terms, 4, 1_000);
                List<String> doomed = new ArrayList<>(recovery.orphansInsideTheLog(tail, rebuilt.orphans()));
                doomed.addAll(tail.belowFloor()); // as the server does (RetentionManager.deleteBelowFloor)
                belowFloorFound += tail.belowFloor().size();
                if (!doomed.isEmpty()) {
                    debug("deleting orphans " + doomed);
                    store.delete(doomed); // as the server does: in the background, the term does not wait
                }
                Node n = new Node(term, index, requestIds, terms);
                debug("booted term " + term + " index " + java.util.Arrays.toString(index.snapshot()));
                nodes.add(n);
                return n;
            }
        } catch (io.weaseldb.log.CorruptBatchException e) {
            throw new AssertionError(e);
        } finally {
            store.immediate = false;
        }
    }

    /** A client's answer: exactly one outcome per request. */
    private final class Answer implements Completion {
        final String requestId;
        final boolean commit;
        CommitRequest request;
        Outcome outcome;

        Answer(String requestId, boolean commit) {
            this.requestId = requestId;
            this.commit = commit;
        }

        @Override
        public Executor executor() {
            return direct;
        }

        @Override
        public void complete(Outcome o) {
            if (outcome != null) {
                fail("request " + requestId + " answered twice: " + outcome + " then " + o);
            }
            outcome = o;
            if (DEBUG && requestId.endsWith(System.getProperty("weaseldb.sim.trace", "~"))) {
                debug("answer for " + requestId + (commit ? " (commit)" : " (status)") + ": " + o);
            }
            switch (o) {
                case Outcome.Committed c -> {
                    String other = acked.put(c.version(), c.requestId());
                    if (other != null && !other.equals(c.requestId())) {
                        fail("version " + c.version() + " acknowledged for " + other + " and " + c.requestId());
                    }
                    Long before = ackedById.put(c.requestId(), c.version());
                    if (before != null && before != c.version() && !forgotten(before, c.version())) {
                        fail(c.requestId() + " acknowledged at " + before + " and " + c.version());
                    }
                    Long banned = statusNotCommitted.get(c.requestId());
                    if (banned != null && !forgotten(banned, c.version())) {
                        fail(c.requestId() + " committed at " + c.version() + " after /v1/status said at " + banned
                                + " it never would");
                    }
                }
                case Outcome.StatusCommitted s -> {
                    Long before = statusCommitted.put(s.requestId(), s.version());
                    Long ack = ackedById.get(s.requestId());
                    if ((before != null && before != s.version() && !forgotten(before, s.version()))
                            || (ack != null && ack != s.version() && !forgotten(ack, s.version()))) {
                        fail("status of " + s.requestId() + " says " + s.version() + ", known " + before + "/" + ack);
                    }
                }
                case Outcome.StatusNotCommitted s -> {
                    Long ack = ackedById.get(s.requestId());
                    Long committed = statusCommitted.get(s.requestId());
                    if (ack != null && !forgotten(ack, s.version()) || committed != null && !forgotten(committed, s.version())) {
                        fail("status says " + s.requestId() + " did not commit, but it was acknowledged");
                    }
                    statusNotCommitted.put(s.requestId(), s.version());
                }
                case Outcome.Conflict c -> conflicts.add(Map.entry(request, c));
                default -> { }
            }
        }
    }

    /** A subscriber on an EmbeddedChannel, parsing the SSE bytes the real Subscription writes. */
    private final class SimSubscriber {
        final EmbeddedChannel channel = EmbeddedChannel.builder().ticker(ticker).build();
        final boolean durable;
        final long after;
        final Node node;
        Subscription subscription;
        final StringBuilder pending = new StringBuilder();
        final List<Long> versions = new ArrayList<>();
        final Map<Long, String> requestIds = new HashMap<>();
        long lastCheckpoint = -1;
        long lastPrev = Long.MIN_VALUE;
        boolean ended;

        SimSubscriber(Node node, long after, boolean durable) {
            this.node = node;
            this.after = after;
            this.durable = durable;
        }

        void pump() {
            channel.runPendingTasks();
            channel.runScheduledPendingTasks();
            Object m;
            while ((m = channel.readOutbound()) != null) {
                try {
                    if (m instanceof HttpContent c) {
                        pending.append(c.content().toString(StandardCharsets.UTF_8));
                        parse();
                    }
                    if (m instanceof LastHttpContent) {
                        ended = true;
                    }
                } finally {
                    ReferenceCountUtil.release(m);
                }
            }
            if (!channel.isActive()) {
                ended = true;
            }
        }

        private void parse() {
            int end;
            while ((end = pending.indexOf("\n\n")) >= 0) {
                String event = pending.substring(0, end);
                pending.delete(0, end + 2);
                String type = null;
                String data = null;
                for (String line : event.split("\n")) {
                    if (line.startsWith("event: ")) {
                        type = line.substring(7);
                    } else if (line.startsWith("data: ")) {
                        data = line.substring(6);
                    }
                }
                if (data == null) {
                    continue; // keepalive
                }
                Map<String, Object> j = Json.object(data);
                if ("checkpoint".equals(type)) {
                    lastCheckpoint = (Long) j.get("committed_version");
                    continue;
                }
                long v = (Long) j.get("version");
                long prev = (Long) j.get("prev_version");
                long last = versions.isEmpty() ? after : versions.get(versions.size() - 1);
                if (v <= last) {
                    fail("subscriber after " + after + " got " + v + " after " + last + " (order or duplicate); received "
                            + versions + "; " + subscription.describe());
                }
                if (!versions.isEmpty() && prev != last) {
                    fail("subscriber got " + v + " with prev_version " + prev + ", previous event was " + last);
                }
                versions.add(v);
                requestIds.put(v, (String) j.get("request_id"));
            }
        }
    }

    private void fail(String message) {
        throw new AssertionError("seed " + seed + " at step " + stepsRun + ": " + message);
    }

    /** Runs the simulation; throws AssertionError naming the seed on any violation. */
    void run() {
        leader = boot();
        long horizon = TimeUnit.MILLISECONDS.toNanos(50 + clientActions * 2L);
        for (int i = 0; i < clientActions; i++) {
            clock.at(clock.nanoTime() + random.nextLong(horizon), this::clientAction);
        }
        long sameTime = 0;
        long lastTime = clock.nanoTime();
        while (clock.step()) {
            stepsRun++;
            sameTime = clock.nanoTime() == lastTime ? sameTime + 1 : 0;
            lastTime = clock.nanoTime();
            if (sameTime > 100_000) {
                fail("livelock: time stopped advancing (a stage keeps reporting a deadline it cannot act on)");
            }
            settle();
            check();
        }
        // Storage stops failing; everything in flight finishes.
        store.immediate = false;
        quiesce();
        check();
        finalCheck();
    }

    private void clientAction() {
        int r = random.nextInt(100);
        if (r < 60) {
            commit();
        } else if (r < 72) {
            status();
        } else if (r < 82) {
            subscribe();
        } else if (r < 86) {
            unsubscribe();
        } else if (r < 87) {
            crash();
        } else if (r < 88) {
            gracefulRestart();
        } else if (r < 90) {
            takeover();
        } else if (r < 94) {
            truncate();
        } else {
            commit();
        }
    }

    /**
     * True if an id committed (or banned) at {@code then} may commit again at {@code now}: the
     * server remembers ids for requestIdWindow versions (RequestIdIndex.expire).
     */
    private boolean forgotten(long then, long now) {
        return Math.abs(now - then) > requestIdWindow;
    }

    private String newId() {
        String id = String.format("sim-%d-request-%06d", seed, nextId++);
        usedIds.add(id);
        firstSentAt.put(id, leader.persister.durableVersion());
        return id;
    }

    /** An id sent before, recently enough that the server still remembers it (see requestIdWindow), or a new one. */
    private String retryId() {
        for (int tries = 0; tries < 4 && !usedIds.isEmpty(); tries++) {
            String id = usedIds.get(random.nextInt(usedIds.size()));
            if (firstSentAt.get(id) >= leader.persister.durableVersion() - requestIdWindow / 4) {
                return id;
            }
        }
        return newId();
    }

    private Node target() {
        // mostly the newest server; sometimes one that may have been deposed
        if (nodes.size() > 1 && random.nextInt(10) == 0) {
            Node n = nodes.get(random.nextInt(nodes.size()));
            if (!n.crashed) {
                return n;
            }
        }
        return leader;
    }

    private byte[] key() {
        return ("k" + random.nextInt(8)).getBytes(StandardCharsets.UTF_8);
    }

    private void commit() {
        String id = random.nextInt(4) == 0 ? retryId() : newId();
        List<Operation> ops = new ArrayList<>();
        for (int i = random.nextInt(1, 4); i > 0; i--) {
            ops.add(switch (random.nextInt(3)) {
                case 0 -> new Operation.Write(key(), ("v" + random.nextInt(100)).getBytes(StandardCharsets.UTF_8));
                case 1 -> new Operation.Delete(key());
                default -> new Operation.RangeDelete("k2".getBytes(StandardCharsets.UTF_8), "k5".getBytes(StandardCharsets.UTF_8));
            });
        }
        List<Precondition> pre = new ArrayList<>();
        Node n = target();
        long readVersion = Math.max(0, n.persister.durableVersion() - random.nextInt(3));
        if (random.nextBoolean()) {
            pre.add(new Precondition.PointRead(key(), Precondition.DEFAULT_VERSION));
        }
        if (random.nextInt(4) == 0) {
            pre.add(new Precondition.RangeRead("k0".getBytes(StandardCharsets.UTF_8), "k4".getBytes(StandardCharsets.UTF_8),
                    Precondition.DEFAULT_VERSION));
        }
        Answer a = new Answer(id, true);
        a.request = new CommitRequest(id, null, readVersion, pre, ops, 0);
        if (DEBUG && id.endsWith(System.getProperty("weaseldb.sim.trace", "~"))) {
            debug("commit " + id + " to term " + n.term.term() + (n == leader ? " (leader)" : " (older node)"));
        }
        if (!n.sequencer.offer(new SequencerMessage.Commit(a.request, a))) {
            a.complete(new Outcome.Unavailable("full", false, 1, null, id));
        }
    }

    private void status() {
        String id = usedIds.isEmpty() || random.nextInt(5) == 0 ? newId() : usedIds.get(random.nextInt(usedIds.size()));
        Answer a = new Answer(id, false);
        if (DEBUG && id.endsWith(System.getProperty("weaseldb.sim.trace", "~"))) {
            debug("status " + id + " to term " + leader.term.term());
        }
        leader.sequencer.offer(new SequencerMessage.Status(id, 0, a));
    }

    private void subscribe() {
        Node n = leader;
        long latest = n.persister.durableVersion();
        long oldest = Math.max(0, n.index.oldest());
        long after = random.nextBoolean() ? latest : Math.max(-1, oldest - 1 + random.nextLong(latest - oldest + 2));
        if (after < 0) {
            after = 0;
        }
        if (n.hub.admit(after) != null) {
            return;
        }
        SimSubscriber s = new SimSubscriber(n, after, random.nextInt(4) != 0);
        s.subscription = n.hub.open(s.channel, after, s.durable, n.term.leaderId());
        subscribers.add(s);
    }

    private void unsubscribe() {
        for (SimSubscriber s : subscribers) {
            if (!s.ended && random.nextBoolean()) {
                s.channel.close();
                s.pump();
                return;
            }
        }
    }

    /** Every server process dies; storage requests in flight land or not; a new server starts. */
    private void crash() {
        for (Node n : nodes) {
            n.crashed = true;
        }
        store.crash();
        for (SimSubscriber s : subscribers) {
            if (!s.ended) {
                s.channel.close();
                s.pump();
            }
        }
        nodes.clear();
        leader = boot();
    }

    /** The leader shuts down cleanly (ending its term with a marker); a new server starts. */
    private void gracefulRestart() {
        Node old = leader;
        old.sequencer.retire();
        for (int i = 0; i < 10_000 && !old.persister.retired() && old.persister.leading(); i++) {
            if (!clock.step()) {
                break;
            }
            settle();
        }
        old.crashed = true; // stopped: whatever it still holds is never answered, like a process exit
        for (SimSubscriber s : subscribers) {
            if (!s.ended && s.node == old) {
                s.channel.close();
                s.pump();
            }
        }
        nodes.remove(old);
        leader = boot();
    }

    /**
     * A truncation pass of the leader, at one instant, as RetentionManager makes it: the horizon
     * keeps the request-id window and what subscribers still need; the new oldest version is
     * published (holding off admissions), the floor stored, then the objects below deleted,
     * sometimes only some of them (a pass cut short by a crash or a storage error). Only once every
     * older server still leading is past its lease: a standby claims only after the leader went
     * quiet for leader_timeout_ms, which this simulation's impatient takeovers do not wait for.
     * Such a server's writes may then land in the names this frees: past its lease it
     * acknowledges them only after a look at the log, which finds the newer term (audit 13); and
     * recovery must take them for no part of the log.
     */
    private void truncate() {
        Node n = leader;
        if (n.crashed || !n.persister.leading()) {
            return;
        }
        long lease = io.weaseldb.LeadershipCheck.leaseNanos(LEADER_TIMEOUT_MS);
        for (Node o : nodes) {
            long base = o.persister.leaseBaseNanos() == Persister.NO_LEASE ? o.claimNanos : o.persister.leaseBaseNanos();
            if (o != n && !o.crashed && o.persister.leading() && clock.nanoTime() - base < lease) {
                return;
            }
        }
        var subscribers = io.weaseldb.retention.SubscriberFloor.of(n.hub);
        long durable = n.persister.durableVersion();
        long horizon = Math.min(random.nextLong(durable + 1),
                Math.min(subscribers.getAsLong(), n.sequencer.requestIdHorizon() - 1));
        long keepFrom = n.index.floor(horizon + 1);
        if (keepFrom <= Math.max(0, n.index.oldest())) {
            return;
        }
        boolean[] needed = {false};
        subscribers.excludingAdmissions(() -> {
            if (subscribers.getAsLong() < keepFrom - 1) {
                needed[0] = true;
            } else {
                n.index.removeBefore(keepFrom);
            }
        });
        if (needed[0]) {
            return;
        }
        debug("truncating below " + keepFrom + " (horizon " + horizon + ")");
        truncations++;
        store.immediate = true;
        try {
            if (keepFrom > floor) {
                store.put(layout.floorKey(keepFrom), new byte[] {'{', '}'}).join();
                floor = keepFrom;
            }
            List<String> doomed = new ArrayList<>();
            for (ObjectInfo i : store.logObjects()) {
                if (i.key().compareTo(layout.objectKey(keepFrom)) < 0) {
                    doomed.add(i.key());
                }
            }
            int upTo = random.nextInt(4) == 0 ? random.nextInt(doomed.size() + 1) : doomed.size();
            if (upTo > 0) {
                store.delete(doomed.subList(0, upTo)).join();
            }
        } finally {
            store.immediate = false;
        }
    }

    /** A second server takes the log over while the first still runs (a standby that gave up waiting). */
    private void takeover() {
        if (nodes.size() > 3) {
            return;
        }
        leader = boot();
    }

    /** Runs stages and subscriber tasks until nothing moves; schedules the next timer wake-up. */
    private void settle() {
        for (int round = 0; round < 10_000; round++) {
            int work = 0;
            for (int i = 0; i < nodes.size(); i++) {
                work += nodes.get(i).work();
            }
            for (SimSubscriber s : subscribers) {
                if (!s.ended) {
                    int before = s.versions.size();
                    s.pump();
                    work += s.versions.size() - before;
                }
            }
            if (work == 0) {
                for (Node n : nodes) {
                    long d = n.deadline();
                    if (d != Long.MAX_VALUE && wakeups.add(d)) {
                        clock.at(d, () -> wakeups.remove(d));
                    }
                }
                return;
            }
        }
        fail("the pipeline never settled");
    }

    private void quiesce() {
        int i = 0;
        while (clock.step()) {
            if (++i > 1_000_000) {
                fail("the simulation never quiesced");
            }
            settle();
        }
        // keepalive ticks until every subscriber has stopped moving
        for (int tick = 0; tick < 100; tick++) {
            long before = subscribers.stream().mapToLong(s -> s.versions.size()).sum();
            clock.after(TimeUnit.SECONDS.toNanos(1), () -> { });
            while (clock.step()) {
                settle();
            }
            if (subscribers.stream().mapToLong(s -> s.versions.size()).sum() == before && tick > 2) {
                break;
            }
        }
    }

    private LogAudit.Result log() {
        if (auditedAt == store.mutations && log != null) {
            return log;
        }
        List<String> keys = new ArrayList<>();
        List<Batch> batches = new ArrayList<>();
        for (ObjectInfo info : store.logObjects()) {
            if (layout.versionOf(info.key()) < floor) {
                continue; // truncated: what a pass left, or a late write into a name it freed
            }
            String cacheKey = info.key() + "@" + info.etag();
            Batch b = decoded.get(cacheKey);
            if (b == null) {
                try {
                    b = BatchCodec.decode(info.key(), store.read(info.key()));
                } catch (io.weaseldb.log.CorruptBatchException e) {
                    throw new AssertionError("seed " + seed + ": corrupt object", e);
                }
                decoded.put(cacheKey, b);
            }
            keys.add(info.key());
            batches.add(b);
        }
        try {
            log = LogAudit.audit(keys, batches, requestIdWindow);
        } catch (AssertionError e) {
            fail(e.getMessage());
        }
        auditedAt = store.mutations;
        return log;
    }

    private void check() {
        LogAudit.Result l = log();
        long oldestKept = oldestKept(l);
        for (var e : acked.entrySet()) {
            if (e.getKey() < oldestKept) {
                continue; // truncated
            }
            Transaction t = l.transactions().get(e.getKey());
            if (t == null || !t.requestId().equals(e.getValue())) {
                fail("acknowledged version " + e.getKey() + " (" + e.getValue() + ") is not in the log: " + t);
            }
        }
        for (var e : statusNotCommitted.entrySet()) {
            Long logged = l.versionByRequestId().get(e.getKey());
            if (logged != null && !forgotten(e.getValue(), logged)) {
                fail(e.getKey() + " is in the log at " + logged + " although /v1/status said at " + e.getValue()
                        + " it would never commit");
            }
        }
        for (var e : statusCommitted.entrySet()) {
            if (e.getValue() < oldestKept) {
                continue;
            }
            Long logged = l.versionByRequestId().get(e.getKey());
            if (logged == null || logged != e.getValue().longValue() && !forgotten(e.getValue(), logged)) {
                fail("/v1/status said " + e.getKey() + " committed at " + e.getValue() + "; the log says "
                        + l.versionByRequestId().get(e.getKey()) + "; chain " + l.chain().stream().map(b -> "T"
                        + b.header().term() + "[" + b.header().firstVersion() + ".." + b.header().lastVersion() + "]").toList()
                        + " orphans " + l.orphans());
            }
        }
        for (var e : conflicts) {
            CommitRequest r = e.getKey();
            Outcome.Conflict c = e.getValue();
            for (int i : c.conflicts()) {
                Precondition p = r.preconditions().get(i);
                long from = p.version() == Precondition.DEFAULT_VERSION ? r.readVersion() : p.version();
                if (from + 1 < oldestKept) {
                    continue; // what met it may be truncated
                }
                boolean met = l.transactions().values().stream()
                        .anyMatch(t -> t.version() > from && t.version() <= c.version() && touches(t, p));
                if (!met) {
                    fail(r.requestId() + " was answered 409 conflict on preconditions[" + i + "] (read at " + from
                            + ", judged at " + c.version() + "), but no logged transaction in between touches it");
                }
            }
        }
        for (SimSubscriber s : subscribers) {
            for (long v : s.versions) {
                if (!s.durable && v > s.lastCheckpoint || v < oldestKept) {
                    continue; // may be discarded by the client: not yet durable when sent; or truncated since
                }
                Transaction t = l.transactions().get(v);
                if (t == null || !t.requestId().equals(s.requestIds.get(v))) {
                    fail("subscriber (after " + s.after + ", durable " + s.durable + ") got version " + v + " ("
                            + s.requestIds.get(v) + ") that the log does not hold: " + t);
                }
            }
        }
    }

    /**
     * The first version the log still holds, the truncation floor: what lies before it was
     * truncated (0 before any truncation). The log must start exactly there.
     */
    private long oldestKept(LogAudit.Result l) {
        if (floor > 0 && (l.chain().isEmpty() || l.chain().get(0).header().firstVersion() != floor)) {
            fail("the log should start at the truncation floor " + floor + ", but starts at "
                    + (l.chain().isEmpty() ? "nothing" : l.chain().get(0).header().firstVersion()));
        }
        return floor;
    }

    /** Whether {@code t} wrote, deleted or range-deleted anything {@code p} read. */
    private static boolean touches(Transaction t, Precondition p) {
        byte[] begin = switch (p) {
            case Precondition.PointRead pr -> pr.key();
            case Precondition.RangeRead rr -> rr.begin();
        };
        byte[] end = switch (p) { // exclusive
            case Precondition.PointRead pr -> java.util.Arrays.copyOf(pr.key(), pr.key().length + 1);
            case Precondition.RangeRead rr -> rr.end();
        };
        for (Operation op : t.operations()) {
            byte[] b = switch (op) {
                case Operation.Write w -> w.key();
                case Operation.Delete d -> d.key();
                case Operation.RangeDelete rd -> rd.begin();
            };
            byte[] e = switch (op) {
                case Operation.Write w -> java.util.Arrays.copyOf(w.key(), w.key().length + 1);
                case Operation.Delete d -> java.util.Arrays.copyOf(d.key(), d.key().length + 1);
                case Operation.RangeDelete rd -> rd.end();
            };
            if (java.util.Arrays.compareUnsigned(b, end) < 0 && java.util.Arrays.compareUnsigned(begin, e) < 0) {
                return true;
            }
        }
        return false;
    }

    private void finalCheck() {
        LogAudit.Result l = log();
        List<Long> logged = new ArrayList<>(l.transactions().keySet());
        long oldestKept = oldestKept(l);
        for (SimSubscriber s : subscribers) {
            // what it got is exactly the logged transactions after its start, up to where it stopped
            long upTo = s.versions.isEmpty() ? s.after : s.versions.get(s.versions.size() - 1);
            if (!s.ended && s.durable) {
                upTo = Math.max(upTo, s.node.persister.durableVersion());
            }
            List<Long> expected = new ArrayList<>();
            for (long v : logged) {
                if (v > s.after && v <= upTo) {
                    expected.add(v);
                }
            }
            List<Long> got = (s.durable ? s.versions : s.versions.stream().filter(v -> v <= l.transactions().keySet()
                    .stream().mapToLong(Long::longValue).max().orElse(-1)).toList())
                    .stream().filter(v -> v >= oldestKept).toList(); // truncated since it got them
            if (s.durable && !got.equals(expected)) {
                fail("durable subscriber after " + s.after + (s.ended ? " (ended)" : " (live)") + " got " + got
                        + ", the log holds " + expected + "; term " + s.node.term.term() + " node durable "
                        + s.node.persister.durableVersion() + " index " + java.util.Arrays.toString(s.node.index.snapshot())
                        + "; " + s.subscription.describe() + "; store requests in flight " + store.inFlight
                        + ", agenda " + clock.size());
            }
        }
    }

    long steps() {
        return stepsRun;
    }

    int acknowledged() {
        return acked.size();
    }

    /** Looks at the log before acknowledging past the lease, and those that found a newer term (fencing the server). */
    int[] looks() {
        return new int[] {looks, looksFindingANewerTerm};
    }

    int truncations() {
        return truncations;
    }

    /** Objects recoveries found below the truncation floor (left by a pass cut short, or late writes into freed names). */
    int belowFloorFound() {
        return belowFloorFound;
    }
}
