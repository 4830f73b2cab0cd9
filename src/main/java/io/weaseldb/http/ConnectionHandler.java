package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import io.weaseldb.json.BadRequestException;
import io.weaseldb.json.CommitParser;
import io.weaseldb.json.CommitParserPool;
import io.weaseldb.json.JsonWriter;
import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Outcome;
import io.weaseldb.subscribe.SubscriberHub;
import io.weaseldb.subscribe.Subscription;
import io.weaseldb.txn.CommitRequest;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: routes requests, streams commit bodies into the parser as they arrive,
 * hands work to the pipeline, and writes responses strictly in request order (HTTP/1.1
 * pipelining). Reading pauses while {@code max_pipelined_requests} responses are outstanding or
 * the socket is not writable, so a client cannot make the server queue without bound.
 *
 * <p>Owned by the connection's event loop: every field is touched only there. Completions from
 * the pipeline arrive through {@link Slot#complete}, which the release stage runs on this loop.
 */
final class ConnectionHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ConnectionHandler.class);

    private enum Body { NONE, COMMIT, SMALL, DISCARD }

    /** Largest body of a request other than a commit (retention policies). */
    private static final int MAX_SMALL_BODY = 64 << 10;
    /** Length of the request ids the server makes for commits without one (UUIDs). */
    private static final int SERVER_ID_LENGTH = 36;
    /**
     * Decodes request targets as HTML forms encode queries (docs/api.md): percent-escapes, {@code +}
     * as a space, and parameters split on {@code &} only. Netty's default also splits on {@code ;}
     * (an old CGI convention), so {@code request_id=abc;def} asked about, and banned, {@code abc}.
     * Read-only once built, so one serves every connection.
     */
    private static final QueryStringDecoder.Builder QUERY = QueryStringDecoder.builder().semicolonIsNormalChar(true);

    private final HttpSettings settings;
    private final Backend backend;
    private final HttpMetrics metrics;
    private final CommitParserPool parsers;
    private final BodyBudget bodies;

    private ChannelHandlerContext ctx;
    private final ArrayDeque<Slot> slots = new ArrayDeque<>();
    private Body body = Body.NONE;
    private CommitParser parser;
    private Slot bodySlot;
    /**
     * The request whose client waits for a 100 Continue that waits for the answers before it, or
     * null. Owed only while its body is still wanted (it is {@link #bodySlot}).
     */
    private Slot continueOwed;
    private long bodyBytes;
    /** Of {@link #bodies}, held for the commit body being received (0 when none). */
    private long reservedBytes;
    private boolean closing; // a response that ends the connection is queued: accept nothing more
    /**
     * A request asked to end the connection ({@code Connection: close}, or HTTP/1.0 without
     * keep-alive): it is the last one read (RFC 9112 9.6). Requests decoded after it are ignored,
     * and once it is read whole what the client sends is dropped undecoded. Its answer, in its
     * turn, closes the connection ({@link #closing} from then).
     */
    private boolean closeRequested;
    /** When the last answer was written (event loop ticker): the idle timeout counts from it and from the last read. */
    private long lastAnswerNanos;
    private boolean readSinceIdleCheck;
    private boolean idleRecheckPending;
    private boolean lingering; // that response is written; discarding input until the client is done
    private boolean timedOut; // a request was not sent in time: close after the last answer, no lingering
    private long lingerLeft;
    /**
     * A refused body's bytes count against {@link #lingerLeft} ({@link #refuseBody}): reading stops
     * when it runs out, answered or not.
     */
    private boolean lingerBounded;
    private boolean bodyComplete = true;
    /**
     * The client's input ended ({@link ServerCodec.EndOfInput}): every request it sent has been
     * delivered; the answers owed go out, the last closes the connection.
     */
    private boolean inputEnded;
    /**
     * The transport reported the end of input: nothing more to read, and starting a read would
     * fail (epoll); requests still held in flow control are taken one by one instead.
     */
    private boolean inputShut;
    private Subscription subscription; // set once this connection became an SSE stream
    // A small JSON body being aggregated: copied into one heap buffer that grows by doubling
    // (a composite of the chunks merged itself every 16 components: quadratic in tiny chunks).
    private ByteBuf small;
    private java.util.function.Consumer<byte[]> smallDone;

    private final Authenticator auth;
    private final ReadTimeouts timeouts;
    private final ServerCodec codec;
    private final HttpDate date; // stamps every answer as it is written
    private static final Logger access = LoggerFactory.getLogger("io.weaseldb.access");

    ConnectionHandler(HttpSettings settings, Backend backend, HttpMetrics metrics, CommitParserPool parsers,
                      BodyBudget bodies, Authenticator auth, ReadTimeouts timeouts, ServerCodec codec, HttpDate date) {
        this.date = date;
        this.settings = settings;
        this.backend = backend;
        this.metrics = metrics;
        this.parsers = parsers;
        this.bodies = bodies;
        this.auth = auth;
        this.timeouts = timeouts;
        this.codec = codec;
    }

    /** A request's place in the response order, and where the pipeline sends its outcome. */
    final class Slot implements Completion {
        final Endpoint endpoint;
        final long startNanos; // the event loop's ticker, like lastAnswerNanos
        final boolean keepAlive;
        final boolean http10;
        FullHttpResponse response;
        /** Or: the pipeline's outcome, encoded when written (most answers: no response object). */
        Outcome outcome;
        String requestId; // for the access log, when the pipeline named one
        HttpResponse streamHead; // a subscribe: the response head, after which the stream starts
        Runnable startStream;
        Runnable cancelStream; // releases the subscriber slot if the stream never starts
        /**
         * Work put off until every answer before this one is written ({@link #flushReady}): a
         * read pipelined behind other requests, which must see the commits answered before it.
         */
        Runnable onTurn;
        boolean closeAfter;
        boolean abandoned;

        Slot(Endpoint endpoint, long startNanos, boolean keepAlive, boolean http10) {
            this.endpoint = endpoint;
            this.startNanos = startNanos;
            this.keepAlive = keepAlive;
            this.http10 = http10;
        }

        @Override
        public Executor executor() {
            return ctx.channel().eventLoop();
        }

        boolean answered() {
            return response != null || outcome != null;
        }

        @Override
        public void complete(Outcome outcome) {
            if (answered() || abandoned || !ctx.channel().isActive()) {
                return;
            }
            if (endpoint == Endpoint.COMMIT) { // probes and status queries are not commits
                metrics.outcome(outcome);
            }
            requestId = Outcome.requestIdOf(outcome);
            this.outcome = outcome;
            flushReady();
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.lastAnswerNanos = ctx.executor().ticker().nanoTime();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        readSinceIdleCheck = true;
        try {
            if (msg instanceof HttpRequest req) {
                onRequest(req);
            }
            if (msg instanceof HttpContent c) {
                onContent(c);
            } else if (msg == ServerCodec.EndOfInput.INSTANCE) {
                endOfInput();
            }
        } finally {
            if (msg instanceof ServerCodec.PooledRequest req) {
                codec.recycle(req); // read: nothing here keeps it (see onRequest)
            } else {
                io.netty.util.ReferenceCountUtil.release(msg);
            }
        }
    }

    /** Reads {@code req} here and in what it calls, and keeps none of it: the decoder uses it again. */
    private void onRequest(HttpRequest req) {
        if (closing || closeRequested) {
            body = Body.DISCARD; // not executed, not answered: its bytes are dropped
            return;
        }
        long start = ctx.executor().ticker().nanoTime();
        if (req.decoderResult().isFailure()) {
            Throwable cause = req.decoderResult().cause();
            if (cause instanceof PrematureChannelClosureException) {
                return; // the client's input ended in this head: nothing to answer (endOfInput follows)
            }
            Slot slot = newSlot(Endpoint.UNKNOWN, start, false, false);
            HttpResponseStatus status;
            String message;
            if (cause instanceof TooLongHttpHeaderException) {
                status = HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
                message = "request headers exceed " + settings.maxHeaderBytes() + " bytes";
                metrics.rejected("max_header_bytes");
            } else if (cause instanceof TooLongHttpLineException || cause instanceof TooLongFrameException) {
                status = Responses.URI_TOO_LONG;
                message = "request line too long";
                metrics.rejected("max_request_line");
            } else {
                status = HttpResponseStatus.BAD_REQUEST;
                message = "malformed HTTP request: " + cause.getMessage();
                metrics.rejected("malformed_request");
            }
            slot.closeAfter = true;
            closing = true;
            body = Body.DISCARD;
            respond(slot, Responses.error(ctx.alloc(), status, "bad_request", message));
            return;
        }
        timeouts.headersComplete();
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        boolean http10 = req.protocolVersion().equals(HttpVersion.HTTP_1_0);
        if (!keepAlive) {
            // the client sends nothing more it wants served: what follows was never to be executed
            closeRequested = true;
        }
        if (req.protocolVersion().majorVersion() != 1) {
            // "HTTP/2.0 ..." as a request line: not HTTP/1.x (whose higher minor versions are
            // served as 1.1), so neither its framing nor its semantics can be assumed (RFC 9110 15.6.6)
            refuseUnframed(start, http10, "http_version", HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED,
                    req.protocolVersion().text() + " is not supported: send HTTP/1.1 (or 1.0)");
            return;
        }
        if (!plainFraming(req)) {
            // The decoder frames a body as chunked when "chunked" is anywhere in the list, so
            // "gzip, chunked" would be committed as if uncoded: refuse it (RFC 9112 6.1). Its body's
            // framing cannot be trusted, so the connection closes after the answer.
            refuseUnframed(start, http10, "transfer_coding", HttpResponseStatus.NOT_IMPLEMENTED,
                    "Transfer-Encoding \"" + String.join(", ", req.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING))
                            + "\" is not supported: send the body with Content-Length or Transfer-Encoding: chunked alone");
            return;
        }
        String uri = originForm(req.uri());
        String malformed = malformedTarget(uri);
        if (malformed != null) {
            // the decoder would throw on it; the request's framing is intact, so only it fails
            Slot slot = newSlot(Endpoint.UNKNOWN, start, keepAlive, http10);
            metrics.rejected("malformed_target");
            body = Body.DISCARD;
            bodyComplete = false;
            // decided before the token is checked: its body must cost no more than a 401's
            refuseHead(req, slot, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request", malformed));
            return;
        }
        // a commit's plain path needs no decoder (it was ~50 bytes of garbage per request)
        QueryStringDecoder query = plainPath(uri) ? null : QUERY.build(uri);
        String path = query == null ? uri : query.path();
        Route route = Route.of(req.method(), path);
        Slot slot = newSlot(route.endpoint(), start, keepAlive, http10);
        body = Body.DISCARD; // requests other than commits carry no body we read
        bodyComplete = false;
        Authenticator.Decision decision = auth.check(req, route.endpoint());
        if (decision == Authenticator.Decision.TWO_HEADERS) {
            metrics.rejected("malformed_request");
            refuseHead(req, slot, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request",
                    "more than one Authorization header"));
        } else if (decision == Authenticator.Decision.NO_TOKEN || decision == Authenticator.Decision.INVALID_TOKEN) {
            metrics.rejected("unauthorized");
            FullHttpResponse r = Responses.error(ctx.alloc(), HttpResponseStatus.UNAUTHORIZED, "unauthorized",
                    "a valid bearer token is required (Authorization: Bearer <token>)");
            // RFC 6750 3.1: a request without a token gets the bare challenge, a token that is not valid the error
            r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, decision == Authenticator.Decision.NO_TOKEN
                    ? "Bearer realm=\"weaseldb\"" : "Bearer realm=\"weaseldb\", error=\"invalid_token\"");
            refuseHead(req, slot, r);
        } else if (decision == Authenticator.Decision.FORBIDDEN) {
            metrics.rejected("forbidden");
            FullHttpResponse r = Responses.error(ctx.alloc(), HttpResponseStatus.FORBIDDEN, "forbidden",
                    "this token lacks the " + Authenticator.roleFor(route.endpoint()).name().toLowerCase(java.util.Locale.ROOT)
                            + " role needed for " + route.endpoint().label);
            r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"weaseldb\", error=\"insufficient_scope\"");
            refuseHead(req, slot, r);
        } else if (route.endpoint() == Endpoint.UNKNOWN) {
            refuseHead(req, slot, Responses.error(ctx.alloc(), HttpResponseStatus.NOT_FOUND, "not_found",
                    "no such endpoint: " + req.method() + " " + path));
        } else if (route.allow() != null) {
            FullHttpResponse r = Responses.error(ctx.alloc(), HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                    req.method() + " is not allowed on " + route.endpoint().label + "; allowed: " + route.allow());
            r.headers().set(HttpHeaderNames.ALLOW, route.allow());
            refuseHead(req, slot, r);
        } else if (readsBody(req, route.endpoint()) && contentCoding(req) != null) {
            // a coded body (gzip, br) read as JSON is a misleading "invalid UTF-8", or, for one
            // that happens to be valid, applied as something it is not (RFC 9110 8.4)
            metrics.rejected("content_coding");
            FullHttpResponse r = Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request",
                    "Content-Encoding " + contentCoding(req) + " is not supported: send the body uncompressed");
            r.headers().set(HttpHeaderNames.ACCEPT_ENCODING, HttpHeaderValues.IDENTITY);
            refuseHead(req, slot, r);
        } else if (route.endpoint() == Endpoint.SUBSCRIBE && bodyToCome(req)) {
            // a stream reads nothing more from its client: a body still to come could not be bounded
            metrics.rejected("malformed_request");
            refuseHead(req, slot, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request",
                    "GET /v1/subscribe takes no request body"));
        } else {
            if (!readsBody(req, route.endpoint())) {
                ignoreBody(req, slot);
            }
            switch (route.endpoint()) {
                case COMMIT -> startCommit(req, slot);
                case VERSION -> version(slot);
                case OK -> probe(slot);
                case METRICS -> metricsScrape(slot);
                case SUBSCRIBE -> subscribe(req, query, slot);
                case STATUS -> status(query, slot);
                case RETENTION_LIST -> retentionList(slot);
                case RETENTION_POLICY -> retentionPolicy(req, route.param(), slot);
                case UNKNOWN -> throw new AssertionError();
            }
        }
    }

    /** Answers a request refused on its head alone (400, 401, 403, 404, 405): its body is not wanted ({@link #ignoreBody}). */
    private void refuseHead(HttpRequest req, Slot slot, FullHttpResponse answer) {
        ignoreBody(req, slot);
        respond(slot, answer);
    }

    /** Whether the endpoint reads the request's body: a commit, and a retention policy's PUT. */
    private static boolean readsBody(HttpRequest req, Endpoint endpoint) {
        return endpoint == Endpoint.COMMIT
                || (endpoint == Endpoint.RETENTION_POLICY && req.method().equals(io.netty.handler.codec.http.HttpMethod.PUT));
    }

    /** The request's first content coding other than {@code identity} (RFC 9110 8.4), or null. */
    private static String contentCoding(HttpRequest req) {
        if (!req.headers().contains(HttpHeaderNames.CONTENT_ENCODING)) {
            return null; // most requests: no list to allocate (as in plainFraming)
        }
        for (String value : req.headers().getAll(HttpHeaderNames.CONTENT_ENCODING)) {
            for (String coding : value.split(",")) {
                String c = coding.trim();
                if (!c.isEmpty() && !c.equalsIgnoreCase("identity")) {
                    return c;
                }
            }
        }
        return null;
    }

    /**
     * Whether the request has a body not yet read whole with its head, or one its client waits
     * for {@code 100 Continue} to send.
     */
    private boolean bodyToCome(HttpRequest req) {
        long length = HttpUtil.getContentLength(req, -1L);
        boolean hasBody = length > 0 || (length < 0 && HttpUtil.isTransferEncodingChunked(req));
        return hasBody && (HttpUtil.is100ContinueExpected(req) || !codec.holdsBody(length));
    }

    /**
     * The body of {@code slot}'s request is not wanted (it was refused, or its endpoint reads no
     * body). Read and dropped to its end it could cost gigabytes for up to body_deadline_ms, on a
     * connection kept for more, so if it is still to come the answer, whenever it is given, closes
     * the connection after at most {@link HttpSettings#lingerBytes} more, as a 413's does. A client
     * waiting for {@code 100 Continue} sends no body at all (RFC 9110 10.1.1): without the close,
     * what it sends next would be read as that body and never answered, so it closes too. It
     * lingers all the same: a client may send its body without waiting (RFC 9110 10.1.1), and a
     * close with its bytes unread would reset the connection, losing the answer. A body already
     * read whole with its head (and no {@code Expect}) is dropped and the connection kept.
     */
    private void ignoreBody(HttpRequest req, Slot slot) {
        if (bodyToCome(req)) {
            refuseBody(slot);
        }
    }

    private Slot newSlot(Endpoint endpoint, long start, boolean keepAlive, boolean http10) {
        Slot slot = new Slot(endpoint, start, keepAlive, http10);
        slots.addLast(slot);
        return slot;
    }

    private void startCommit(HttpRequest req, Slot slot) {
        long length = HttpUtil.getContentLength(req, -1L);
        if (length > settings.maxRequestSizeBytes()) {
            tooLarge(slot);
            return;
        }
        // Bytes are reserved as they arrive (onContent), so a head alone holds nothing: reserving a
        // declared length up front would let a few heads that never send their bodies lock every
        // other commit out. A declared length that cannot fit now is refused at once, though,
        // before 100 Continue, so a client that asked for it does not send a body in vain.
        if (length > 0 && length > bodies.limit() - bodies.used()) {
            receivingTooMuch(slot);
            return;
        }
        parser = parsers.take();
        bodySlot = slot;
        bodyBytes = 0;
        body = Body.COMMIT;
        continueIfExpected(req, slot);
    }

    /**
     * 100 Continue if the client waits for it before sending the body of {@code slot}'s request,
     * which will be read (RFC 9110 10.1.1). Not ahead of the answers of earlier requests, since
     * answers go out in order: then it is owed, sent by {@link #flushReady} right after them, and
     * the body is not timed until it is (a client that waits to be asked cannot be late).
     */
    private void continueIfExpected(HttpRequest req, Slot slot) {
        if (!HttpUtil.is100ContinueExpected(req)) {
            return;
        }
        if (slots.peekFirst() == slot) {
            ctx.writeAndFlush(continueResponse());
        } else {
            continueOwed = slot;
            timeouts.awaitingContinue();
        }
    }

    private static FullHttpResponse continueResponse() {
        return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER);
    }

    /**
     * After answers were written: the owed 100 Continue goes out once its request is the oldest
     * unanswered one, if its body is still wanted (not when the client sent it anyway, nor once
     * the request was refused or dropped). Returns whether it wrote one (to flush).
     */
    private boolean continueIfFirst() {
        Slot s = continueOwed;
        if (s != bodySlot) {
            continueOwed = null; // the body came without it, or is no longer wanted
            return false;
        }
        if (slots.peekFirst() != s) {
            return false;
        }
        continueOwed = null;
        ctx.write(continueResponse(), ctx.voidPromise());
        timeouts.continueSent();
        return true;
    }

    /**
     * 503 with Retry-After: commit bodies being received already hold max_in_flight_request_bytes.
     * Like a 413, answered at once, the rest of the body read and dropped, the connection closed.
     */
    private void receivingTooMuch(Slot slot) {
        metrics.rejected("max_in_flight_request_bytes");
        refuseBody(slot);
        slot.complete(new Outcome.Unavailable("the server is receiving too many commit bytes at once"
                + " (max_in_flight_request_bytes); retry shortly", false, settings.retryAfterSeconds(), null, null));
    }

    /**
     * Answers a request whose body's framing cannot be trusted with {@code status}: whatever
     * follows it is discarded and the connection closes after the answer.
     */
    private void refuseUnframed(long start, boolean http10, String reason, HttpResponseStatus status, String message) {
        Slot slot = newSlot(Endpoint.UNKNOWN, start, false, http10);
        metrics.rejected(reason);
        refuseBody(slot);
        bodyComplete = false;
        respond(slot, Responses.error(ctx.alloc(), status, "bad_request", message));
    }

    /**
     * Drops the body being received and what it holds; its answer ends the connection, and at
     * most {@link HttpSettings#lingerBytes} more of it is read and dropped, before the answer
     * (while earlier ones are awaited) and after it together.
     */
    private void refuseBody(Slot slot) {
        closeParser();
        slot.closeAfter = true;
        closing = true;
        body = Body.DISCARD;
        lingerLeft = settings.lingerBytes();
        lingerBounded = true;
    }

    private void releaseReserved() {
        if (reservedBytes > 0) {
            bodies.release(reservedBytes);
            reservedBytes = 0;
        }
    }

    private void tooLarge(Slot slot) {
        metrics.commitOutcome("content_too_large");
        tooLarge(slot, settings.maxRequestSizeBytes(), "max_request_size_bytes");
    }

    /** 413: answered at once; the rest of the body is read and dropped, never buffered. */
    private void tooLarge(Slot slot, long limit, String what) {
        metrics.rejected("max_request_size");
        refuseBody(slot);
        respond(slot, Responses.error(ctx.alloc(), Responses.CONTENT_TOO_LARGE, "content_too_large",
                "request body exceeds " + what + " (" + limit + " bytes)"));
    }

    private void onContent(HttpContent c) {
        if (c.decoderResult().isFailure()) {
            if (c.decoderResult().cause() instanceof PrematureChannelClosureException) {
                return; // as in onRequest
            }
            badFraming(c.decoderResult().cause());
            return;
        }
        boolean last = c instanceof LastHttpContent;
        ByteBuf buf = c.content();
        switch (body) {
            case COMMIT -> {
                // a commit is read only before the connection begins to close: a later one is never started
                assert !closing : "a commit body read on a closing connection";
                bodyBytes += buf.readableBytes();
                if (bodyBytes > settings.maxRequestSizeBytes()) {
                    tooLarge(bodySlot);
                } else if (!reserveMore(buf.readableBytes())) {
                    Slot slot = bodySlot;
                    bodySlot = null;
                    receivingTooMuch(slot);
                } else {
                    CommitRequest request = null;
                    try {
                        if (buf.isReadable()) {
                            parser.feed(buf);
                        }
                        if (last) {
                            request = parser.finish();
                        }
                    } catch (BadRequestException e) {
                        badCommit(e.getMessage());
                    } catch (RuntimeException e) {
                        // a parser bug must cost this request, not the connection and its pipeline
                        log.warn("the commit parser failed on a request body; answering 400", e);
                        badCommit("malformed request body");
                    }
                    if (request != null) {
                        submitCommit(request);
                    }
                }
            }
            case SMALL -> {
                if (small.readableBytes() + buf.readableBytes() > MAX_SMALL_BODY) {
                    releaseSmall();
                    Slot slot = bodySlot;
                    bodySlot = null;
                    tooLarge(slot, MAX_SMALL_BODY, "retention policy bodies");
                } else {
                    small.writeBytes(buf, buf.readerIndex(), buf.readableBytes());
                    if (last) {
                        byte[] bytes = new byte[small.readableBytes()];
                        small.readBytes(bytes);
                        java.util.function.Consumer<byte[]> done = smallDone;
                        releaseSmall();
                        body = Body.NONE;
                        bodySlot = null;
                        done.accept(bytes);
                    }
                }
            }
            case DISCARD -> {
                if (lingering || closing) {
                    lingerLeft -= buf.readableBytes();
                    if (lingering && (last || lingerLeft <= 0)) {
                        ctx.close();
                    } else if (!lingering && !last && lingerBounded && lingerLeft <= 0) {
                        // its answer waits behind earlier ones: read no more until it is out
                        // (resumeIfIdle leaves a closing connection paused; afterClosingResponse closes)
                        ctx.channel().config().setAutoRead(false);
                    }
                }
            }
            case NONE -> { }
        }
        if (last) {
            if (closeRequested) {
                // the last request is in: what follows is dropped undecoded, and nothing is timed
                codec.discardInput();
                timeouts.lastRequestRead();
            } else {
                timeouts.requestComplete();
            }
            bodyComplete = true;
            if (body != Body.COMMIT && body != Body.SMALL && !closing) {
                body = Body.NONE;
            }
            pauseIfBusy(); // only between requests: pausing mid-body would starve the request itself
        }
    }

    /** A commit body reserves its bytes as they arrive. */
    private boolean reserveMore(long bytes) {
        if (!bodies.tryReserve(bytes)) {
            return false;
        }
        reservedBytes += bytes;
        return true;
    }

    /** The body parsed: the parser goes back to the pool and the commit to the pipeline. */
    private void submitCommit(CommitRequest request) {
        parsers.give(parser);
        parser = null;
        releaseReserved(); // from here the pipeline's queue (max_pending_commits) bounds it
        body = Body.NONE;
        Slot slot = bodySlot;
        bodySlot = null;
        if (!backend.submitCommit(request, slot)) {
            metrics.rejected("pipeline_full");
            slot.complete(new Outcome.Unavailable("the commit pipeline is full; retry shortly", false,
                    settings.retryAfterSeconds(), null, request.requestId()));
        }
    }

    /**
     * The body's framing is broken (a bad chunk size, say): the request is malformed, whatever it
     * parsed to so far, and the decoder drops the rest of the stream. 400 if the request is still
     * unanswered, and the connection closes after the answers already queued.
     */
    private void badFraming(Throwable cause) {
        timeouts.requestComplete();
        if (body == Body.COMMIT) {
            metrics.commitOutcome("bad_request");
        }
        Slot slot = dropBody();
        if (slot != null) {
            // its answer is this 400; a body whose request was answered or refused already (a
            // malformed target, a 404, a 413: counted then) only ends the connection
            metrics.rejected("malformed_request");
        }
        closeWith(slot, HttpResponseStatus.BAD_REQUEST, "malformed HTTP request body: " + cause.getMessage());
    }

    /**
     * Drops the body being received when its request's answer depends on it (a commit's parser and
     * share of the budget, a retention body) and returns that request's slot; null when no such
     * body is in progress (its answer does not depend on the body, or is already given).
     */
    private Slot dropBody() {
        Slot slot = null;
        if (body == Body.COMMIT) {
            closeParser();
            slot = bodySlot;
        } else if (body == Body.SMALL) {
            releaseSmall();
            slot = bodySlot;
        }
        bodySlot = null;
        return slot;
    }

    /**
     * Reads no more requests and ends the connection: {@code slot}, if given, is answered with
     * {@code status} in its turn and closes it; otherwise it closes after the answers already
     * queued, or now if there are none.
     */
    private void closeWith(Slot slot, HttpResponseStatus status, String message) {
        closing = true;
        body = Body.DISCARD;
        if (slot != null) {
            slot.closeAfter = true;
            respond(slot, Responses.error(ctx.alloc(), status, "bad_request", message));
        } else if (!slots.isEmpty()) {
            slots.peekLast().closeAfter = true;
        } else {
            ctx.close();
        }
    }

    private void badCommit(String message) {
        closeParser();
        body = Body.DISCARD;
        Slot slot = bodySlot;
        bodySlot = null;
        metrics.commitOutcome("bad_request");
        respond(slot, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request", message));
    }

    private void releaseSmall() {
        if (small != null) {
            small.release();
            small = null;
        }
        smallDone = null;
    }

    /** Drops the commit body being received, if any: its parser and its share of the budget. */
    private void closeParser() {
        if (parser != null) {
            parser.close();
            parser = null;
        }
        releaseReserved();
    }


    private void subscribe(HttpRequest req, QueryStringDecoder query, Slot slot) {
        SubscriberHub hub = backend.subscribers();
        Backend.VersionInfo v = backend.leaderInfo();
        if (hub == null || v == null) {
            respond(slot, Responses.outcome(ctx.alloc(), backend.notLeader(null)));
            return;
        }
        long after;
        boolean durable;
        try {
            String a = param(query, "after");
            long afterParam = a == null ? -1 : nonNegative("after", a); // checked even when not used
            String lastEventId = req.headers().get("Last-Event-ID");
            // Last-Event-ID wins: an EventSource reconnects to its original URL (with the original
            // `after`) and adds the id of the last event it received.
            if (lastEventId != null && !lastEventId.isBlank()) {
                after = nonNegative("Last-Event-ID", lastEventId.trim());
            } else if (a != null) {
                after = afterParam;
            } else {
                after = LIVE_TAIL;
            }
            String d = param(query, "durable");
            if (d == null || d.equals("true") || d.equals("1")) {
                durable = true;
            } else if (d.equals("false") || d.equals("0")) {
                durable = false;
            } else {
                throw new BadRequestException("durable must be true or false, got \"" + d + "\"");
            }
        } catch (BadRequestException e) {
            respond(slot, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request", e.getMessage()));
            return;
        }
        if (after == LIVE_TAIL && behindOthers(slot)) {
            // The live tail starts after the commits answered before it on this connection: from
            // the newest version when its turn comes, not when its head was read. The connection is
            // the stream's from here all the same (later requests are not served).
            takenByStream();
            slot.onTurn = () -> {
                if (!slot.abandoned && ctx.channel().isActive()) {
                    openStream(slot, backend.subscribers(), backend.leaderInfo(), LIVE_TAIL, durable, true);
                }
            };
            return;
        }
        openStream(slot, hub, v, after, durable, false);
    }

    /**
     * Where a live tail starts: the latest committed version. The persister's, not only the event
     * cache's: the publisher thread brings the cache up to date on its own, a moment after the
     * commit's answer may have gone out, and a live tail must not replay the commits answered
     * before it (review 42).
     */
    private static long liveTail(SubscriberHub hub, Backend.VersionInfo committed) {
        return Math.max(hub.latestVersion(), committed.version());
    }

    /** {@code after} of a subscribe that names none: the newest version, when its stream starts. */
    private static final long LIVE_TAIL = -1;

    /**
     * The connection now belongs to a stream; later requests are ignored, and nothing on it is
     * timed from here: not stray bytes after the subscribe while it waits its turn (reading would
     * be paused for good), nor its own held-back last content after.
     */
    private void takenByStream() {
        closing = true;
        timeouts.streamStarted();
        codec.discardInput(); // what the client sends from here is only read to see it leave
    }

    /**
     * Admits a subscribe from {@code requested} ({@link #LIVE_TAIL}: the latest committed version) and
     * queues its stream head, or answers its refusal. {@code late}: the connection is the stream's
     * already ({@link #takenByStream}), so a refusal closes it; and leadership, looked at again in
     * its turn, may be gone ({@code hub} or {@code v} null).
     */
    private void openStream(Slot slot, SubscriberHub hub, Backend.VersionInfo v, long requested, boolean durable,
                            boolean late) {
        if (late) {
            slot.closeAfter = true; // for a refusal (a stream's head does not read it)
        }
        if (hub == null || v == null) {
            respond(slot, Responses.outcome(ctx.alloc(), backend.notLeader(null)));
            return;
        }
        long after = requested == LIVE_TAIL ? liveTail(hub, v) : requested;
        String leader = v.leaderId();
        SubscriberHub.Refusal refusal = hub.admit(after);
        if (refusal != null) {
            switch (refusal) {
                case SubscriberHub.Refusal.Truncated t -> {
                    ByteBuf b = ctx.alloc().heapBuffer(160);
                    new JsonWriter(b).beginObject().field("error", "log_truncated")
                            .field("message", "the log before version " + t.oldestVersion() + " has been deleted;"
                                    + " subscribe with after >= " + (t.oldestVersion() - 1))
                            .field("oldest_version", t.oldestVersion()).endObject();
                    respond(slot, Responses.json(ctx.alloc(), HttpResponseStatus.GONE, b));
                }
                case SubscriberHub.Refusal.TooMany m -> {
                    metrics.rejected("max_subscribers");
                    respond(slot, unavailable("too many subscribers (max_subscribers = " + m.max() + ")"));
                }
                case SubscriberHub.Refusal.NotLeading n -> {
                    // as every 503 of a server that does not lead: Retry-After, and the leader if known
                    Outcome.Unavailable known = backend.notLeader(null);
                    respond(slot, Responses.outcome(ctx.alloc(), new Outcome.Unavailable(
                            "this server no longer leads the log", false, settings.retryAfterSeconds(),
                            known.leaderId(), null, known.leaderUrl())));
                }
            }
            return;
        }
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        head.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
        if (slot.http10) {
            // an HTTP/1.0 client knows no chunked framing (RFC 9112 section 6.1): the stream is the
            // body up to the close, and the server closes when the stream ends
            head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else {
            head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        head.headers().set("X-Accel-Buffering", "no");
        final long from = after;
        final boolean mode = durable;
        slot.streamHead = head;
        slot.startStream = () -> subscription = hub.open(ctx.channel(), from, mode, leader);
        slot.cancelStream = () -> hub.cancel(from);
        if (!late) {
            takenByStream();
        }
        flushReady();
    }

    private void status(QueryStringDecoder query, Slot slot) {
        String requestId = param(query, "request_id");
        long minVersion = -1;
        try {
            if (requestId == null || requestId.isEmpty()) {
                throw new BadRequestException("request_id is required");
            }
            // an id no commit could carry needs no answer, and asking bans it (held in memory);
            // the server's own ids (UUIDs, 36 characters) are accepted whatever the limits
            io.weaseldb.json.CommitLimits limits = settings.commitLimits();
            int min = Math.min(limits.minRequestIdLength(), SERVER_ID_LENGTH);
            int max = Math.max(limits.maxRequestIdLength(), SERVER_ID_LENGTH);
            int length = io.weaseldb.json.CommitLimits.idLength(requestId);
            if (length < min || length > max) {
                throw new BadRequestException("request_id must be " + min + " to " + max
                        + " characters, as in commits; got " + length);
            }
            String mv = param(query, "min_version");
            if (mv != null) {
                minVersion = nonNegative("min_version", mv);
            }
        } catch (BadRequestException e) {
            respond(slot, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request", e.getMessage()));
            return;
        }
        if (!backend.submitStatus(requestId, minVersion, slot)) {
            metrics.rejected("pipeline_full");
            slot.complete(new Outcome.Unavailable("the pipeline is full; retry shortly", false,
                    settings.retryAfterSeconds(), null, requestId));
        }
    }

    private void retentionList(Slot slot) {
        io.weaseldb.retention.RetentionManager r = backend.retention();
        if (r == null) {
            respond(slot, notManaged());
            return;
        }
        Executor loop = ctx.channel().eventLoop();
        r.list().whenComplete((policies, t) -> loop.execute(() -> {
            if (t != null) {
                respond(slot, storageError(t));
                return;
            }
            ByteBuf b = ctx.alloc().heapBuffer(128 + policies.size() * 160);
            JsonWriter w = new JsonWriter(b).beginObject().beginArray("policies");
            for (var p : policies) {
                w.beginElementObject();
                io.weaseldb.retention.PolicyCodec.write(w, p);
                w.endObject();
            }
            w.endArray().field("oldest_version", r.oldestVersion()).endObject();
            respond(slot, Responses.json(ctx.alloc(), HttpResponseStatus.OK, b));
        }));
    }

    private void retentionPolicy(HttpRequest req, String id, Slot slot) {
        io.weaseldb.retention.RetentionManager r = backend.retention();
        // answered on the head: a PUT's body is then not wanted either (GET's and DELETE's never is)
        if (!io.weaseldb.retention.Policy.validId(id)) {
            refuseHead(req, slot, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request",
                    "policy_id must be 1 to 128 characters of [A-Za-z0-9._-]"));
            return;
        }
        if (r == null) {
            refuseHead(req, slot, notManaged());
            return;
        }
        Executor loop = ctx.channel().eventLoop();
        if (req.method().equals(io.netty.handler.codec.http.HttpMethod.GET)) {
            r.get(id).whenComplete((p, t) -> loop.execute(() -> {
                if (t != null) {
                    respond(slot, storageError(t));
                } else if (p == null) {
                    respond(slot, Responses.error(ctx.alloc(), HttpResponseStatus.NOT_FOUND, "not_found",
                            "no retention policy " + id));
                } else {
                    respond(slot, policyResponse(HttpResponseStatus.OK, p));
                }
            }));
        } else if (req.method().equals(io.netty.handler.codec.http.HttpMethod.DELETE)) {
            r.delete(id).whenComplete((deleted, t) -> loop.execute(() -> {
                if (t != null) {
                    respond(slot, storageError(t));
                } else if (!deleted) {
                    respond(slot, Responses.error(ctx.alloc(), HttpResponseStatus.NOT_FOUND, "not_found",
                            "no retention policy " + id));
                } else {
                    respond(slot, Responses.empty(HttpResponseStatus.NO_CONTENT));
                }
            }));
        } else {
            long length = HttpUtil.getContentLength(req, -1L);
            if (length > MAX_SMALL_BODY) {
                tooLarge(slot, MAX_SMALL_BODY, "retention policy bodies"); // before any 100 Continue
                return;
            }
            small = ctx.alloc().heapBuffer(256, MAX_SMALL_BODY);
            bodySlot = slot;
            body = Body.SMALL;
            continueIfExpected(req, slot);
            smallDone = bytes -> {
                io.weaseldb.retention.PolicyCodec.Request put;
                try {
                    put = io.weaseldb.retention.PolicyCodec.parseRequest(bytes);
                } catch (BadRequestException e) {
                    respond(slot, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request", e.getMessage()));
                    return;
                }
                r.put(id, put.version(), put.ttlSeconds()).whenComplete((result, t) -> loop.execute(() -> {
                    if (t != null) {
                        respond(slot, storageError(t));
                        return;
                    }
                    switch (result) {
                        case io.weaseldb.retention.RetentionManager.PutResult.Created c ->
                                respond(slot, policyResponse(HttpResponseStatus.CREATED, c.policy()));
                        case io.weaseldb.retention.RetentionManager.PutResult.Replaced rp ->
                                respond(slot, policyResponse(HttpResponseStatus.OK, rp.policy()));
                        case io.weaseldb.retention.RetentionManager.PutResult.Truncated tr -> {
                            ByteBuf b = ctx.alloc().heapBuffer(160);
                            new JsonWriter(b).beginObject().field("error", "log_truncated")
                                    .field("message", "the log before version " + tr.oldestVersion()
                                            + " has been deleted; a policy cannot pin it")
                                    .field("oldest_version", tr.oldestVersion()).endObject();
                            respond(slot, Responses.json(ctx.alloc(), HttpResponseStatus.GONE, b));
                        }
                        case io.weaseldb.retention.RetentionManager.PutResult.Invalid iv ->
                                respond(slot, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request",
                                        iv.message()));
                    }
                }));
            };
        }
    }

    private FullHttpResponse policyResponse(HttpResponseStatus status, io.weaseldb.retention.Policy p) {
        ByteBuf b = ctx.alloc().heapBuffer(192);
        JsonWriter w = new JsonWriter(b).beginObject();
        io.weaseldb.retention.PolicyCodec.write(w, p);
        w.endObject();
        return Responses.json(ctx.alloc(), status, b);
    }

    private FullHttpResponse notManaged() {
        return Responses.outcome(ctx.alloc(), backend.notLeader(null));
    }

    /** What a future failed with, past the CompletionException dependent stages wrap it in. */
    private static Throwable unwrap(Throwable t) {
        return t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    private FullHttpResponse storageError(Throwable t) {
        if (unwrap(t) instanceof io.weaseldb.retention.RetentionManager.NotLeaderException) {
            return notManaged(); // the term lost the log while the request waited: as a standby answers
        }
        log.warn("retention request failed: {}", t.toString());
        return unavailable("storage did not complete the request: " + unwrap(t).getMessage());
    }

    /** A 503 {@code unavailable} error with {@code Retry-After}, for answers that carry no pipeline outcome. */
    private FullHttpResponse unavailable(String message) {
        FullHttpResponse r = Responses.error(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable", message);
        r.headers().setInt(HttpHeaderNames.RETRY_AFTER, settings.retryAfterSeconds());
        return r;
    }

    /**
     * The origin-form ({@code /path?query}) of a request target. An absolute-form target
     * ({@code http://host:port/path?query}, which RFC 9112 3.2.2 says a server must accept) loses
     * its scheme and authority; the path of one that has none is {@code /}. Others are returned as they are.
     */
    static String originForm(String uri) {
        if (uri.isEmpty() || uri.charAt(0) == '/') {
            return uri;
        }
        int authority;
        if (uri.regionMatches(true, 0, "http://", 0, 7)) {
            authority = 7;
        } else if (uri.regionMatches(true, 0, "https://", 0, 8)) {
            authority = 8;
        } else {
            return uri;
        }
        for (int i = authority; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c == '/') {
                return uri.substring(i);
            }
            if (c == '?' || c == '#') {
                return "/" + uri.substring(i);
            }
        }
        return "/";
    }

    /** True if the request has no Transfer-Encoding or just {@code chunked}, the only coding the server reads. */
    private static boolean plainFraming(HttpRequest req) {
        if (!req.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            return true; // most requests: no list to allocate
        }
        java.util.List<String> codings = req.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING);
        return codings.size() == 1 && HttpHeaderValues.CHUNKED.contentEqualsIgnoreCase(codings.get(0).trim());
    }

    /**
     * Why a request target cannot be decoded, or null if it can: a {@code %} not followed by two
     * hex digits (the decoder throws on it, which would cost the connection), or escapes that do
     * not decode to UTF-8 (the decoder substitutes U+FFFD: {@code /v1/status} would then ask about,
     * and ban, an id other than the one sent).
     */
    static String malformedTarget(String uri) {
        int escape = -1;
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c <= 0x20 || c >= 0x7F) {
                // RFC 9112: visible ASCII only. The query decoder would read raw bytes as Latin-1, so
                // a raw UTF-8 id (as curl sends what was typed) would be asked about as another id.
                return "the request target must be printable ASCII (percent-encode other bytes as UTF-8):"
                        + " character " + i + " is not";
            }
            if (c == '%' && escape < 0) {
                escape = i;
            }
        }
        if (escape < 0) {
            return null;
        }
        while (escape >= 0) {
            if (escape + 2 >= uri.length() || !hexDigit(uri.charAt(escape + 1)) || !hexDigit(uri.charAt(escape + 2))) {
                return "malformed percent-escape in the request target at character " + escape
                        + ": '%' must be followed by two hex digits";
            }
            escape = uri.indexOf('%', escape + 3);
        }
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(uri.length());
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c == '%') {
                bytes.write(Integer.parseInt(uri, i + 1, i + 3, 16));
                i += 2;
            } else {
                bytes.write(c); // printable ASCII, checked above
            }
        }
        try {
            java.nio.charset.StandardCharsets.UTF_8.newDecoder() // reports malformed input, unlike new String(...)
                    .decode(java.nio.ByteBuffer.wrap(bytes.toByteArray()));
        } catch (java.nio.charset.CharacterCodingException e) {
            return "the request target's percent-escapes do not decode to valid UTF-8";
        }
        return null;
    }

    private static boolean hexDigit(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    /** True if the request target is a path with nothing to decode: no query, fragment or escapes. */
    static boolean plainPath(String uri) {
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c == '?' || c == '%' || c == '#' || c == '+') {
                return false;
            }
        }
        return !uri.isEmpty() && uri.charAt(0) == '/';
    }

    private static String param(QueryStringDecoder query, String name) {
        if (query == null) {
            return null;
        }
        var values = query.parameters().get(name);
        return values == null || values.isEmpty() ? null : values.get(0);
    }

    /**
     * A version in a query or header: decimal digits only (no sign), below {@link Long#MAX_VALUE}
     * (no version reaches it, and the one after it would overflow).
     */
    private static long nonNegative(String name, String value) throws BadRequestException {
        boolean digits = !value.isEmpty();
        for (int i = 0; i < value.length() && digits; i++) {
            digits = value.charAt(i) >= '0' && value.charAt(i) <= '9';
        }
        if (digits) {
            try {
                long v = Long.parseLong(value);
                if (v < Long.MAX_VALUE) {
                    return v;
                }
            } catch (NumberFormatException ignored) {
                // past a long: the error below
            }
            throw new BadRequestException(name + " must be below 9223372036854775807, got \"" + value + "\"");
        }
        throw new BadRequestException(name + " must be a non-negative integer version, got \"" + value + "\"");
    }

    /**
     * Whether requests before {@code slot}'s on this connection, other than version queries, are
     * still unanswered. A read pipelined behind them is evaluated only once they are (RFC 9112
     * 9.3.2 lets a server process pipelined requests at once only when all are safe): a client
     * that reads a commit's 200 and then the answer of the {@code GET /v1/version} it sent right
     * after must see that commit. Versions pipelined behind versions are evaluated at once (on a
     * leader past its lease, or a standby, each evaluation can be a look at storage).
     */
    private boolean behindOthers(Slot slot) {
        for (Slot s : slots) {
            if (s == slot) {
                return false;
            }
            if (s.endpoint != Endpoint.VERSION) {
                return true; // versions ahead change nothing: they are evaluated at once too
            }
        }
        return false;
    }

    private void version(Slot slot) {
        if (behindOthers(slot)) {
            slot.onTurn = () -> version(slot);
            return;
        }
        if (slot.abandoned || !ctx.channel().isActive()) {
            return;
        }
        java.util.concurrent.CompletableFuture<Backend.VersionInfo> f = backend.version();
        // a future already failed (its look at leadership could not even start) is answered below:
        // getNow would throw, and the exception would cost the connection and every answer it owes
        Backend.VersionInfo now = f.isDone() && !f.isCompletedExceptionally() ? f.getNow(null) : null;
        if (now != null) {
            versionResponse(slot, now, null);
            return;
        }
        Executor loop = ctx.channel().eventLoop();
        f.whenComplete((v, t) -> loop.execute(() -> versionResponse(slot, v, t)));
    }

    private void versionResponse(Slot slot, Backend.VersionInfo v, Throwable t) {
        if (slot.abandoned || !ctx.channel().isActive()) {
            return;
        }
        if (unwrap(t) instanceof Backend.Refused refused) {
            respond(slot, Responses.outcome(ctx.alloc(), refused.answer()));
            return;
        }
        if (t != null || v == null) {
            respond(slot, Responses.outcome(ctx.alloc(), backend.notLeader(null)));
            return;
        }
        ByteBuf b = ctx.alloc().heapBuffer(64);
        new JsonWriter(b).beginObject().field("version", v.version()).field("leader_id", v.leaderId()).endObject();
        respond(slot, Responses.json(ctx.alloc(), HttpResponseStatus.OK, b));
    }

    private void probe(Slot slot) {
        if (!backend.submitProbe(slot)) {
            slot.complete(new Outcome.Unavailable("the commit pipeline is full", false, settings.retryAfterSeconds(), null, null));
            return;
        }
        ctx.executor().schedule(() -> {
            if (!slot.answered() && !slot.abandoned && ctx.channel().isActive()) {
                respond(slot, Responses.error(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable",
                        "the health probe did not pass through the commit pipeline within "
                                + settings.probeTimeoutMs() + " ms"));
            }
        }, settings.probeTimeoutMs(), TimeUnit.MILLISECONDS);
    }

    private void metricsScrape(Slot slot) {
        Executor loop = ctx.channel().eventLoop();
        try {
            backend.metricsExecutor().execute(() -> scrape(slot, loop));
        } catch (java.util.concurrent.RejectedExecutionException busy) {
            respond(slot, unavailable("metrics scrapes are not being taken now (too many at once, or the server is "
                    + "stopping); retry shortly"));
        }
    }

    private void scrape(Slot slot, Executor loop) {
        String text;
        try {
            text = backend.scrapeMetrics();
        } catch (RuntimeException e) {
            log.error("metrics scrape failed", e);
            loop.execute(() -> respond(slot, Responses.error(ctx.alloc(), HttpResponseStatus.INTERNAL_SERVER_ERROR,
                    "internal", "metrics scrape failed: " + e)));
            return;
        }
        loop.execute(() -> {
            if (!slot.abandoned && ctx.channel().isActive()) {
                respond(slot, Responses.text(ctx.alloc(), HttpResponseStatus.OK,
                        "text/plain; version=0.0.4; charset=utf-8", text));
            }
        });
    }

    /** Sets a slot's response and writes every response that is now at the head, in order. */
    private void respond(Slot slot, FullHttpResponse response) {
        if (slot.answered() || slot.abandoned || !ctx.channel().isActive()) {
            response.release();
            return;
        }
        slot.response = response;
        flushReady();
    }

    private void flushReady() {
        boolean wrote = false;
        while (!slots.isEmpty()) {
            Slot head = slots.peekFirst();
            if (!head.answered() && head.streamHead == null) {
                if (head.onTurn != null) {
                    // its turn: run what it put off, as a task of its own (it may answer at once,
                    // which would write from inside this loop)
                    ctx.executor().execute(head.onTurn);
                    head.onTurn = null;
                }
                break;
            }
            Slot s = slots.pollFirst();
            if (s.streamHead != null) {
                s.cancelStream = null; // the stream starts: the slot is now the subscription's
                long nanos = ctx.executor().ticker().nanoTime() - s.startNanos;
                metrics.request(s.endpoint, 200, nanos);
                if (settings.accessLog()) {
                    access.atInfo().addKeyValue("endpoint", s.endpoint.label).addKeyValue("status", 200)
                            .addKeyValue("micros", nanos / 1000).addKeyValue("remote", ctx.channel().remoteAddress())
                            .log("{} 200 {} us (stream starts)", s.endpoint.label, nanos / 1000);
                }
                s.streamHead.headers().set(HttpHeaderNames.DATE, date.value());
                ctx.write(s.streamHead, ctx.voidPromise());
                ctx.flush();
                s.startStream.run();
                return;
            }
            // Shutting down: the last answer queued closes the connection (Connection: close), so
            // a keep-alive client does not send its next request into the close at the end of the
            // drain; answers pipelined before it still go out.
            // So does the last answer owed once the client's input has ended.
            boolean close = s.closeAfter || !s.keepAlive || (slots.isEmpty() && (inputEnded || backend.draining()));
            FullHttpResponse r = s.response;
            ByteBuf encoded = null;
            int code;
            if (s.outcome != null && !close) {
                // the common answer: encoded here, past Netty's encoder (see Responses.encodedOutcome)
                encoded = Responses.encodedOutcome(ctx.alloc(), s.outcome, s.http10, codec.answersHead(), date);
                code = Responses.outcomeStatus(s.outcome).code();
            } else {
                if (r == null) {
                    r = Responses.outcome(ctx.alloc(), s.outcome);
                }
                code = r.status().code();
                Responses.keepAlive(r, !close, s.http10);
                r.headers().set(HttpHeaderNames.DATE, date.value());
            }
            if (s.endpoint == Endpoint.COMMIT && code == 408) {
                metrics.commitOutcome("request_timeout"); // here, since an earlier close may drop it
            }
            long now = ctx.executor().ticker().nanoTime();
            lastAnswerNanos = now;
            long nanos = now - s.startNanos;
            metrics.request(s.endpoint, code, nanos);
            if (settings.accessLog()) {
                access.atInfo().addKeyValue("endpoint", s.endpoint.label).addKeyValue("status", code)
                        .addKeyValue("micros", nanos / 1000).addKeyValue("request_id", s.requestId)
                        .addKeyValue("remote", ctx.channel().remoteAddress())
                        .log("{} {} {} us{}", s.endpoint.label, code, nanos / 1000,
                                s.requestId == null ? "" : " request_id=" + s.requestId);
            }
            if (encoded != null) {
                codec.writeEncoded(encoded);
                wrote = true;
                continue;
            }
            if (close) {
                closing = true;
                for (Slot rest : slots) {
                    abandon(rest);
                }
                slots.clear();
                ctx.writeAndFlush(r).addListener((ChannelFutureListener) f -> afterClosingResponse());
                return;
            }
            ctx.write(r, ctx.voidPromise());
            wrote = true;
        }
        if (continueOwed != null && continueIfFirst()) {
            wrote = true;
        }
        if (wrote) {
            ctx.flush();
        }
        resumeIfIdle();
    }

    private static void abandon(Slot s) {
        s.abandoned = true;
        s.outcome = null;
        s.onTurn = null;
        if (s.response != null) {
            s.response.release();
            s.response = null;
        }
        if (s.cancelStream != null) {
            s.cancelStream.run();
            s.cancelStream = null;
        }
    }

    /**
     * A request was not sent in time ({@link ReadTimeouts} has stopped reading): 408 for it, in its
     * turn after the answers already queued, since a pipelining client takes answers in order and
     * would read a 408 written ahead of them as the answer to its oldest request (perhaps a commit
     * that then commits). Then the connection closes, without waiting for the rest of the request.
     */
    private void readTimedOut() {
        timedOut = true;
        if (closing) {
            // an answer that ends the connection is queued or being written (it closes it when out,
            // now without lingering), or it is out and the connection lingers for the body's rest
            if (lingering) {
                ctx.close();
            }
            return;
        }
        // a commit's 408 is counted as a request_timeout when it is written (flushReady)
        Slot slot = body == Body.NONE
                ? newSlot(Endpoint.UNKNOWN, ctx.executor().ticker().nanoTime(), false, false) // its headers never came
                : dropBody();
        closeWith(slot, HttpResponseStatus.REQUEST_TIMEOUT, "the request was not sent in time");
    }

    /**
     * The client's input ended (its FIN: a half-close, or the first half of a close; the transport
     * cannot tell which). Every request it sent has been delivered: each complete one is answered,
     * in order, and the connection closes after the last answer. A request cut short (its body;
     * a head cut short was passed on failed and ignored) is dropped as for a client that vanished:
     * no answer, and its parser and share of the body budget are given back now. An event stream
     * ends, and one still waiting its turn is not started: its subscriber is taken to be gone.
     */
    private void endOfInput() {
        if (inputEnded || !ctx.channel().isActive()) {
            return; // (it also comes when the connection closes)
        }
        inputEnded = true;
        if (subscription != null || lingering) {
            ctx.close();
            return;
        }
        Slot cut = dropBody();
        Slot last = slots.peekLast();
        if (last != null && (last == cut || (last.endpoint == Endpoint.SUBSCRIBE && !last.answered()))) {
            // a stream not started: it gives back its subscriber slot, or, a live tail waiting for
            // its turn to pick its start, is not opened when that turn comes
            slots.pollLast();
            abandon(last);
        }
        body = Body.NONE; // nothing more arrives (and an idle client that does not read is closed by the idle timeout)
        bodyComplete = true;
        if (slots.isEmpty()) {
            // after what was written already has gone out: a close now would drop it
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /**
     * The last response is out: close now, or once the client has finished sending its body (of
     * a refused body, no more than what is left of {@link HttpSettings#lingerBytes}).
     */
    private void afterClosingResponse() {
        if (bodyComplete || timedOut || inputShut || (lingerBounded && lingerLeft <= 0) || !ctx.channel().isActive()) {
            ctx.close();
            return;
        }
        lingering = true;
        if (ctx.channel() instanceof DuplexChannel d) {
            d.shutdownOutput();
        }
        ctx.channel().config().setAutoRead(true);
        ctx.executor().schedule(() -> ctx.close(), 2, TimeUnit.SECONDS);
    }

    private void pauseIfBusy() {
        if (slots.size() >= settings.maxPipelinedRequests() && ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    private void resumeIfIdle() {
        if (!closing && !ctx.channel().config().isAutoRead() && slots.size() < settings.maxPipelinedRequests()
                && ctx.channel().isWritable()) {
            if (inputShut) {
                takeHeldRequests();
            } else {
                ctx.channel().config().setAutoRead(true);
            }
        }
    }

    /**
     * Reading resumes after the transport reported the end of input: the requests flow control
     * still holds are taken one message per read, up to {@link ServerCodec.EndOfInput}, which is
     * among them until delivered (so no read reaches the transport).
     */
    private void takeHeldRequests() {
        while (!inputEnded && !closing && ctx.channel().isActive() && slots.size() < settings.maxPipelinedRequests()
                && ctx.channel().isWritable()) {
            ctx.read();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (subscription != null) {
            subscription.pump();
        } else if (ctx.channel().isWritable()) {
            resumeIfIdle();
        } else if (ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(false); // the client is not reading its responses
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ReadTimeouts.Expired) {
            readTimedOut();
            return;
        }
        if (evt instanceof ChannelInputShutdownEvent) {
            // The transport's word that the client's input ended overtakes requests held in flow
            // control: wait for ServerCodec.EndOfInput behind them, unless no later request is
            // read anyway (an answer that closes is queued, or the connection became a stream).
            inputShut = true;
            if (closing) {
                endOfInput();
            }
            return;
        }
        if (evt instanceof IdleStateEvent) {
            // the idle handler watches reads only (watching writes costs a promise per response)
            readSinceIdleCheck = false;
            closeIfIdle();
            return;
        }
        HttpServer.countTlsFailure(evt, metrics);
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * Closes the connection if nothing is in flight and it has neither read nor answered for
     * idle_timeout_seconds. If busy, or if it read since, the idle handler fires again after
     * another quiet period; if it answered recently (a slow commit), this checks again when the
     * timeout has passed since that answer. A body being discarded counts as in flight (read
     * timeouts govern it), except once the answer that closes the connection is queued: then
     * nothing more is wanted from the client, and an answer it does not read (its write never
     * completes, so the close after it never comes) must not hold the connection for good.
     */
    private void closeIfIdle() {
        if (!slots.isEmpty() || (body != Body.NONE && !closing) || subscription != null || readSinceIdleCheck
                || !ctx.channel().isActive()) {
            return;
        }
        long timeout = TimeUnit.SECONDS.toNanos(settings.idleTimeoutSeconds());
        long quiet = ctx.executor().ticker().nanoTime() - lastAnswerNanos;
        if (quiet >= timeout) {
            metrics.rejected("idle_timeout");
            ctx.close();
        } else if (!idleRecheckPending) {
            idleRecheckPending = true;
            ctx.executor().schedule(() -> {
                idleRecheckPending = false;
                closeIfIdle();
            }, timeout - quiet, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closeParser();
        releaseSmall();
        if (subscription != null) {
            subscription.end(null);
        }
        for (Slot s : slots) {
            abandon(s);
        }
        slots.clear();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (HttpServer.tlsFailure(cause)) {
            // untrusted certificate, plain HTTP to the TLS port, a scanner: not a WARN each (a
            // failed handshake is counted by its completion event, see userEventTriggered)
            log.debug("connection {} failed in TLS: {}", ctx.channel().remoteAddress(), cause.toString());
        } else if (cause instanceof java.io.IOException) {
            log.debug("connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("connection {} failed", ctx.channel().remoteAddress(), cause);
        }
        ctx.close();
    }
}
