package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ByteProcessor;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The server side of HTTP/1.1: Netty's request decoder and response encoder, combined the way
 * Netty's {@code HttpServerCodec} combines them (a response to {@code HEAD} carries no body; a
 * request with both {@code Transfer-Encoding: chunked} and {@code Content-Length}, a smuggling
 * sign, is a decoder failure in Netty 4.2, answered 400 with the connection closed), plus what
 * that codec cannot do: tell whether the decoder holds part of a request that has not reached the
 * handlers yet, and stop decoding once the connection is an event stream.
 *
 * <p>Request heads are {@link PooledRequest}s, lent to the handlers and given back through
 * {@link #recycle} once read; the request targets of the fixed endpoints are constants. What the
 * decoder made per request was about a third of the event loop's garbage per commit
 * (docs/performance.md, finding 21). A request in its plainest shape, whole in the bytes read, is
 * decoded by {@link PlainRequests} instead, at a request's start only; anything else is Netty's
 * decoder's, untouched (finding 22).
 *
 * <p>{@link ReadTimeouts} needs that. When one read holds the end of one request and the start of
 * the next, the first request's end would otherwise leave the connection looking idle, and the
 * second's headers could then trickle for as long as idle_timeout_seconds instead of
 * header_read_timeout_ms.
 *
 * <p>Owned by the connection's event loop.
 */
final class ServerCodec extends CombinedChannelDuplexHandler<ServerCodec.RequestDecoder, ServerCodec.ResponseEncoder> {
    /**
     * Passed on, as a message, after the last request the client sent, once its input ended (its
     * FIN, the channel allowing half-closure; or the connection closed). A message rather than the
     * transport's event, which overtakes requests held in flow control while reading is paused:
     * behind them, it tells the handler that every request has been delivered.
     */
    enum EndOfInput { INSTANCE }

    /** Whether each decoded request, oldest first, still to be answered, was a {@code HEAD}. */
    private final ArrayDeque<Boolean> heads = new ArrayDeque<>();
    /** The connection is an event stream: what the client sends is read (to see it leave) and dropped. */
    private boolean discarding;
    private ChannelHandlerContext ctx;

    ServerCodec(HttpDecoderConfig config) {
        init(new RequestDecoder(config), new ResponseEncoder());
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        super.handlerAdded(ctx);
    }

    /** Whether the oldest request still to be answered is a {@code HEAD} (its answer has no body). */
    boolean answersHead() {
        return Boolean.TRUE.equals(heads.peek());
    }

    /**
     * Takes back a request head the handlers are done with: none of them keeps it, or anything it
     * holds, past reading it (on this loop). A decoder on this loop hands it out again.
     */
    void recycle(PooledRequest request) {
        PooledRequest.give(request);
    }

    /**
     * Writes the oldest request's answer, which the handler encoded itself
     * ({@link Responses#encodedOutcome}), past the response encoder: in order with the answers
     * written through it, since both are written at once on this loop. Only between answers the
     * encoder wrote whole, never once a stream has started.
     */
    void writeEncoded(ByteBuf answer) {
        heads.poll();
        ctx.write(answer, ctx.voidPromise());
    }

    /** True if the decoder holds bytes of a request not yet passed on (its line or headers are incomplete). */
    boolean holdsPartialRequest() {
        return inboundHandler().holdsPartialRequest();
    }

    /**
     * Whether the body of the request just passed on, {@code length} bytes (-1: chunked, or not
     * known), is already among the bytes read and not yet passed on: whole, it costs nothing to drop.
     */
    boolean holdsBody(long length) {
        return inboundHandler().holdsBody(length);
    }

    /** Requests decoded and not yet answered (tests). */
    int pendingAnswers() {
        return heads.size();
    }

    /**
     * The connection became an event stream: from now on the client's bytes are dropped undecoded.
     * (Decoded, each request would wait for an answer that never comes, in the HEAD bookkeeping too.)
     */
    void discardInput() {
        discarding = true;
    }

    final class RequestDecoder extends HttpRequestDecoder {
        /** Bytes the decoder skips between requests (it does, before a request line). */
        private static final ByteProcessor BETWEEN_REQUESTS = b -> b == '\r' || b == '\n' || b == ' ' || b == '\t';
        private final int maxInitialLine;
        private final int maxHeaderSize;
        private final int maxChunk;
        /** A request line was read and the request is being built from its header lines. */
        private boolean building;
        /**
         * Netty's decoder has begun a request it has not finished (seen its first bytes, or its
         * line, headers or part of its body): only it may go on, until it passes on the request's end.
         */
        private boolean nettyMidRequest;
        /** Netty's decoder failed a request: from then on it drops what arrives, and so does this. */
        private boolean nettyFailed;
        /**
         * The fast path passed on a plain request's head; its body, this long and already read, is
         * passed on by the next call (unless the handler stopped decoding on the head).
         */
        private int plainBodyLength;

        RequestDecoder(HttpDecoderConfig config) {
            super(config);
            this.maxInitialLine = config.getMaxInitialLineLength();
            this.maxHeaderSize = config.getMaxHeaderSize();
            this.maxChunk = config.getMaxChunkSize();
            setCumulator(HeapCumulator.INSTANCE); // see HeapCumulator: no garbage per header line
        }

        @Override
        protected HttpMessage createMessage(String[] initialLine) throws Exception {
            building = true;
            HttpVersion version = HttpVersion.HTTP_1_1.text().equals(initialLine[2]) ? HttpVersion.HTTP_1_1
                    : HttpVersion.HTTP_1_0.text().equals(initialLine[2]) ? HttpVersion.HTTP_1_0 : null;
            if (version == null) {
                return super.createMessage(initialLine); // rejected or rare: Netty's strict parse, a new head
            }
            // the method and target are checked as HttpRequestDecoder's request checks them
            // (HttpMethod.valueOf, HttpUtil.validateRequestLineTokens)
            return PooledRequest.take(headersFactory, version, HttpMethod.valueOf(initialLine[0]), initialLine[1]);
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpMessage msg) {
            // HttpRequestDecoder's answer for its own request class: a request's body is framed
            // by its headers alone (its slow path would find the same after a few type checks)
            return !(msg instanceof PooledRequest) && super.isContentAlwaysEmpty(msg);
        }

        @Override
        protected String splitSecondWordInitialLine(byte[] line, int start, int length) {
            String known = Targets.known(line, start, length);
            return known != null ? known : super.splitSecondWordInitialLine(line, start, length);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            if (discarding) {
                buffer.skipBytes(buffer.readableBytes());
                return;
            }
            int from = out.size();
            if (plainBodyLength > 0) {
                out.add(PlainRequests.body(buffer, plainBodyLength));
                plainBodyLength = 0;
            } else if (nettyMidRequest || nettyFailed
                    || (plainBodyLength = PlainRequests.decode(buffer, out, maxInitialLine, maxHeaderSize, maxChunk)) < 0) {
                plainBodyLength = 0;
                super.decode(ctx, buffer, out);
                // Once it has seen a request's first bytes, Netty's decoder has begun it even if it
                // consumed none (it leaves its state for skipping blank lines at the first other
                // byte); it is back at a request's start only once it passed on that request's end.
                nettyMidRequest = out.size() == from
                        || !(out.get(out.size() - 1) instanceof io.netty.handler.codec.http.LastHttpContent);
            }
            for (int i = from; i < out.size(); i++) {
                if (out.get(i) instanceof io.netty.handler.codec.DecoderResultProvider p && p.decoderResult().isFailure()) {
                    nettyFailed = true; // only Netty's decoder fails a request
                }
                if (out.get(i) instanceof HttpRequest request) {
                    building = false;
                    heads.add(HttpMethod.HEAD.equals(request.method()));
                }
            }
        }

        /**
         * The end of input: Netty's decoder passes on what is left (a request whose head was cut
         * short comes as a failed request, one whose body was cut short as nothing more), then
         * {@link EndOfInput}, in order with the requests and ahead of the transport's event.
         */
        @Override
        protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            super.decodeLast(ctx, in, out);
            out.add(EndOfInput.INSTANCE);
        }

        boolean holdsBody(long length) {
            if (length < 0) {
                return holdsChunkedBody(internalBuffer()); // Netty's decoder leaves it after the head
            }
            // the fast path has read it already; Netty's decoder leaves it in the cumulation after the head
            return plainBodyLength == length || internalBuffer().readableBytes() >= length;
        }

        /**
         * Whether {@code buf}, from its reader index, holds a whole chunked body: its chunks, the
         * last (size 0) chunk and the trailer section's end. Looked at, not consumed; a body of
         * more than 64 chunks counts as not held (a client that frames a bodyless request as
         * chunked sends just {@code 0\r\n\r\n}, review 26).
         */
        static boolean holdsChunkedBody(ByteBuf buf) {
            int i = buf.readerIndex();
            int end = buf.writerIndex();
            for (int chunks = 0; chunks <= 64; chunks++) {
                long size = 0;
                int digits = 0;
                while (i < end && Character.digit(buf.getByte(i), 16) >= 0 && digits < 8) {
                    size = size * 16 + Character.digit(buf.getByte(i), 16);
                    i++;
                    digits++;
                }
                if (digits == 0) {
                    return false;
                }
                int lineEnd = buf.indexOf(i, end, (byte) '\n'); // past any chunk extension
                if (lineEnd < 0) {
                    return false;
                }
                i = lineEnd + 1;
                if (size == 0) {
                    // trailer fields, if any, then an empty line
                    while (true) {
                        int next = buf.indexOf(i, end, (byte) '\n');
                        if (next < 0) {
                            return false;
                        }
                        if (next == i || (next == i + 1 && buf.getByte(i) == '\r')) {
                            return true;
                        }
                        i = next + 1;
                    }
                }
                if (size >= end - i) {
                    return false;
                }
                i += (int) size;
                if (i >= end) {
                    return false;
                }
                int dataEnd = buf.indexOf(i, end, (byte) '\n');
                if (dataEnd < 0) {
                    return false;
                }
                i = dataEnd + 1;
            }
            return false;
        }

        boolean holdsPartialRequest() {
            if (discarding) {
                return false;
            }
            if (building || plainBodyLength > 0) {
                return true;
            }
            // a request line not yet complete stays in the cumulation, unread
            ByteBuf pending = internalBuffer();
            return pending.isReadable()
                    && pending.forEachByte(pending.readerIndex(), pending.readableBytes(), BETWEEN_REQUESTS) >= 0;
        }
    }

    final class ResponseEncoder extends HttpResponseEncoder {
        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            if (msg.status().codeClass() == io.netty.handler.codec.http.HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg); // a 100 Continue answers no request yet
            }
            Boolean head = heads.poll();
            return Boolean.TRUE.equals(head) || super.isContentAlwaysEmpty(msg);
        }
    }

    /**
     * The request targets sent over and over (a commit, the probes, the scrape): given as these
     * strings instead of a new copy per request.
     */
    static final class Targets {
        private static final String[] KNOWN = {"/v1/commit", "/v1/version", "/ok", "/metrics", "/v1/retention"};

        private Targets() {}

        /** The constant equal to {@code length} bytes of {@code line} from {@code start}, or null. */
        static String known(byte[] line, int start, int length) {
            for (String k : KNOWN) {
                if (PlainRequests.sameAscii(line, start, start + length, k)) {
                    return k;
                }
            }
            return null;
        }
    }

    /**
     * A request head that is used again: the decoder takes one for each request line
     * ({@link #take}) and the handler gives it back once it has read it ({@link ServerCodec#recycle}).
     * Between the two it is an ordinary request; a head not given back (a connection closed with
     * requests still queued in flow control) is simply collected.
     *
     * <p>Kept per thread, like the commit parsers (an event loop needs as many as requests it has
     * decoded and not yet read, not one per connection; idle connections hold none), at most
     * {@link #PER_THREAD}. Each one keeps its header table's buckets; its entries go at
     * {@link io.netty.handler.codec.http.HttpHeaders#clear}. A head must be given back on the thread
     * that took it, which for a connection's decoder and handler is its event loop.
     */
    static final class PooledRequest extends DefaultHttpRequest {
        static final int PER_THREAD = 16;
        private static final ThreadLocal<Spare> SPARE = ThreadLocal.withInitial(Spare::new);
        private final HttpHeadersFactory headersFactory;
        private boolean lent;

        private PooledRequest(HttpHeadersFactory headersFactory, HttpVersion version, HttpMethod method, String uri) {
            super(version, method, uri, headersFactory);
            this.headersFactory = headersFactory;
        }

        /** A head for {@link PlainRequests}: its fields in a {@link FlatHeaders}. */
        private PooledRequest(HttpVersion version, HttpMethod method, String uri) {
            super(version, method, uri, new FlatHeaders(16));
            this.headersFactory = null;
        }

        /** A head for a request {@link PlainRequests} decodes, with its fields in a {@link FlatHeaders}. */
        static PooledRequest takePlain(HttpVersion version, HttpMethod method, String uri) {
            PooledRequest r = SPARE.get().plain.pollLast();
            return r == null ? new PooledRequest(version, method, uri).lend() : r.reuse(version, method, uri);
        }

        static PooledRequest take(HttpHeadersFactory headersFactory, HttpVersion version, HttpMethod method, String uri) {
            PooledRequest r = SPARE.get().heads.pollLast();
            return r == null || r.headersFactory != headersFactory
                    ? new PooledRequest(headersFactory, version, method, uri).lend()
                    : r.reuse(version, method, uri);
        }

        private PooledRequest reuse(HttpVersion version, HttpMethod method, String uri) {
            // the method is checked against the old (valid) target, then the target against it
            setMethod(method);
            setUri(uri);
            setProtocolVersion(version);
            setDecoderResult(DecoderResult.SUCCESS);
            return lend();
        }

        private PooledRequest lend() {
            lent = true;
            return this;
        }

        static void give(PooledRequest r) {
            if (!r.lent) {
                // a bug: two requests would share it from now on
                throw new IllegalStateException("a request head given back twice");
            }
            r.lent = false;
            r.headers().clear();
            Spare spare = SPARE.get();
            ArrayDeque<PooledRequest> kept = r.headersFactory == null ? spare.plain : spare.heads;
            if (kept.size() < spare.max) {
                kept.addLast(r);
            }
        }

        /** Heads for Netty's decoder kept by the calling thread (tests). */
        static int kept() {
            return SPARE.get().heads.size();
        }

        /** Heads for plain requests kept by the calling thread (tests). */
        static int keptPlain() {
            return SPARE.get().plain.size();
        }

        /**
         * How many heads the calling thread keeps from now on (tests: 0 makes every head new, the
         * way Netty's decoder makes them, to compare with).
         */
        static void keepAtMost(int max) {
            Spare spare = SPARE.get();
            spare.max = max;
            while (spare.heads.size() > max) {
                spare.heads.pollFirst();
            }
            while (spare.plain.size() > max) {
                spare.plain.pollFirst();
            }
        }

        private static final class Spare {
            final ArrayDeque<PooledRequest> heads = new ArrayDeque<>();
            /** Heads of plain requests ({@link PlainRequests}), whose tables are {@link FlatHeaders}. */
            final ArrayDeque<PooledRequest> plain = new ArrayDeque<>();
            int max = PER_THREAD;
        }
    }
}
