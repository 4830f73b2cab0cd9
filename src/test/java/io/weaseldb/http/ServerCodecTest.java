package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
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
 * closed, and a chunked body's trailers are read past (not kept) but still validated.
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
}
