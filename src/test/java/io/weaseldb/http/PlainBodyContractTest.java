package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A body decoded on the fast path ({@link PlainRequests.PlainBody}) keeps the
 * {@link io.netty.buffer.ByteBufHolder} contract Netty's last-content objects keep (its content's
 * reference count is the holder's: a content retained past its message keeps its bytes, and is
 * never turned into another request's body), and the server's decoder stops after a head when the
 * handler says so ({@link ServerCodec#discardInput}) as Netty's decoder does. Each test runs with
 * the fast path off (Netty's decoder alone) and on.
 */
class PlainBodyContractTest {
    private static final String BODY = "{\"k\":\"" + "b".repeat(540) + "\"}";
    private static final String FIRST = "POST /v1/commit HTTP/1.1\r\nContent-Length: " + BODY.length() + "\r\n\r\n" + BODY;
    /** The start of the next request: its line and part of a header field, in the same read. */
    private static final String NEXT_START = "GET /ok HTTP/1.1\r\nHost: " + "h".repeat(150);

    @AfterEach
    void tearDown() {
        PlainRequests.enableOnThisThread(true);
    }

    private static EmbeddedChannel codec(boolean fastPath) {
        PlainRequests.enableOnThisThread(fastPath);
        return new EmbeddedChannel(new ServerCodec(HttpServer.decoderConfig(8192)));
    }

    /**
     * The codec and a handler that shows {@code onRead} each decoded message, then lets go of it as
     * {@code ConnectionHandler} does (a head given back, anything else released).
     */
    private static EmbeddedChannel reading(ServerCodec codec, java.util.function.Consumer<Object> onRead) {
        return new EmbeddedChannel(codec, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                onRead.accept(msg);
                if (msg instanceof ServerCodec.PooledRequest r) {
                    ServerCodec.PooledRequest.give(r);
                } else {
                    ReferenceCountUtil.release(msg);
                }
            }
        });
    }

    private static ByteBuf bytes(String s, int capacity) {
        ByteBuf b = Unpooled.buffer(capacity);
        b.writeCharSequence(s, StandardCharsets.ISO_8859_1);
        return b;
    }

    /** Reads the head and returns the body's last content, retained content kept, the message released. */
    private static ByteBuf keepContentReleaseMessage(EmbeddedChannel ch) {
        HttpRequest head = ch.readInbound();
        if (head instanceof ServerCodec.PooledRequest r) {
            ServerCodec.PooledRequest.give(r);
        }
        HttpContent body = ch.readInbound();
        // as HttpObjectAggregator (MessageAggregator.appendPartialContent) does: the content
        // retained, the message released by the decoder that received it
        ByteBuf kept = body.content().retain();
        body.release();
        return kept;
    }

    @ParameterizedTest(name = "fast path {0}")
    @ValueSource(booleans = {false, true})
    void aBodysContentRetainedPastItsMessageKeepsItsBytes(boolean fastPath) {
        EmbeddedChannel ch = codec(fastPath);
        ch.writeInbound(bytes(FIRST + NEXT_START, 1024)); // room left: the next read is appended in place
        ByteBuf kept = keepContentReleaseMessage(ch);
        assertEquals(BODY, kept.toString(StandardCharsets.ISO_8859_1), "right after the message's release");
        // a second read: written into the cumulation, whose read bytes are then discarded
        // (ByteToMessageDecoder.channelReadComplete -> discardSomeReadBytes, once refCnt == 1)
        ch.writeInbound(bytes("hh", 2));
        assertEquals(BODY, kept.toString(StandardCharsets.ISO_8859_1),
                "the retained content still holds the body (a slice retains the read buffer; the fast path's view does not)");
        kept.release();
        ch.finishAndReleaseAll();
    }

    /**
     * Two plain requests in one read, and a handler that keeps a body's content past its message (as
     * HttpObjectAggregator does): the first body's content must not turn into the second's. On the
     * fast path the released body object is the thread's spare at once and carries the next body,
     * so its content must not be something it reuses (across connections of an event loop a kept
     * content could otherwise show another connection's request).
     */
    @ParameterizedTest(name = "fast path {0}")
    @ValueSource(booleans = {false, true})
    void aContentKeptPastItsMessageIsNotTheNextRequestsBody(boolean fastPath) {
        PlainRequests.enableOnThisThread(fastPath);
        List<ByteBuf> kept = new ArrayList<>();
        StringBuilder firstWhenSecondArrived = new StringBuilder();
        EmbeddedChannel ch = reading(new ServerCodec(HttpServer.decoderConfig(8192)), msg -> {
            if (msg instanceof HttpContent c && c.content().isReadable()) {
                if (!kept.isEmpty()) { // what the first body's kept content reads as the second arrives
                    firstWhenSecondArrived.append(kept.get(0).toString(StandardCharsets.ISO_8859_1));
                }
                kept.add(c.content().retain());
            }
        });
        String second = "PUT /v1/retention/p HTTP/1.1\r\nContent-Length: 8\r\n\r\n{\"s\":42}";
        ch.writeInbound(bytes(FIRST + second, 2048));
        assertEquals(2, kept.size());
        assertEquals(BODY, firstWhenSecondArrived.toString(), "the first body's kept content, as the second arrives");
        assertEquals(BODY, kept.get(0).toString(StandardCharsets.ISO_8859_1), "the first body's kept content, after");
        assertEquals("{\"s\":42}", kept.get(1).toString(StandardCharsets.ISO_8859_1), "the second's, after");
        kept.forEach(ByteBuf::release);
        ch.finishAndReleaseAll();
    }

    /**
     * {@link ServerCodec#discardInput} (an event stream began, on the request's head): "from now on
     * the client's bytes are dropped undecoded". A body still unread at that point is dropped, on
     * the fast path as with Netty's decoder (the fast path passes a head on before its body).
     */
    @ParameterizedTest(name = "fast path {0}")
    @ValueSource(booleans = {false, true})
    void afterDiscardInputOnAHeadItsBodyIsNotPassedOn(boolean fastPath) {
        PlainRequests.enableOnThisThread(fastPath);
        ServerCodec codec = new ServerCodec(HttpServer.decoderConfig(8192));
        List<Object> seen = new ArrayList<>();
        EmbeddedChannel ch = reading(codec, msg -> {
            seen.add(msg.getClass().getSimpleName());
            if (msg instanceof HttpRequest) {
                codec.discardInput(); // as ConnectionHandler.subscribe does
            }
        });
        ch.writeInbound(bytes("GET /v1/subscribe HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 64));
        assertEquals(1, seen.size(), "only the head: " + seen);
        ch.finishAndReleaseAll();
    }

    @Test
    void withTheFastPathOnTheseBodiesAreTheFastPaths() {
        EmbeddedChannel ch = codec(true);
        ch.writeInbound(bytes(FIRST, FIRST.length()));
        ch.readInbound();
        Object body = ch.readInbound();
        assertTrue(body instanceof PlainRequests.PlainBody, String.valueOf(body));
        ReferenceCountUtil.release(body);
        ch.finishAndReleaseAll();
    }

    /**
     * A handler that writes into a body's content (a downstream decoder using it as its
     * cumulation, as MERGE_CUMULATOR does with a first buffer it may write into): Netty's content
     * is a slice with no room past its bytes, so the write is refused; it must never reach the bytes
     * still to be decoded. (A content spanning the read buffer's whole array, an arena chunk on the
     * server, would have the next request's bytes, or another buffer's, as its room past the body.)
     */
    @ParameterizedTest(name = "fast path {0}")
    @ValueSource(booleans = {false, true})
    void writingIntoABodysContentDoesNotChangeTheNextRequest(boolean fastPath) {
        PlainRequests.enableOnThisThread(fastPath);
        List<String> heads = new ArrayList<>();
        EmbeddedChannel ch = reading(new ServerCodec(HttpServer.decoderConfig(8192)), msg -> {
            if (msg instanceof HttpRequest r) {
                heads.add(r.method() + " " + r.uri());
            }
            if (msg instanceof HttpContent c && c.content().isReadable()) {
                try {
                    c.content().writeByte('X');
                } catch (IndexOutOfBoundsException refused) {
                    // Netty's slice: no room past the body
                }
            }
        });
        ch.writeInbound(bytes(FIRST + FIRST, 2048));
        assertEquals(List.of("POST /v1/commit", "POST /v1/commit"), heads);
        ch.finishAndReleaseAll();
    }

    /**
     * A handler that resizes a body's content: Netty's slice refuses (UnsupportedOperationException),
     * and the next body in the same read decodes as before (a content kept by the body object and
     * resized under it would put the next body on the wrong array: the decoder would throw and the
     * next request be lost).
     */
    @ParameterizedTest(name = "fast path {0}")
    @ValueSource(booleans = {false, true})
    void resizingABodysContentDoesNotBreakTheNextBody(boolean fastPath) {
        PlainRequests.enableOnThisThread(fastPath);
        List<String> bodies = new ArrayList<>();
        EmbeddedChannel ch = reading(new ServerCodec(HttpServer.decoderConfig(8192)), msg -> {
            if (msg instanceof HttpContent c && c.content().isReadable()) {
                bodies.add(c.content().toString(StandardCharsets.ISO_8859_1));
                try {
                    c.content().capacity(c.content().writerIndex());
                } catch (UnsupportedOperationException refused) {
                    // Netty's slice: a decoded content is not resized
                }
            }
        });
        String second = "PUT /v1/retention/p HTTP/1.1\r\nContent-Length: 8\r\n\r\n{\"s\":42}";
        ch.writeInbound(bytes(FIRST + second, 2048));
        assertEquals(List.of(BODY, "{\"s\":42}"), bodies);
        ch.finishAndReleaseAll();
    }
}
