package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.weaseldb.testing.RawHttp;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the server's HTTP codec must keep doing as Netty's server codec did, through the real
 * pipeline: answers to HEAD carry no body (the next answer would be read as its body), an
 * Expect: 100-continue interim answer does not shift that bookkeeping, a request with both
 * Transfer-Encoding: chunked and Content-Length (a smuggling sign) is refused and its connection
 * closed, and a chunked body's trailers are read past (not kept) but still validated. And what
 * it does beyond Netty's: request heads used again (nothing of one request may show in the next,
 * on any connection of the thread), the fixed endpoints' targets as constants.
 */
class ServerCodecTest {
    private final HttpServerTest.HeldBackend backend = new HttpServerTest.HeldBackend();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private EmbeddedChannel channel;

    @BeforeEach
    void setUp() {
        channel = EmbeddedPipeline.openPlain(backend, registry);
    }

    @AfterEach
    void tearDown() {
        PlainRequests.enableOnThisThread(true);
        channel.finishAndReleaseAll();
        backend.blocking.shutdownNow();
    }

    private String exchange(String requests) {
        channel.writeInbound(Unpooled.copiedBuffer(requests, StandardCharsets.US_ASCII));
        channel.runPendingTasks();
        return EmbeddedPipeline.drain(channel);
    }

    @Test
    void anAnswerToHeadHasNoBodyAndThePipelinedAnswerAfterItIsIntact() {
        String out = exchange("HEAD /v1/version HTTP/1.1\r\nHost: x\r\n\r\n" + RawHttp.get("/v1/version"));
        String[] parts = out.split("\r\n\r\n", 2);
        assertTrue(parts[0].startsWith("HTTP/1.1 "), out);
        assertTrue(parts[1].startsWith("HTTP/1.1 200"), "the next answer follows the HEAD's headers at once: " + out);
        assertTrue(parts[1].contains("\"version\""), out);
        assertTrue(channel.isActive());
    }

    @Test
    void aContinueBeforeAnAnswerDoesNotShiftWhichAnswerIsToHead() {
        String commit = "POST /v1/commit HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
                + HttpServerTest.WRITE.length() + "\r\n\r\n" + HttpServerTest.WRITE;
        String out = exchange(commit + "HEAD /v1/version HTTP/1.1\r\nHost: x\r\n\r\n" + RawHttp.get("/v1/version"));
        assertTrue(out.startsWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"), out);
        int head = out.indexOf("HTTP/1.1 ", out.indexOf("\"committed\""));
        String rest = out.substring(head);
        String[] parts = rest.split("\r\n\r\n", 2);
        assertTrue(parts[1].startsWith("HTTP/1.1 200"), "no body after the HEAD's headers: " + out);
        assertEquals(1, backend.requests.size());
    }

    @Test
    void chunkedWithContentLengthIsRefusedAndTheConnectionCloses() {
        String body = HttpServerTest.WRITE;
        String out = exchange("POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                + Integer.toHexString(body.length()) + "\r\n" + body + "\r\n0\r\n\r\n" + RawHttp.get("/v1/version"));
        assertTrue(out.startsWith("HTTP/1.1 400"), out);
        assertFalse(out.contains("HTTP/1.1 200"), "nothing after it is read as a request: " + out);
        assertFalse(channel.isActive(), "closed after the answer: " + out);
        assertEquals(0, backend.requests.size(), "nothing committed");
    }

    private static String chunkedCommit(String trailers) {
        String body = HttpServerTest.WRITE;
        return "POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + Integer.toHexString(body.length()) + "\r\n" + body + "\r\n0\r\n" + trailers + "\r\n";
    }

    @Test
    void trailersAfterAChunkedBodyAreReadAndTheNextRequestFollows() {
        String out = exchange(chunkedCommit("X-Checksum: abc\r\nX-Other: 1\r\n")
                + chunkedCommit("") + RawHttp.get("/v1/version"));
        assertEquals(3, out.split("HTTP/1.1 200 OK", -1).length - 1, out);
        assertEquals(2, backend.requests.size());
        assertTrue(channel.isActive());
    }

    @Test
    void aTrailerWithAForbiddenCharacterFailsItsRequestAndClosesTheConnection() {
        String out = exchange(chunkedCommit("X-Checksum: a\u0001b\r\n") + RawHttp.get("/v1/version"));
        assertTrue(out.startsWith("HTTP/1.1 400"), out);
        assertFalse(out.contains("HTTP/1.1 200"), "nothing after it is read as a request: " + out);
        assertEquals(0, backend.requests.size(), "nothing committed");
        assertTrue(out.contains("connection: close"), out);
        channel.advanceTimeBy(3, java.util.concurrent.TimeUnit.SECONDS); // past the linger for the rest of the body
        channel.runScheduledPendingTasks();
        assertFalse(channel.isActive(), "closed after the answer: " + out);
    }

    private double rejected(String reason) {
        return EmbeddedPipeline.rejected(registry, reason);
    }

    @Test
    void unparsableHttpIsCountedAsAMalformedRequest() {
        assertTrue(exchange("THIS IS NOT HTTP\r\n\r\n").startsWith("HTTP/1.1 400"));
        assertEquals(1.0, rejected("malformed_request"));
    }

    @Test
    void brokenChunkFramingIsCountedAsAMalformedRequest() {
        String body = HttpServerTest.WRITE;
        String out = exchange("POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + Integer.toHexString(body.length()) + "\r\n" + body + "\r\nzz\r\n");
        assertTrue(out.startsWith("HTTP/1.1 400"), out);
        assertEquals(1.0, rejected("malformed_request"));
    }

    @Test
    void aMalformedTargetIsCountedAndTheConnectionKeepsServing() {
        String out = exchange("GET /v1/status?request_id=%zz HTTP/1.1\r\nHost: x\r\n\r\n" + RawHttp.get("/v1/version"));
        assertTrue(out.startsWith("HTTP/1.1 400"), out);
        assertTrue(out.contains("HTTP/1.1 200"), out);
        assertEquals(1.0, rejected("malformed_target"));
        assertEquals(0.0, rejected("malformed_request"));
    }

    @Test
    void aRequestRefusedForItsTargetIsNotCountedAgainWhenItsBodyFramingBreaks() {
        String out = exchange("GET /v1/status?request_id=%zz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        assertTrue(out.startsWith("HTTP/1.1 400"), out);
        assertEquals(1, out.split("HTTP/1.1 ", -1).length - 1, "one answer: " + out);
        assertEquals(1.0, rejected("malformed_target"));
        assertEquals(0.0, rejected("malformed_request"), "one request, counted once");
    }

    @Test
    void aBodyWhoseFramingBreaksAfterItsRequestWasAnsweredIsNotCountedAsRefused() {
        String out = exchange("GET /v1/version HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        assertTrue(out.startsWith("HTTP/1.1 200"), out);
        assertEquals(0.0, rejected("malformed_request"), "answered 200, not refused: " + out);
    }

    @Test
    void aTransferCodingOtherThanChunkedIsCounted() {
        String out = exchange("POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
        assertTrue(out.startsWith("HTTP/1.1 501"), out);
        assertEquals(1.0, rejected("transfer_coding"));
    }

    // ---- request heads used again (ServerCodec.PooledRequest) ----

    /**
     * The codec alone, as the server configures it, with every request through Netty's decoder
     * (these tests are about its heads): what it decodes stays in the channel's inbound queue.
     */
    private static EmbeddedChannel codecOnly() {
        PlainRequests.enableOnThisThread(false);
        return plainCodec();
    }

    /** The codec alone, as the server runs it: plain requests decoded on the fast path ({@link PlainRequests}). */
    private static EmbeddedChannel plainCodec() {
        return new EmbeddedChannel(new ServerCodec(HttpServer.decoderConfig(8192)));
    }

    private static HttpRequest decodeHead(EmbeddedChannel ch, String bytes) {
        ch.writeInbound(Unpooled.copiedBuffer(bytes, StandardCharsets.US_ASCII));
        Object o = ch.readInbound();
        assertTrue(o instanceof HttpRequest, "a request head: " + o);
        return (HttpRequest) o;
    }

    private static void recycle(EmbeddedChannel ch, HttpRequest head) {
        ch.pipeline().get(ServerCodec.class).recycle((ServerCodec.PooledRequest) head);
    }

    /** The body decoded after a head, up to its last part if it came (marked {@code <end>}). */
    private static String body(EmbeddedChannel ch) {
        StringBuilder b = new StringBuilder();
        while (!b.toString().endsWith("<end>")) {
            Object o = ch.readInbound();
            if (o == null) {
                break;
            }
            HttpContent c = (HttpContent) o;
            assertTrue(c.decoderResult().isSuccess(), "decoded: " + c.decoderResult());
            b.append(c.content().toString(StandardCharsets.US_ASCII));
            if (c instanceof LastHttpContent) {
                b.append("<end>");
            }
            c.release();
        }
        return b.toString();
    }

    @Test
    void aRequestHeadIsUsedAgainWithNothingOfTheRequestBefore() {
        EmbeddedChannel ch = codecOnly();
        HttpRequest first = decodeHead(ch, "POST /v1/commit HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                + "Connection: close\r\nX-One: 1\r\nContent-Length: 2\r\n\r\n{}");
        assertEquals("{}<end>", body(ch));
        recycle(ch, first);
        HttpRequest second = decodeHead(ch, "GET /v1/status?request_id=r1 HTTP/1.0\r\nHost: b\r\n\r\n");
        assertSame(first, second, "the head given back is the next one");
        assertEquals(HttpMethod.GET, second.method());
        assertEquals("/v1/status?request_id=r1", second.uri());
        assertEquals(HttpVersion.HTTP_1_0, second.protocolVersion());
        assertEquals(1, second.headers().size(), "only the new request's headers: " + second.headers());
        assertEquals("b", second.headers().get("Host"));
        assertTrue(second.decoderResult().isSuccess());
        assertEquals("<end>", body(ch));
        ch.finishAndReleaseAll();
    }

    @Test
    void aHeadGivenBackWhileItsBodyArrivesCanServeAnotherConnectionAtOnce() {
        // the decoder lets go of a head when it passes it on, so the handler may give it back as
        // soon as it has read it, before the body: another connection on the loop takes it then
        EmbeddedChannel a = codecOnly();
        EmbeddedChannel b = codecOnly();
        HttpRequest headA = decodeHead(a, "POST /v1/commit HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234");
        assertEquals("01234", body(a));
        recycle(a, headA);
        HttpRequest headB = decodeHead(b, "GET /ok HTTP/1.1\r\nHost: b\r\n\r\n");
        assertSame(headA, headB);
        a.writeInbound(Unpooled.copiedBuffer("56789POST /v1/commit HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}",
                StandardCharsets.US_ASCII));
        assertEquals("56789<end>", body(a), "the first body ends at its own length");
        Object next = a.readInbound();
        assertTrue(next instanceof HttpRequest, "then the next request: " + next);
        HttpRequest again = (HttpRequest) next;
        assertNotSame(headB, again, "B still holds the head it was lent");
        assertEquals("a", again.headers().get("Host"));
        assertEquals("2", again.headers().get("Content-Length"));
        assertEquals("{}<end>", body(a));
        assertEquals("b", headB.headers().get("Host"), "B's head is untouched by A's next request");
        assertEquals("/ok", headB.uri());
        a.finishAndReleaseAll();
        b.finishAndReleaseAll();
    }

    @Test
    void aHeadThatFailedToDecodeIsUsedAgainAsAGoodOne() {
        EmbeddedChannel bad = codecOnly();
        HttpRequest failed = decodeHead(bad, "GET /ok HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n");
        assertTrue(failed.decoderResult().isFailure(), "whitespace in a header name fails the request");
        recycle(bad, failed);
        EmbeddedChannel good = codecOnly();
        HttpRequest ok = decodeHead(good, "GET /ok HTTP/1.1\r\nHost: b\r\n\r\n");
        assertSame(failed, ok);
        assertTrue(ok.decoderResult().isSuccess());
        assertEquals(1, ok.headers().size(), ok.headers().toString());
        bad.finishAndReleaseAll();
        good.finishAndReleaseAll();
    }

    @Test
    void aRareVersionOrABadMethodIsDecodedAsNettyDecodesIt() {
        EmbeddedChannel ch = codecOnly();
        assertTrue(decodeHead(ch, "GET /ok HTTP/1.1x\r\nHost: a\r\n\r\n").decoderResult().isFailure(),
                "not a version");
        ch.finishAndReleaseAll();
        ch = codecOnly();
        assertTrue(decodeHead(ch, "G\"T /ok HTTP/1.1\r\nHost: a\r\n\r\n").decoderResult().isFailure(),
                "not a method token");
        ch.finishAndReleaseAll();
        ch = codecOnly();
        HttpRequest other = decodeHead(ch, "GET /ok HTTP/1.2\r\nHost: a\r\n\r\n");
        assertTrue(other.decoderResult().isSuccess());
        assertEquals("HTTP/1.2", other.protocolVersion().text());
        assertFalse(other instanceof ServerCodec.PooledRequest, "a rare version gets a head of its own");
        ch.finishAndReleaseAll();
    }

    @Test
    void theFixedEndpointsTargetsAreConstants() {
        EmbeddedChannel ch = codecOnly();
        for (String target : new String[] {"/v1/commit", "/v1/version", "/ok", "/metrics", "/v1/retention"}) {
            HttpRequest head = decodeHead(ch, "GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n");
            assertSame(target, head.uri(), "the constant for " + target);
            body(ch);
            recycle(ch, head);
        }
        HttpRequest near = decodeHead(ch, "GET /v1/commiT HTTP/1.1\r\nHost: a\r\n\r\n");
        assertEquals("/v1/commiT", near.uri(), "a target that only looks like one is its own string");
        ch.finishAndReleaseAll();
    }

    @Test
    void aThreadKeepsABoundedNumberOfHeads() {
        EmbeddedChannel ch = codecOnly();
        java.util.List<HttpRequest> heads = new java.util.ArrayList<>();
        int before = ServerCodec.PooledRequest.kept();
        StringBuilder pipelined = new StringBuilder();
        for (int i = 0; i < ServerCodec.PooledRequest.PER_THREAD + before + 4; i++) {
            pipelined.append("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
        }
        ch.writeInbound(Unpooled.copiedBuffer(pipelined, StandardCharsets.US_ASCII));
        Object o;
        while ((o = ch.readInbound()) != null) {
            if (o instanceof HttpRequest r) {
                heads.add(r);
            }
        }
        assertEquals(ServerCodec.PooledRequest.PER_THREAD + before + 4, heads.size());
        for (HttpRequest r : heads) {
            recycle(ch, r);
        }
        assertEquals(ServerCodec.PooledRequest.PER_THREAD, ServerCodec.PooledRequest.kept());
        ch.finishAndReleaseAll();
    }

    // ---- plain requests (PlainRequests): decoded on the fast path, anything else by Netty ----

    @Test
    void aPlainRequestIsDecodedIntoAHeadAndABodyUsedAgain() {
        EmbeddedChannel ch = plainCodec();
        HttpRequest first = decodeHead(ch, "POST /v1/commit HTTP/1.1\r\nHost: a\r\nContent-Type:  application/json \t\r\n"
                + "X-Empty:\r\nContent-Length: 2\r\n\r\n{}");
        assertTrue(first.headers() instanceof FlatHeaders, "decoded on the fast path: " + first.headers().getClass());
        assertEquals("/v1/commit", first.uri());
        assertEquals("application/json", first.headers().get("content-type"), "values trimmed as Netty trims them");
        assertEquals("", first.headers().get("X-Empty"));
        assertEquals(4, first.headers().size());
        Object body = ch.readInbound();
        assertTrue(body instanceof PlainRequests.PlainBody, "the body whole: " + body);
        PlainRequests.PlainBody plain = (PlainRequests.PlainBody) body;
        assertEquals("{}", plain.content().toString(StandardCharsets.US_ASCII));
        plain.release();
        assertEquals(0, plain.refCnt());
        recycle(ch, first);
        HttpRequest second = decodeHead(ch, "GET /ok HTTP/1.1\r\nHost: b\r\n\r\n");
        assertSame(first, second, "the head given back is the next plain one");
        assertEquals(1, second.headers().size(), "only the new request's fields: " + second.headers());
        assertEquals("b", second.headers().get("HOST"));
        assertSame(LastHttpContent.EMPTY_LAST_CONTENT, ch.readInbound(), "no body: the empty last part");
        assertSame(plain, decodeBody(ch, "PUT /v1/retention/p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
                "the body given back is used again");
        ch.finishAndReleaseAll();
    }

    private static Object decodeBody(EmbeddedChannel ch, String request) {
        recycle(ch, decodeHead(ch, request));
        Object body = ch.readInbound();
        io.netty.util.ReferenceCountUtil.release(body);
        return body;
    }

    @Test
    void aRequestThatIsNotPlainIsLeftWholeToNettysDecoder() {
        String[] notPlain = {
            "GET /ok HTTP/1.0\r\nHost: a\r\n\r\n", // another version
            "OPTIONS /ok HTTP/1.1\r\nHost: a\r\n\r\n", // another method
            "GET  /ok HTTP/1.1\r\nHost: a\r\n\r\n", // two spaces
            "GET /ok HTTP/1.1\nHost: a\r\n\r\n", // a bare LF
            "GET /ok HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", // obsolete line folding
            "GET /ok HTTP/1.1\r\nHost: \u00e9\r\n\r\n", // not ASCII
            "GET /ok HTTP/1.1\r\nHost : a\r\n\r\n", // space before the colon
            "POST /v1/commit HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", // two lengths
            "POST /v1/commit HTTP/1.1\r\nContent-Length: 02\r\n\r\n{}", // a leading zero
            "POST /v1/commit HTTP/1.1\r\nContent-Length: +2\r\n\r\n{}",
            "POST /v1/commit HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            "GET /ok HTTP/1.1\r\nSec-WebSocket-Key1: 1\r\nSec-WebSocket-Key2: 2\r\n\r\n12345678",
            "POST /v1/commit HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}", // body still arriving
        };
        for (String request : notPlain) {
            EmbeddedChannel ch = plainCodec();
            ch.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.ISO_8859_1));
            Object head = ch.readInbound();
            assertTrue(head instanceof HttpRequest, request + ": " + head);
            assertFalse(((HttpRequest) head).headers() instanceof FlatHeaders, "Netty's decoder read " + request);
            Object o;
            while ((o = ch.readInbound()) != null) {
                assertFalse(o instanceof PlainRequests.PlainBody, request);
                io.netty.util.ReferenceCountUtil.release(o);
            }
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void onlyAtARequestsStartDoesTheFastPathTakeOver() {
        EmbeddedChannel ch = plainCodec();
        // a chunked body is Netty's; the plain request pipelined after its end is the fast path's
        String chunked = "POST /v1/commit HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n";
        ch.writeInbound(Unpooled.copiedBuffer(chunked, StandardCharsets.US_ASCII));
        HttpRequest nettys = (HttpRequest) ch.readInbound();
        assertFalse(nettys.headers() instanceof FlatHeaders);
        assertEquals("{}", body(ch), "the chunk so far");
        ch.writeInbound(Unpooled.copiedBuffer("0\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n", StandardCharsets.US_ASCII));
        assertEquals("<end>", body(ch));
        HttpRequest next = (HttpRequest) ch.readInbound();
        assertTrue(next.headers() instanceof FlatHeaders, "after Netty's request ended, the plain one is the fast path's");
        // blank lines before a request line are Netty's to skip, and then the rest of it too
        ch.writeInbound(Unpooled.copiedBuffer("\r\n", StandardCharsets.US_ASCII));
        ch.writeInbound(Unpooled.copiedBuffer("GET /ok HTTP/1.1\r\nHost: b\r\n\r\n", StandardCharsets.US_ASCII));
        assertEquals("<end>", body(ch));
        HttpRequest skipped = (HttpRequest) ch.readInbound();
        assertFalse(skipped.headers() instanceof FlatHeaders, "Netty's decoder had begun this request");
        assertEquals("b", skipped.headers().get("Host"));
        assertEquals("<end>", body(ch));
        ch.finishAndReleaseAll();
    }

    @Test
    void afterNettysDecoderFailsARequestNothingMoreIsDecoded() {
        EmbeddedChannel ch = plainCodec();
        ch.writeInbound(Unpooled.copiedBuffer("GET /ok HTTP/1.1\r\nBad Name: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n",
                StandardCharsets.US_ASCII));
        HttpRequest failed = (HttpRequest) ch.readInbound();
        assertTrue(failed.decoderResult().isFailure());
        Object o;
        while ((o = ch.readInbound()) != null) {
            assertFalse(o instanceof HttpRequest, "a request after the failure: " + o);
            io.netty.util.ReferenceCountUtil.release(o);
        }
        ch.finishAndReleaseAll();
    }
}
