package io.weaseldb.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes connections that send a request too slowly (slowloris): the request line and headers
 * must arrive within {@code header_read_timeout_ms} of the request's first byte, a body in
 * progress must not stall for {@code body_read_timeout_ms}, and it must arrive whole within
 * {@code body_deadline_ms} of its headers (without that, one byte per stall period holds a
 * connection, and what the body has parsed, for as long as the client likes). Sits before the HTTP codec so it sees
 * raw bytes; {@link ConnectionHandler} tells it when headers are complete and when the request
 * ends.
 *
 * <p>One timer at most per connection, and it is lazy: a request only records its deadline, and
 * the timer, when it fires, checks the deadline of whatever the connection is doing then and
 * re-arms itself for the rest of it (or ends, between requests). So a keep-alive connection
 * answering thousands of requests a second schedules about one timer per timeout period instead
 * of scheduling and cancelling two per request.
 *
 * <p>On a timeout it stops reading and fires {@link Expired} down the pipeline; it writes nothing
 * itself. The 408 is {@link ConnectionHandler}'s to give, in its turn: on a pipelined connection
 * the answers of earlier requests may still be pending, and a 408 written ahead of them would be
 * read as the answer to the oldest of them.
 *
 * <p>Owned by the connection's event loop.
 */
final class ReadTimeouts extends ChannelInboundHandlerAdapter {
    /**
     * A request was not sent in time: {@code reason} is {@code header_read_timeout},
     * {@code body_read_timeout} or {@code body_deadline}. Reading is paused and nothing more is
     * timed on the connection.
     */
    record Expired(String reason) { }

    /**
     * CONTINUE: the headers are in and the client waits for a 100 Continue before it sends the
     * body, which waits for the answers before it: not timed until the 100 goes out or the body
     * starts anyway. STREAM: an event stream, or a request timed out; either way nothing is timed
     * any more; so is STREAM once the client's input ended, or its last request (Connection:
     * close) is in.
     */
    private enum State { BETWEEN, HEADERS, BODY, CONTINUE, STREAM }

    private final long headerTimeoutNanos;
    private final long bodyTimeoutNanos;
    private final long bodyDeadlineNanos;
    private final HttpMetrics metrics;
    private final ServerCodec codec;
    private final Runnable expire = this::expire;
    private ChannelHandlerContext ctx;
    private State state = State.BETWEEN;
    private long lastReadNanos;
    private long headerDeadlineNanos;
    private long bodyDeadlineAtNanos;
    private ScheduledFuture<?> timer;
    private long timerDueNanos;

    /** {@code codec} tells whether the decoder holds the start of a request the handlers have not seen. */
    ReadTimeouts(long headerTimeoutMs, long bodyTimeoutMs, long bodyDeadlineMs, HttpMetrics metrics, ServerCodec codec) {
        this.headerTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(headerTimeoutMs);
        this.bodyTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(bodyTimeoutMs);
        this.bodyDeadlineNanos = TimeUnit.MILLISECONDS.toNanos(bodyDeadlineMs);
        this.metrics = metrics;
        this.codec = codec;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (state == State.STREAM) {
            ctx.fireChannelRead(msg); // the connection is an event stream now: nothing to time
            return;
        }
        long now = now();
        lastReadNanos = now;
        if (state == State.BETWEEN) {
            startHeaders(now);
        } else if (state == State.CONTINUE) {
            startBody(now); // the client sends its body without waiting for the 100 (curl does after 1 s)
        }
        ctx.fireChannelRead(msg);
        if (codec != null && (state == State.HEADERS || state == State.BETWEEN)) {
            // What the read left in the decoder decides. Nothing of a request: line breaks it
            // skipped, or a request it decoded whole that waits in the flow-control queue (its
            // headersComplete comes on delivery). The start of one: perhaps the read ended a
            // request and brought part of the next, which is timed too.
            boolean partial = codec.holdsPartialRequest();
            if (state == State.HEADERS && !partial) {
                state = State.BETWEEN;
            } else if (state == State.BETWEEN && partial) {
                startHeaders(now());
            }
        }
    }

    private void startHeaders(long now) {
        if (headerTimeoutNanos > 0) {
            state = State.HEADERS;
            headerDeadlineNanos = now + headerTimeoutNanos;
            armBy(headerDeadlineNanos, now);
        }
    }

    /** Between requests, if the decoder already holds the start of the next one, its headers are timed from now. */
    private void nextRequestStarted() {
        if (state == State.BETWEEN && codec != null && codec.holdsPartialRequest()) {
            startHeaders(now());
        }
    }

    /** The request's headers are in: from now on a stalled body counts, and the body's deadline. */
    void headersComplete() {
        if (state == State.STREAM) {
            return;
        }
        // A stall counts from now at the earliest: the headers may have waited, read long ago, in
        // the flow-control queue while the server paused reading (max_pipelined_requests).
        startBody(now());
    }

    /**
     * The request's headers are in and it expects 100 Continue, which must wait for the answers
     * of the requests before it: its body is not timed until {@link #continueSent} (or until it
     * starts arriving anyway). The client cannot be late with a body it has not been asked for;
     * the wait is bounded by the server's own answers.
     */
    void awaitingContinue() {
        if (state == State.BODY) {
            state = State.CONTINUE; // a pending timer finds nothing to do and is not armed again
        }
    }

    /** The deferred 100 Continue went out: the body is timed from now, stall and deadline. */
    void continueSent() {
        if (state == State.CONTINUE) {
            startBody(now());
        }
    }

    private void startBody(long now) {
        state = State.BODY;
        lastReadNanos = now;
        bodyDeadlineAtNanos = now + bodyDeadlineNanos;
        long due = bodyDue();
        if (due != Long.MAX_VALUE) {
            armBy(due, now);
        }
    }

    /** When the body in progress times out if nothing changes: its stall limit or its deadline, the earlier. */
    private long bodyDue() {
        long due = Long.MAX_VALUE;
        if (bodyTimeoutNanos > 0) {
            due = lastReadNanos + bodyTimeoutNanos;
        }
        if (bodyDeadlineNanos > 0 && (due == Long.MAX_VALUE || bodyDeadlineAtNanos - due < 0)) {
            due = bodyDeadlineAtNanos;
        }
        return due;
    }

    /**
     * The connection is becoming an event stream (a subscribe was accepted): no more requests are
     * read on it, so nothing is timed from here on. Its request may never look complete to these
     * timers: while a backlog fills the socket, reading is paused and its empty last content is
     * held back.
     */
    void streamStarted() {
        state = State.STREAM;
        cancel();
    }

    /**
     * The request that closes the connection (Connection: close) is complete: no more requests are
     * read, so nothing is timed from here on, not the bytes a client pipelined after it (dropped).
     */
    void lastRequestRead() {
        state = State.STREAM;
        cancel();
    }

    /** The request is complete: wait for the next one (idle_timeout covers idleness); a pending timer finds nothing to do. */
    void requestComplete() {
        if (state != State.STREAM) {
            state = State.BETWEEN;
            nextRequestStarted();
        }
    }

    /** Makes sure a timer fires no later than {@code deadline}; an earlier one re-arms itself when it fires. */
    private void armBy(long deadline, long now) {
        if (timer != null) {
            if (timerDueNanos - deadline <= 0) {
                return;
            }
            timer.cancel(false);
        }
        long delay = Math.max(0, deadline - now);
        timerDueNanos = now + delay;
        timer = ctx.executor().schedule(expire, delay, TimeUnit.NANOSECONDS);
    }

    /** The event loop's clock, which is also the one its timers run on (tests can move it). */
    private long now() {
        return ctx.executor().ticker().nanoTime();
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expire() {
        timer = null;
        if (!ctx.channel().isActive()) {
            return;
        }
        long now = now();
        switch (state) {
            case BETWEEN, CONTINUE, STREAM -> { } // nothing to time now; what is timed next arms again
            case HEADERS -> {
                if (now - headerDeadlineNanos < 0) {
                    armBy(headerDeadlineNanos, now);
                } else if (!ctx.channel().config().isAutoRead()) {
                    // the server paused reading (max_pipelined_requests) with this request's start
                    // already decoded: the client cannot be late while it is not being read
                    headerDeadlineNanos = now + headerTimeoutNanos;
                    armBy(headerDeadlineNanos, now);
                } else {
                    timeOut("header_read_timeout");
                }
            }
            case BODY -> {
                if (bodyDeadlineNanos > 0 && now - bodyDeadlineAtNanos >= 0) {
                    timeOut("body_deadline");
                } else if (bodyTimeoutNanos > 0 && now - (lastReadNanos + bodyTimeoutNanos) >= 0) {
                    timeOut("body_read_timeout");
                } else {
                    long due = bodyDue();
                    if (due != Long.MAX_VALUE) {
                        armBy(due, now); // the body is still moving, and within its deadline
                    }
                }
            }
        }
    }

    private void timeOut(String reason) {
        state = State.STREAM;
        metrics.rejected(reason);
        ctx.channel().config().setAutoRead(false);
        ctx.fireUserEventTriggered(new Expired(reason));
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            // The client's input ended: nothing more can arrive, so nothing is late. A request it
            // cut short is dropped by ConnectionHandler at the end of input, not timed out.
            state = State.STREAM;
            cancel();
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }
}
