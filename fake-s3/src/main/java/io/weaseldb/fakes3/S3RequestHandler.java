package io.weaseldb.fakes3;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection's request loop: parse the head, apply faults, collect the body, hand the work to
 * a worker thread and write the answer when it comes back.
 *
 * <p>Thread-safety: one instance per channel, confined to the channel's event loop. Worker threads
 * never touch it; they re-submit their result to the event loop ({@link #complete}).
 *
 * <p>Requests on a connection are served one at a time. HTTP pipelining (a new request before the
 * previous answer) is refused with 400 and a close: AWS clients never pipeline, so one that does
 * is broken and should hear about it.
 *
 * <p>Errors found before the body is read: if there is no body, or a small one, the body is
 * discarded and the error sent after it, keeping the connection. If the body is large, of unknown
 * length, or the client waits for {@code 100 Continue}, the error is sent at once with
 * {@code Connection: close}, the rest of the body is discarded for a short while (so the client can
 * read the answer instead of getting a reset) and the connection is closed.
 */
final class S3RequestHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(S3RequestHandler.class);
    private static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC);
    /** Bodies up to this size are read and dropped so that an early error keeps the connection. */
    private static final long DISCARD_LIMIT_BYTES = 1024 * 1024;
    /** How long to keep reading (and dropping) a body after an early error before closing. */
    private static final long LINGER_MS = 2000;

    private enum State {
        /** Waiting for a request head. */
        IDLE,
        /** Collecting the body of a request that will be executed. */
        READING,
        /** Dropping the body of a rejected request; the answer is sent at its end. */
        DISCARDING,
        /** Answered with Connection: close; dropping input until the body ends or time runs out. */
        LINGERING,
        /** The request is with a worker (or delayed by a latency fault). */
        IN_FLIGHT,
        /** A timeout fault: never answer, ignore everything. */
        HELD,
        /** Closed or closing. */
        CLOSED
    }

    /** One request/response exchange. Event-loop confined, except {@link #releaseBudget}. */
    private final class Exchange {
        final String requestId;
        final boolean head;
        final boolean keepAlive;
        final String resource;
        RequestParser.Parsed parsed;
        FaultPlan plan = FaultPlan.NONE;
        RequestBodyReader reader;
        /** Answer to send once the discarded body ends. */
        S3Response pending;
        private long reservedBytes;
        private final AtomicBoolean released = new AtomicBoolean();

        Exchange(String requestId, HttpRequest request) {
            this.requestId = requestId;
            this.head = request.method().equals(HttpMethod.HEAD);
            this.keepAlive = HttpUtil.isKeepAlive(request);
            String uri = request.uri();
            int q = uri.indexOf('?');
            this.resource = q < 0 ? uri : uri.substring(0, q);
        }

        boolean reserve(long bytes) {
            if (!context.tryReserve(bytes)) {
                return false;
            }
            reservedBytes = bytes;
            return true;
        }

        /** Idempotent; called by the event loop or, once the exchange was dispatched, the worker. */
        void releaseBudget() {
            if (reservedBytes > 0 && released.compareAndSet(false, true)) {
                context.release(reservedBytes);
            }
        }
    }

    private final ServerContext context;
    private State state = State.IDLE;
    private Exchange current;
    /** This handler's context, for the request timer (set when added to the pipeline). */
    private ChannelHandlerContext self;
    /** When bytes last arrived (System.nanoTime). */
    private long lastBytesNanos;
    /** When the first byte of a request head still being received arrived; 0 with none. */
    private long headStartNanos;
    /** The request timer's next check, or null: armed by arriving bytes, one at a time. */
    private io.netty.util.concurrent.ScheduledFuture<?> requestTimer;

    S3RequestHandler(ServerContext context) {
        this.context = context;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        self = ctx;
    }

    /**
     * A handler for the front of the pipeline (before the HTTP codec, which holds partial heads
     * back): it notes when bytes arrive, so a request whose head or body stops coming is timed
     * out. The idle timer alone (any byte resets it, {@link FakeS3Server#IDLE_TIMEOUT_SECONDS})
     * let a stalled upload hold its share of the body budget, and a trickled head a connection
     * slot, for minutes.
     */
    io.netty.channel.ChannelInboundHandler arrivals() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                onBytes(msg);
                ctx.fireChannelRead(msg);
            }
        };
    }

    private void onBytes(Object msg) {
        long now = System.nanoTime();
        lastBytesNanos = now;
        if (state == State.IDLE && headStartNanos == 0 && !onlyLineBreaks(msg)) {
            headStartNanos = now; // empty lines before a request line are ignored (RFC 9112 2.2), as the codec does
        }
        if (requestTimer == null && self != null) {
            requestTimer = self.executor().schedule(this::checkRequestTimeout, context.requestTimeoutNanos,
                    TimeUnit.NANOSECONDS);
        }
    }

    private static boolean onlyLineBreaks(Object msg) {
        if (!(msg instanceof io.netty.buffer.ByteBuf b)) {
            return false;
        }
        return b.forEachByte(c -> c == '\r' || c == '\n') < 0;
    }

    /**
     * The request timer: a request being received (its head, or the body of one that was read or
     * is being discarded) that went the request timeout without a byte, or whose head took that
     * long in all, is answered {@code 400 RequestTimeout} (a discarded one its own error) and its
     * connection closed, returning its body budget. Otherwise it checks again when that could
     * first be true; between requests, or once one is received, it stops (bytes arm it again).
     */
    private void checkRequestTimeout() {
        requestTimer = null;
        boolean receiving = state == State.READING || state == State.DISCARDING
                || (state == State.IDLE && headStartNanos != 0);
        if (!receiving || !self.channel().isActive()) {
            return;
        }
        long deadline = lastBytesNanos + context.requestTimeoutNanos;
        if (state == State.IDLE) {
            deadline = Math.min(deadline, headStartNanos + context.requestTimeoutNanos);
        }
        long wait = deadline - System.nanoTime();
        if (wait > 0) {
            requestTimer = self.executor().schedule(this::checkRequestTimeout, wait, TimeUnit.NANOSECONDS);
            return;
        }
        context.timedOutRequests.incrementAndGet();
        log.debug("request from {} timed out while being received ({})", self.channel().remoteAddress(), state);
        if (state == State.DISCARDING) {
            answerAndClose(self, current.pending);
            return;
        }
        if (current == null) { // a head still coming: the answer and its header name one new request id
            String requestId = context.nextRequestId();
            answerAndClose(self, S3Response.error(S3ErrorCode.REQUEST_TIMEOUT, "/", requestId), requestId);
            return;
        }
        current.releaseBudget();
        answerAndClose(self, S3Response.error(S3ErrorCode.REQUEST_TIMEOUT, current.resource, current.requestId));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof HttpRequest request) {
                onHead(ctx, request);
            }
            if (msg instanceof HttpContent content) {
                onContent(ctx, content);
            }
        } finally {
            // Every inbound buffer ends here: the body reader copied what it needed.
            ReferenceCountUtil.release(msg);
        }
    }

    private void onHead(ChannelHandlerContext ctx, HttpRequest request) {
        switch (state) {
            case IDLE -> { }
            case HELD, CLOSED, LINGERING -> {
                return;
            }
            case READING, DISCARDING, IN_FLIGHT -> {
                Exchange refused = new Exchange(context.nextRequestId(), request);
                abandonCurrent();
                current = refused;
                answerAndClose(ctx, S3Response.error(S3ErrorCode.INVALID_REQUEST.status, S3ErrorCode.INVALID_REQUEST.code,
                        "HTTP pipelining is not supported", refused.resource, refused.requestId));
                return;
            }
        }
        headStartNanos = 0; // the head is in
        context.requests.incrementAndGet();
        Exchange exchange = new Exchange(context.nextRequestId(), request);
        current = exchange;

        if (request.decoderResult().isFailure()) {
            Throwable cause = request.decoderResult().cause();
            S3ErrorCode code = cause instanceof TooLongHttpHeaderException
                    ? S3ErrorCode.REQUEST_HEADER_SECTION_TOO_LARGE
                    : cause instanceof TooLongHttpLineException ? S3ErrorCode.INVALID_URI : S3ErrorCode.INVALID_REQUEST;
            String message = cause instanceof TooLongFrameException ? code.defaultMessage
                    : "Malformed HTTP request: " + cause.getMessage();
            log.debug("malformed request from {}: {}", ctx.channel().remoteAddress(), cause.toString());
            // After a bad message the decoder drops the rest of the stream; answer and close.
            answerAndClose(ctx, S3Response.error(code.status, code.code, message, "/", exchange.requestId));
            return;
        }

        try {
            exchange.parsed = context.parser.parse(request);
        } catch (S3ErrorException e) {
            rejectBeforeBody(ctx, request, S3Response.error(e, exchange.resource, exchange.requestId));
            return;
        }
        S3Request s3Request = exchange.parsed.request();
        exchange.plan = context.faults.decide(s3Request.faultOperation(), s3Request.faultKey());
        if (exchange.plan.terminal().isPresent()) {
            switch (exchange.plan.terminal().get()) {
                case FaultKind.Reset r -> {
                    state = State.CLOSED;
                    later(ctx, exchange.plan.delayMs(), () -> reset(ctx));
                    return;
                }
                case FaultKind.Timeout t -> {
                    state = State.HELD;
                    return;
                }
                case FaultKind.Error e -> { } // answered after the body, instead of executing
                case FaultKind.LostReply l -> { } // executed, then the connection is closed
                case FaultKind.Latency l -> throw new AssertionError("latency is never terminal");
            }
        }

        PayloadSpec payload = exchange.parsed.payload();
        boolean injectedError = exchange.plan.terminal().orElse(null) instanceof FaultKind.Error;
        if (payload != null && !injectedError) {
            if (!exchange.reserve(payload.length())) {
                context.rejectedBusy.incrementAndGet();
                rejectBeforeBody(ctx, request, S3Response.error(S3ErrorCode.SLOW_DOWN.status, S3ErrorCode.SLOW_DOWN.code,
                        "Too many bytes of request bodies in flight; retry later", exchange.resource,
                        exchange.requestId));
                return;
            }
            exchange.reader = new RequestBodyReader(payload);
            context.payloadEncodings.incrementAndGet(payload.encoding().ordinal());
        }
        if (HttpUtil.is100ContinueExpected(request)) {
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                    Unpooled.EMPTY_BUFFER));
        }
        state = State.READING;
    }

    private void onContent(ChannelHandlerContext ctx, HttpContent content) {
        boolean last = content instanceof LastHttpContent;
        if (content.decoderResult().isFailure() && (state == State.READING || state == State.DISCARDING)) {
            // a malformed chunk: the codec drops everything after it, so the connection cannot go on
            log.debug("malformed body from {}: {}", ctx.channel().remoteAddress(), content.decoderResult().cause().toString());
            Exchange exchange = current;
            exchange.releaseBudget();
            answerAndClose(ctx, S3Response.error(S3ErrorCode.INCOMPLETE_BODY.status, S3ErrorCode.INCOMPLETE_BODY.code,
                    "Malformed HTTP request body: " + content.decoderResult().cause().getMessage(), exchange.resource,
                    exchange.requestId));
            return;
        }
        switch (state) {
            case READING -> {
                Exchange exchange = current;
                if (exchange.reader != null) {
                    try {
                        exchange.reader.feed(content.content());
                    } catch (S3ErrorException e) {
                        exchange.releaseBudget();
                        answerAndLinger(ctx, S3Response.error(e, exchange.resource, exchange.requestId), last);
                        return;
                    }
                }
                if (last) {
                    onRequestEnd(ctx, exchange);
                }
            }
            case DISCARDING -> {
                if (last) {
                    answer(ctx, current.pending, false);
                }
            }
            case LINGERING -> {
                if (last) {
                    ctx.close();
                }
            }
            case IDLE, IN_FLIGHT, HELD, CLOSED -> { } // stray content: nothing to do with it
        }
    }

    private void onRequestEnd(ChannelHandlerContext ctx, Exchange exchange) {
        ReceivedBody body = null;
        if (exchange.reader != null) {
            try {
                body = exchange.reader.finish();
            } catch (S3ErrorException e) {
                exchange.releaseBudget();
                answer(ctx, S3Response.error(e, exchange.resource, exchange.requestId), false);
                return;
            }
            exchange.reader = null;
        }
        state = State.IN_FLIGHT;
        ReceivedBody received = body;
        later(ctx, exchange.plan.delayMs(), () -> dispatch(ctx, exchange, received));
    }

    /** Runs {@code task} on the event loop after {@code delayMs}, or now. */
    private static void later(ChannelHandlerContext ctx, long delayMs, Runnable task) {
        if (delayMs > 0) {
            ctx.executor().schedule(task, delayMs, TimeUnit.MILLISECONDS);
        } else {
            task.run();
        }
    }

    private void dispatch(ChannelHandlerContext ctx, Exchange exchange, ReceivedBody body) {
        if (current != exchange || !ctx.channel().isActive()) {
            exchange.releaseBudget();
            return;
        }
        if (exchange.plan.terminal().orElse(null) instanceof FaultKind.Error e) {
            answer(ctx, S3Response.error(e.status(), e.code(), "Injected fault (" + e.code() + ")",
                    exchange.resource, exchange.requestId), false);
            return;
        }
        try {
            context.workers.execute(() -> {
                S3Response response;
                try {
                    response = context.operations.execute(exchange.parsed, body, exchange.requestId);
                } catch (Throwable t) {
                    // I/O failures are operating errors; anything else is a bug. Either way the
                    // client gets a 500 rather than a hung request, and the log says why.
                    if (t instanceof java.io.UncheckedIOException) {
                        log.warn("request {} {} failed: {}", exchange.requestId, exchange.resource, t.toString());
                    } else {
                        log.error("request {} {} failed", exchange.requestId, exchange.resource, t);
                    }
                    response = S3Response.error(S3ErrorCode.INTERNAL_ERROR, exchange.resource, exchange.requestId);
                } finally {
                    exchange.releaseBudget();
                }
                S3Response done = response;
                try {
                    ctx.executor().execute(() -> complete(ctx, exchange, done));
                } catch (RejectedExecutionException shuttingDown) {
                    // The server is closing; the connection goes with it.
                }
            });
        } catch (RejectedExecutionException busy) {
            exchange.releaseBudget();
            context.rejectedBusy.incrementAndGet();
            answer(ctx, S3Response.error(S3ErrorCode.SLOW_DOWN.status, S3ErrorCode.SLOW_DOWN.code,
                    "The server's work queue is full; retry later", exchange.resource, exchange.requestId), false);
        }
    }

    /** Back on the event loop with the worker's answer. */
    private void complete(ChannelHandlerContext ctx, Exchange exchange, S3Response response) {
        if (current != exchange || state != State.IN_FLIGHT) {
            return; // the connection was closed or reset meanwhile
        }
        if (exchange.plan.terminal().orElse(null) instanceof FaultKind.LostReply) {
            // The operation is applied (and durable); the client never hears about it.
            state = State.CLOSED;
            current = null;
            ctx.close();
            return;
        }
        answer(ctx, response, false);
    }

    /** An error found at the head: answer after a small body, or at once and close. */
    private void rejectBeforeBody(ChannelHandlerContext ctx, HttpRequest request, S3Response response) {
        long length = HttpUtil.getContentLength(request, 0L);
        boolean chunked = HttpUtil.isTransferEncodingChunked(request);
        boolean noBody = length == 0 && !chunked;
        if (noBody || (!chunked && length <= DISCARD_LIMIT_BYTES && !HttpUtil.is100ContinueExpected(request))) {
            current.pending = response;
            state = State.DISCARDING;
            return;
        }
        answerAndLinger(ctx, response, false);
    }

    /** Answers now with Connection: close and drops input until the body ends or the linger time passes. */
    private void answerAndLinger(ChannelHandlerContext ctx, S3Response response, boolean bodyComplete) {
        if (bodyComplete) {
            answer(ctx, response, true);
            return;
        }
        write(ctx, response, false);
        state = State.LINGERING;
        current = null;
        ctx.executor().schedule(() -> {
            if (ctx.channel().isActive()) {
                ctx.close();
            }
        }, LINGER_MS, TimeUnit.MILLISECONDS);
    }

    private void answerAndClose(ChannelHandlerContext ctx, S3Response response) {
        answerAndClose(ctx, response, current != null ? current.requestId : context.nextRequestId());
    }

    private void answerAndClose(ChannelHandlerContext ctx, S3Response response, String requestId) {
        write(ctx, response, false, requestId).addListener(ChannelFutureListener.CLOSE);
        state = State.CLOSED;
        current = null;
    }

    /** Writes the answer to the current exchange and gets ready for the next request. */
    private void answer(ChannelHandlerContext ctx, S3Response response, boolean forceClose) {
        boolean keepAlive = !forceClose && current != null && current.keepAlive;
        var future = write(ctx, response, keepAlive);
        current = null;
        if (keepAlive) {
            state = State.IDLE;
        } else {
            state = State.CLOSED;
            future.addListener(ChannelFutureListener.CLOSE);
        }
    }

    private ChannelFuture write(ChannelHandlerContext ctx, S3Response response, boolean keepAlive) {
        return write(ctx, response, keepAlive, current != null ? current.requestId : context.nextRequestId());
    }

    private ChannelFuture write(ChannelHandlerContext ctx, S3Response response, boolean keepAlive, String requestId) {
        boolean head = current != null && current.head;
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(response.status()),
                head || response.body().length == 0 ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(response.body()));
        var h = res.headers();
        for (var e : response.headers()) {
            h.add(e.getKey(), e.getValue());
        }
        h.set("x-amz-request-id", requestId);
        h.set("x-amz-id-2", requestId);
        h.set(HttpHeaderNames.DATE, HTTP_DATE.format(context.clock.instant()));
        h.set(HttpHeaderNames.SERVER, "WeaselDB-FakeS3");
        int status = response.status();
        if (status != 204 && status != 304 && status >= 200) {
            h.set(HttpHeaderNames.CONTENT_LENGTH, response.contentLength());
        }
        if (!keepAlive) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        if (status >= 400) {
            context.errorResponses.incrementAndGet();
        }
        return ctx.writeAndFlush(res);
    }

    private void reset(ChannelHandlerContext ctx) {
        abandonCurrent();
        state = State.CLOSED;
        if (ctx.channel().isActive()) {
            // SO_LINGER 0 turns the close into a TCP RST: the client sees "connection reset".
            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
            ctx.close();
        }
    }

    /** Drops the current exchange without answering (its budget is returned). */
    private void abandonCurrent() {
        if (current != null && state != State.IN_FLIGHT) {
            // In flight, the worker owns the budget and returns it when done.
            current.releaseBudget();
        }
        current = null;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        abandonCurrent();
        state = State.CLOSED;
        super.channelInactive(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            log.debug("closing idle connection {}", ctx.channel().remoteAddress());
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            log.debug("connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("connection {} failed", ctx.channel().remoteAddress(), cause);
        }
        ctx.close();
    }
}
