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
 * ends. One timer at most per connection, and none while it waits between requests.
 *
 * <p>Owned by the connection's event loop.
 */
final class ReadTimeouts extends ChannelInboundHandlerAdapter {
    private static final byte[] TIMEOUT = ("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
            + "Connection: close\r\nContent-Length: 71\r\n\r\n"
            + "{\"error\":\"bad_request\",\"message\":\"the request was not sent in time\"}").getBytes(StandardCharsets.US_ASCII);

    private enum State { BETWEEN, HEADERS, BODY }

    private final long headerTimeoutNanos;
    private final long bodyTimeoutNanos;
    private final HttpMetrics metrics;
    private ChannelHandlerContext ctx;
    private State state = State.BETWEEN;
    private long lastReadNanos;
    private ScheduledFuture<?> timer;

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
        lastReadNanos = System.nanoTime();
        if (state == State.BETWEEN && headerTimeoutNanos > 0) {
            state = State.HEADERS;
            schedule(headerTimeoutNanos);
        }
        ctx.fireChannelRead(msg);
    }

    /** The request's headers are in: from now on only a stalled body counts. */
    void headersComplete() {
        cancel();
        state = State.BODY;
        if (bodyTimeoutNanos > 0) {
            schedule(bodyTimeoutNanos);
        }
    }

    /** The request is complete: wait for the next one without a timer (idle_timeout covers idleness). */
    void requestComplete() {
        cancel();
        state = State.BETWEEN;
    }

    private void schedule(long delayNanos) {
        cancel();
        timer = ctx.executor().schedule(this::expire, delayNanos, TimeUnit.NANOSECONDS);
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
        if (state == State.BODY) {
            long idle = System.nanoTime() - lastReadNanos;
            if (idle < bodyTimeoutNanos) {
                schedule(bodyTimeoutNanos - idle); // the body is still moving
                return;
            }
        } else if (state != State.HEADERS) {
            return;
        }
        metrics.rejected(state == State.HEADERS ? "header_read_timeout" : "body_read_timeout");
        ctx.channel().config().setAutoRead(false);
        ctx.writeAndFlush(Unpooled.wrappedBuffer(TIMEOUT)).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }
}
