package io.weaseldb.bench;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpResponse;
import java.util.SplittableRandom;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One keep-alive connection sending commits: closed loop (keep {@code depth} requests in flight,
 * latency from the actual send) or open loop (send at the {@link ArrivalSchedule}'s intended
 * times, queueing past {@code depth}, latency from the intended time).
 *
 * <p>Owned by its channel's event loop: every field is touched only there. With
 * {@code --reconnect}, a connection the server closes during the run is opened again on the same
 * event loop with this same handler (so it is {@code @Sharable}, though in one pipeline at a
 * time), and the run goes on where it was: in open loop what fell due meanwhile is sent at once,
 * its latency counted from when it was due.
 */
@ChannelHandler.Sharable
final class CommitConnection extends SimpleChannelInboundHandler<FullHttpResponse> {
    /** Opens a new channel for a connection on its event loop; calls {@link #connectFailed} if it cannot. */
    interface Reconnector {
        void connect(CommitConnection connection, io.netty.channel.EventLoop loop);
    }

    private static final long FIRST_RETRY_MS = 100;
    private static final long LAST_RETRY_MS = 1000;

    private final LoadGenerator.RunProxy proxy;
    private final LoopStats stats;
    private final RequestWriter writer;
    private final SplittableRandom random;
    private final int index;
    private final int depth;
    private final int bufferEstimate;
    /** Start times (intended or sent) of the requests in flight, oldest first: answers come in order. */
    private final long[] inFlight;
    private int head;
    private int count;
    private ChannelHandlerContext ctx;
    private Run run;
    private ArrivalSchedule schedule; // null: closed loop
    /** Open loop: requests due so far, requests sent, and the last one intended before the end. */
    private long due;
    private long sentIndex;
    private long limit;
    private ScheduledFuture<?> timer;
    /** Sends nothing more: the --count budget is spent, the connection closed, or the run stopped. */
    private boolean done;
    /** The failure of this connection is counted (once, whether it closed or threw). */
    private boolean failed;
    /** The run's end was accounted for (what never got an answer); nothing is counted after it. */
    private boolean finished;
    /** Null without --reconnect. */
    private final Reconnector reconnector;
    private io.netty.channel.EventLoop loop;
    /** The wait before the next attempt to connect again. */
    private long retryMs = FIRST_RETRY_MS;
    /** The connection was lost and is being opened again. */
    private boolean reconnecting;

    CommitConnection(BenchOptions o, LoadGenerator.RunProxy proxy, LoopStats stats, RequestWriter writer,
                     SplittableRandom random, int index, Reconnector reconnector) {
        super(false); // we release the response ourselves after scanning it
        this.proxy = proxy;
        this.stats = stats;
        this.writer = writer;
        this.random = random;
        this.index = index;
        this.depth = o.depth();
        this.inFlight = new long[depth];
        this.bufferEstimate = 256 + o.opsPerTxn() * (64 + o.keyBytes() * 2 + o.valueBytes() * 4 / 3);
        this.reconnector = reconnector;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (loop == null) {
            loop = ctx.channel().eventLoop();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (reconnecting) { // opened again: go on where the run is (a lost one counts as a failure again)
            reconnecting = false;
            failed = false;
            retryMs = FIRST_RETRY_MS;
            if (!finished) {
                stats.reconnects++;
                pump();
            }
        }
        ctx.fireChannelActive();
    }

    /** Starts sending once the run has begun (call from any thread). */
    void beginOnLoop() {
        ctx.executor().execute(this::begin);
    }

    /**
     * Ends the run here (call from any thread; returns once done on the loop): sends nothing
     * more and accounts for every request that never got an answer, at what it had waited by
     * {@code endNanos} (one end for every connection, so none is charged for the time the
     * others took to stop).
     */
    void stopOnLoop(long endNanos) {
        ctx.executor().submit(() -> finish(endNanos)).syncUninterruptibly();
    }

    private void begin() {
        Run r = proxy.run();
        long early = r.startNanos() - System.nanoTime();
        if (early > 0) { // closed loop: the first send is the run's start, not before it
            ctx.executor().schedule(this::begin, early, TimeUnit.NANOSECONDS);
            return;
        }
        run = r;
        BenchOptions o = run.options();
        if (o.mode() == BenchOptions.Mode.OPEN) {
            schedule = ArrivalSchedule.of(run.startNanos(), o.rate(), index, o.connections());
        }
        if (schedule != null) {
            limit = schedule.dueBy(run.endNanos() - 1);
            tick();
        } else {
            pump();
        }
    }

    private void tick() {
        timer = null;
        if (done) {
            return;
        }
        long now = System.nanoTime();
        due = Math.min(limit, schedule.dueBy(now));
        pump();
        if (due < limit) {
            long wait = schedule.intendedNanos(due) - System.nanoTime();
            timer = ctx.executor().schedule(this::tick, Math.max(0, wait), TimeUnit.NANOSECONDS);
        }
    }

    private void pump() {
        if (done || run == null || !ctx.channel().isActive()) {
            return;
        }
        boolean wrote = false;
        while (count < depth) {
            long start;
            if (schedule != null) {
                if (sentIndex >= due) {
                    break;
                }
                start = schedule.intendedNanos(sentIndex);
            } else {
                start = System.nanoTime();
                if (start >= run.endNanos()) {
                    break;
                }
            }
            // --count is a number of measured requests: the warmup must not spend it, or the
            // measured window could be left empty. Counted as outstanding first: the main loop
            // stops once the budget is spent and nothing is outstanding, which must not happen
            // between this request's budget and its write
            run.outstanding().increment();
            if (start >= run.measureNanos() && !run.takeBudget()) {
                run.outstanding().decrement();
                done = true;
                break;
            }
            if (schedule != null) {
                sentIndex++;
            }
            ByteBuf buf = ctx.alloc().ioBuffer(bufferEstimate);
            int bytes = writer.write(buf, random, run.readVersion());
            inFlight[(head + count) % depth] = start;
            count++;
            stats.sent++;
            if (proxy.measuring()) { // bytes on the wire in the measured window, as the answers' are
                stats.requestBytes += bytes;
            }
            ctx.write(buf, ctx.voidPromise());
            wrote = true;
        }
        if (wrote) {
            ctx.flush();
        }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
        try {
            long now = System.nanoTime();
            if (finished) {
                return; // the run is over and merged: a late answer counts for nothing
            }
            if (count == 0 || run == null) {
                stats.errors++; // an answer to nothing we sent: a protocol error, surface it
                return;
            }
            long start = inFlight[head];
            head = (head + 1) % depth;
            count--;
            run.outstanding().decrement();
            ResponseScan.Result r = ResponseScan.scan(run.options().target(), response.status().code(), response.content());
            if (r.version() > 0) {
                run.sawVersion(r.version());
            }
            // Latency by when the request was intended (sent, in closed loop): every measured
            // request's answer counts, also one the drain brings. Throughput by when the answer
            // arrived: only those in the window it is divided by.
            boolean inWindow = now >= run.measureNanos() && now < run.endNanos();
            stats.record(r.outcome(), now - start, start >= run.measureNanos(), inWindow ? run.second(now) : -1);
        } finally {
            response.release();
        }
        pump();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!finished) {
            // The server closed on us (before the run, or in it): what was in flight will never
            // be answered; and unless the connection is opened again, what was due on it will
            // never be sent.
            countFailure();
            if (run != null) {
                giveUpInFlight(System.nanoTime());
            }
            if (reconnector != null && run != null && !done && System.nanoTime() < run.endNanos()) {
                reconnecting = true;
                loop.schedule(this::reconnect, retryMs, TimeUnit.MILLISECONDS);
                ctx.fireChannelInactive();
                return; // the open loop's timer keeps counting what falls due meanwhile
            }
        }
        stopSending();
        ctx.fireChannelInactive();
    }

    private void reconnect() {
        if (finished || done || System.nanoTime() >= run.endNanos()) {
            reconnecting = false;
            stopSending();
            return;
        }
        reconnector.connect(this, loop);
    }

    /** The event loop: an attempt to connect again failed; the next comes after a longer wait, up to 1 s. */
    void connectFailed() {
        retryMs = Math.min(LAST_RETRY_MS, retryMs * 2);
        loop.schedule(this::reconnect, retryMs, TimeUnit.MILLISECONDS);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!finished) {
            countFailure();
        }
        ctx.close();
    }

    private void countFailure() {
        if (!failed) {
            failed = true;
            stats.connectionFailures++;
        }
    }

    /**
     * The end of the run (after the drain): requests still in flight, and in open loop those due
     * before the end that never went out, are unanswered. Each is recorded in the latency
     * histogram at the time it has waited so far, a lower bound of its real latency: a server
     * that stalls at the end must not look faster for it (no coordinated omission at the edge).
     */
    private void finish(long now) {
        if (finished) {
            return;
        }
        stopSending();
        if (run != null) {
            giveUpInFlight(now);
            // --count ends a run when its budget is spent, on every connection at once: what
            // this one had not sent by then was never due, not unsent.
            if (schedule != null && !run.budgetSpent()) {
                long due = Math.min(limit, schedule.dueBy(now));
                recordUnsent(stats, schedule, sentIndex, due, run.measureNanos(), now);
                stats.unsent += Math.max(0, due - sentIndex);
                sentIndex = Math.max(sentIndex, due);
            }
        }
        finished = true;
    }

    /** Unsent requests are recorded in at most this many groups: the end of a run takes bounded time at any rate. */
    static final int UNSENT_GROUPS = 1024;

    /**
     * Records this connection's unsent requests {@code [from, to)} that were intended in the
     * measured window at what they had waited by {@code endNanos}. Their waits fall evenly
     * (the schedule is evenly spaced), so they go in at most {@value #UNSENT_GROUPS} groups of
     * consecutive requests, each recorded once with its count at its latest request's wait: a
     * lower bound, like every given-up request's latency, within 1/{@value #UNSENT_GROUPS} of
     * the range.
     */
    static void recordUnsent(LoopStats stats, ArrivalSchedule schedule, long from, long to, long measureNanos, long endNanos) {
        long first = Math.max(from, schedule.dueBy(measureNanos - 1)); // the first intended at or after measureNanos
        long n = to - first;
        if (n <= 0) {
            return;
        }
        long groups = Math.min(n, UNSENT_GROUPS);
        for (long g = 0; g < groups; g++) {
            long a = first + n * g / groups;
            long b = first + n * (g + 1) / groups;
            stats.recordUnanswered(endNanos - schedule.intendedNanos(b - 1), b - a);
        }
    }

    /** Gives up on the requests in flight: unanswered, recorded at what they have waited by {@code now}. */
    private void giveUpInFlight(long now) {
        for (int i = 0; i < count; i++) {
            long start = inFlight[(head + i) % depth];
            if (start >= run.measureNanos()) {
                stats.recordUnanswered(now - start, 1);
            }
        }
        stats.unanswered += count;
        run.outstanding().add(-count);
        head = 0;
        count = 0;
    }

    private void stopSending() {
        done = true;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }
}
