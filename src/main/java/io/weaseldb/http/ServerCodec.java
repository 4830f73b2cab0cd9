package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
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
 * <p>{@link ReadTimeouts} needs that. When one read holds the end of one request and the start of
 * the next, the first request's end would otherwise leave the connection looking idle, and the
 * second's headers could then trickle for as long as idle_timeout_seconds instead of
 * header_read_timeout_ms.
 *
 * <p>Owned by the connection's event loop.
 */
final class ServerCodec extends CombinedChannelDuplexHandler<ServerCodec.RequestDecoder, ServerCodec.ResponseEncoder> {
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
        /** A request line was read and the request is being built from its header lines. */
        private boolean building;

        RequestDecoder(HttpDecoderConfig config) {
            super(config);
            setCumulator(HeapCumulator.INSTANCE); // see HeapCumulator: no garbage per header line
        }

        @Override
        protected HttpMessage createMessage(String[] initialLine) throws Exception {
            building = true;
            return super.createMessage(initialLine);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            if (discarding) {
                buffer.skipBytes(buffer.readableBytes());
                return;
            }
            int from = out.size();
            super.decode(ctx, buffer, out);
            for (int i = from; i < out.size(); i++) {
                if (out.get(i) instanceof HttpRequest request) {
                    building = false;
                    heads.add(HttpMethod.HEAD.equals(request.method()));
                }
            }
        }

        boolean holdsPartialRequest() {
            if (discarding) {
                return false;
            }
            if (building) {
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
}
