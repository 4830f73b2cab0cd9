package io.weaseldb.bench;

import io.netty.buffer.ByteBuf;
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
 * <p>Owned by its channel's event loop: every field is touched only there.
 */
final class CommitConnection extends SimpleChannelInboundHandler<FullHttpResponse> {
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

    CommitConnection(BenchOptions o, LoadGenerator.RunProxy proxy, LoopStats stats, RequestWriter writer,
                     SplittableRandom random, int index) {
        super(false); // we release the response ourselves after scanning it
        this.proxy = proxy;
        this.stats = stats;
        this.writer = writer;
        this.random = random;
        this.index = index;
        this.depth = o.depth();
        this.inFlight = new long[depth];
        this.bufferEstimate = 256 + o.opsPerTxn() * (64 + o.keyBytes() * 2 + o.valueBytes() * 4 / 3);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /** Starts sending once the run has begun (call from any thread). */
    void beginOnLoop() {
        ctx.executor().execute(this::begin);
    }

    /**
     * Ends the run here (call from any thread; returns once done on the loop): sends nothing
     * more and accounts for every request that never got an answer.
     */
    void stopOnLoop() {
        ctx.executor().submit(this::finish).syncUninterruptibly();
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
            if (!run.takeBudget()) {
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
            run.outstanding().increment();
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
            if (start >= run.measureNanos()) {
                stats.record(r.outcome(), now - start, run.second(now));
            }
        } finally {
            response.release();
        }
        pump();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!finished) {
            // The server closed on us (before the run, or in it): what was in flight will never
            // be answered, and what was due on this connection will never be sent.
            countFailure();
            if (run != null) {
                giveUpInFlight(System.nanoTime());
            }
        }
        stopSending();
        ctx.fireChannelInactive();
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
    private void finish() {
        if (finished) {
            return;
        }
        long now = System.nanoTime();
        stopSending();
        if (run != null) {
            giveUpInFlight(now);
            // --count ends a run when its budget is spent, on every connection at once: what
            // this one had not sent by then was never due, not unsent.
            if (schedule != null && !run.budgetSpent()) {
                long due = Math.min(limit, schedule.dueBy(now));
                for (long i = sentIndex; i < due; i++) {
                    long intended = schedule.intendedNanos(i);
                    if (intended >= run.measureNanos()) {
                        stats.recordUnanswered(now - intended);
                    }
                }
                stats.unsent += Math.max(0, due - sentIndex);
                sentIndex = Math.max(sentIndex, due);
            }
        }
        finished = true;
    }

    /** Gives up on the requests in flight: unanswered, recorded at what they have waited by {@code now}. */
    private void giveUpInFlight(long now) {
        for (int i = 0; i < count; i++) {
            long start = inFlight[(head + i) % depth];
            if (start >= run.measureNanos()) {
                stats.recordUnanswered(now - start);
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
