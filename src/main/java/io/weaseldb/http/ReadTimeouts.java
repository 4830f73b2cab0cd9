package io.weaseldb.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes connections that send a request too slowly (slowloris): the request line and headers
 * must arrive within {@code header_read_timeout_ms} of the request's first byte, and a body in
 * progress must not stall for {@code body_read_timeout_ms}. Sits before the HTTP codec so it sees
 * raw bytes; {@link ConnectionHandler} tells it when headers are complete and when the request
 * ends.
 *
 * <p>One timer at most per connection, and it is lazy: a request only records its deadline, and
 * the timer, when it fires, checks the deadline of whatever the connection is doing then and
 * re-arms itself for the rest of it (or ends, between requests). So a keep-alive connection
 * answering thousands of requests a second schedules about one timer per timeout period instead
 * of scheduling and cancelling two per request.
 *
 * <p>Owned by the connection's event loop.
 */
final class ReadTimeouts extends ChannelInboundHandlerAdapter {
    private static final String TIMEOUT_BODY = "{\"error\":\"bad_request\",\"message\":\"the request was not sent in time\"}";
    private static final byte[] TIMEOUT = ("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
            + "Connection: close\r\nContent-Length: " + TIMEOUT_BODY.length() + "\r\n\r\n" + TIMEOUT_BODY)
            .getBytes(StandardCharsets.US_ASCII);

    private enum State { BETWEEN, HEADERS, BODY }

    private final long headerTimeoutNanos;
    private final long bodyTimeoutNanos;
    private final HttpMetrics metrics;
    private final Runnable expire = this::expire;
    private ChannelHandlerContext ctx;
    private State state = State.BETWEEN;
    private long lastReadNanos;
    private long headerDeadlineNanos;
    private ScheduledFuture<?> timer;
    private long timerDueNanos;

    ReadTimeouts(long headerTimeoutMs, long bodyTimeoutMs, HttpMetrics metrics) {
        this.headerTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(headerTimeoutMs);
        this.bodyTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(bodyTimeoutMs);
        this.metrics = metrics;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        long now = now();
        lastReadNanos = now;
        if (state == State.BETWEEN && headerTimeoutNanos > 0) {
            state = State.HEADERS;
            headerDeadlineNanos = now + headerTimeoutNanos;
            armBy(headerDeadlineNanos, now);
        }
        ctx.fireChannelRead(msg);
    }

    /** The request's headers are in: from now on only a stalled body counts. */
    void headersComplete() {
        state = State.BODY;
        if (bodyTimeoutNanos > 0) {
            armBy(lastReadNanos + bodyTimeoutNanos, now());
        }
    }

    /** The request is complete: wait for the next one (idle_timeout covers idleness); a pending timer finds nothing to do. */
    void requestComplete() {
        state = State.BETWEEN;
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
            case BETWEEN -> { } // the request it was armed for is done; the next one arms again
            case HEADERS -> {
                if (now - headerDeadlineNanos < 0) {
                    armBy(headerDeadlineNanos, now);
                } else {
                    timeOut("header_read_timeout");
                }
            }
            case BODY -> {
                if (bodyTimeoutNanos <= 0) {
                    return;
                }
                long deadline = lastReadNanos + bodyTimeoutNanos;
                if (now - deadline < 0) {
                    armBy(deadline, now); // the body is still moving
                } else {
                    timeOut("body_read_timeout");
                }
            }
        }
    }

    private void timeOut(String reason) {
        metrics.rejected(reason);
        ctx.channel().config().setAutoRead(false);
        ctx.writeAndFlush(Unpooled.wrappedBuffer(TIMEOUT)).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }
}
