package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.weaseldb.config.ConfigLoader;
import io.weaseldb.config.WeaselConfig;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A request refused on its head (400, 401, 403, 404), or sent to an endpoint that reads no body,
 * while its body is still to come: the answer closes the connection after a bounded linger, or at
 * once when the client waits for {@code 100 Continue}; a body already read whole keeps the
 * connection. The bound holds while the answer waits behind earlier ones too.
 */
class RefusedBodyTest extends PipelineFixture {
    static final String WRITER = "refused-body-writer-0123456789";
    static final String ALL_ROLES = "refused-body-all-roles-0123456789";
    /** max_request_size_bytes is 4 KiB here: a refused body is read for at most 1 MiB. */
    static final long LINGER_BYTES = 1L << 20;

    @Override
    @BeforeEach
    void openPipeline() {
        var writer = new WeaselConfig.Token("writer", ConfigLoader.sha256(WRITER), EnumSet.of(WeaselConfig.Role.COMMIT));
        var all = new WeaselConfig.Token("all", ConfigLoader.sha256(ALL_ROLES), EnumSet.allOf(WeaselConfig.Role.class));
        HttpSettings settings = settings(writer, all);
        assertEquals(LINGER_BYTES, settings.lingerBytes());
        openPipelineWith(settings);
    }

    /**
     * Sends {@code bytes} of body in 64 KiB pieces, stopping when the server closes or stops
     * reading (a client's bytes then wait in its socket); returns how many the server took.
     */
    private long sendBody(long bytes) {
        byte[] piece = new byte[64 << 10];
        long sent = 0;
        while (sent < bytes && channel.isActive() && channel.config().isAutoRead()) {
            channel.writeInbound(Unpooled.wrappedBuffer(piece));
            channel.runPendingTasks();
            sent += piece.length;
        }
        return sent;
    }

    @Test
    void aRefusedBodyStillComingClosesAfterABoundedLinger() {
        // before: 401 kept the connection alive and every byte of the 1 GB body was read and dropped
        for (String head : List.of(
                "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n", // no token: 401
                "POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\n",
                "PUT /v1/retention/p1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + WRITER // 403
                        + "\r\nContent-Length: 1000000000\r\n\r\n",
                "POST /v1/nowhere HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + WRITER // 404
                        + "\r\nContent-Length: 1000000000\r\n\r\n")) {
            closePipeline();
            openPipeline();
            send(head + "{\"operations\":[");
            List<String> answers = answers();
            assertEquals(1, answers.size(), answers.toString());
            assertTrue(List.of(401, 403, 404).contains(status(answers.get(0))), answers.get(0));
            assertTrue(closes(answers.get(0)), "the answer says the connection closes: " + answers.get(0));
            long taken = sendBody(1L << 30);
            assertFalse(channel.isActive(), head);
            assertTrue(taken <= LINGER_BYTES + (64 << 10), "read " + taken + " bytes of a refused body: " + head);
        }
    }

    @Test
    void aBodyTheEndpointDoesNotReadClosesAfterABoundedLinger() {
        // before: each was answered keep-alive and every byte of the 1 GB body was read and dropped
        // (a malformed target is refused before the token is checked, /ok needs none)
        String big = "\r\nContent-Length: 1000000000\r\n\r\n";
        String all = "\r\nAuthorization: Bearer " + ALL_ROLES;
        for (var c : List.of(
                java.util.Map.entry("POST /v1/commit%zz HTTP/1.1\r\nHost: x" + big, 400),
                java.util.Map.entry("GET /ok HTTP/1.1\r\nHost: x" + big, 200),
                java.util.Map.entry("GET /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\n", 200),
                java.util.Map.entry("GET /v1/version HTTP/1.1\r\nHost: x" + all + big, 200),
                java.util.Map.entry("GET /v1/subscribe HTTP/1.1\r\nHost: x" + all + big, 400))) {
            closePipeline();
            openPipeline();
            send(c.getKey() + "xxxx");
            List<String> answers = answers();
            assertEquals(List.of(c.getValue()), statuses(answers), c.getKey() + answers);
            assertTrue(closes(answers.get(0)), "the answer says the connection closes: " + answers.get(0));
            long taken = sendBody(1L << 30);
            assertFalse(channel.isActive(), c.getKey());
            assertTrue(taken <= LINGER_BYTES + (64 << 10), "read " + taken + " bytes of an unread body: " + c.getKey());
        }
        assertEquals(1.0, EmbeddedPipeline.rejected(registry, "malformed_request"),
                "the subscription refused for its body is counted");
    }

    @Test
    void aRefusedBodyBehindASlowAnswerIsReadNoFurtherThanTheLinger() {
        // before: while the commit before it was unanswered, the refused body was read without
        // bound (lingerBytes counted only once its 401 was out): 6.3 GB against a 3 s S3 PUT
        backend.hold = true;
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + WRITER + "\r\nContent-Length: "
                + HttpServerTest.WRITE.length() + "\r\n\r\n" + HttpServerTest.WRITE
                + "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n{\"operations\":[");
        assertTrue(answers().isEmpty(), "nothing goes out ahead of the held commit");
        long taken = sendBody(1L << 30);
        assertTrue(taken <= LINGER_BYTES + (64 << 10), "read " + taken + " bytes of a refused body before its answer");
        assertTrue(channel.isActive(), "the commit's answer is still owed");

        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 401), statuses(answers), answers.toString());
        assertFalse(closes(answers.get(0)), answers.get(0));
        assertTrue(closes(answers.get(1)), answers.get(1));
        assertFalse(channel.isActive(), "closed once the 401 is out: no more of its body is read");
        assertEquals(1, backend.requests.size(), "the refused request was not committed");
    }

    @Test
    void aRefusedRequestWaitingFor100ContinueEndsItsConnectionAfterItsAnswer() {
        // before d0ea845: no 100, no close; the client's next request was read as the body and never answered
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 50\r\n\r\n"
                + "GET /v1/version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + WRITER + "\r\n\r\n");
        List<String> answers = answers();
        assertEquals(List.of(401), statuses(answers), answers.toString());
        assertTrue(closes(answers.get(0)), answers.get(0));
        assertFalse(answers.get(0).contains("100 Continue"), answers.get(0));
        assertFalse(channel.isActive(), "closed after the answer: the client sends no body and must not wait for one");
    }

    @Test
    void aRefusedBodySentWithoutWaitingFor100ContinueIsLingeredOn() {
        // before: the connection closed as soon as the 401 was out, with the body the client sent
        // without waiting (RFC 9110 10.1.1) unread: on a socket, a reset that can lose the answer
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000000000\r\n\r\n");
        List<String> answers = answers();
        assertEquals(List.of(401), statuses(answers), answers.toString());
        assertTrue(closes(answers.get(0)), answers.get(0));
        assertTrue(channel.isActive(), "still reading the body the client may have sent without waiting");
        long taken = sendBody(1L << 30);
        assertFalse(channel.isActive());
        assertTrue(taken <= LINGER_BYTES + (64 << 10), "read " + taken + " bytes of a refused body");
    }

    @Test
    void aSmallRefusedBodyReadWholeKeepsTheConnection() {
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
                + "PUT /v1/retention/p1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + WRITER
                + "\r\nContent-Length: 13\r\n\r\n{\"version\":0}"
                + "GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n"
                + "POST /v1/commit%zz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
                + "GET /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
        List<String> answers = answers();
        assertEquals(List.of(401, 403, 401, 400, 200), statuses(answers), answers.toString());
        for (String a : answers) {
            assertFalse(closes(a), a);
        }
        assertTrue(channel.isActive());
    }

    /**
     * Review 26: a chunked body was always taken for one still to come, so a client or proxy that
     * frames every request as chunked (an empty body is just 0 CRLF CRLF) lost its connection
     * after each request, and its subscriptions were refused. A chunked body read whole with its
     * head (trailers too) is dropped like a small Content-Length one, and the connection kept.
     */
    @Test
    void aChunkedBodyReadWholeWithItsHeadKeepsTheConnection() {
        String all = "\r\nAuthorization: Bearer " + ALL_ROLES + "\r\nTransfer-Encoding: chunked\r\n\r\n";
        send("GET /v1/version HTTP/1.1\r\nHost: x" + all + "0\r\n\r\n"
                + "GET /v1/version HTTP/1.1\r\nHost: x" + all + "5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
                + "GET /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                + "GET /v1/subscribe?after=0 HTTP/1.1\r\nHost: x" + all + "0\r\n\r\n");
        List<String> answers = answers();
        assertEquals(List.of(200, 200, 200, 200), statuses(answers), answers.toString());
        for (String a : answers.subList(0, 3)) {
            assertFalse(closes(a), a);
        }
        assertTrue(channel.isActive(), "the subscription streams");
    }

    @Test
    void aChunkedBodyIsHeldOnlyWhenItsLastChunkIsIn() {
        for (var c : java.util.Map.of("0\r\n\r\n", true, "0\r\n", false, "5\r\nhel", false, "5\r\nhello\r\n0\r\n\r\n", true,
                "5\r\nhello\r\n", false, "ffffffff\r\n", false, "zz\r\n\r\n", false, "0\r\nA: b\r\n\r\n", true,
                "0\r\nA: b\r\n", false).entrySet()) {
            assertEquals(c.getValue(), ServerCodec.RequestDecoder.holdsChunkedBody(
                    io.netty.buffer.Unpooled.copiedBuffer(c.getKey(), java.nio.charset.StandardCharsets.US_ASCII)), c.getKey());
        }
    }

    @Test
    void aChunkedBodyIsHeldOnlyWhenItsSizeIsReadAsHexAndItHasAtMost64Chunks() {
        // a 16-byte chunk whose first bytes look like the end of a body is not a whole body
        assertFalse(ServerCodec.RequestDecoder.holdsChunkedBody(ascii("10\r\n01234\r\n\r\n")));
        assertTrue(ServerCodec.RequestDecoder.holdsChunkedBody(ascii("10\r\n0123456789abcdef\r\n0\r\n\r\n")));
        assertTrue(ServerCodec.RequestDecoder.holdsChunkedBody(ascii("1\r\na\r\n".repeat(64) + "0\r\n\r\n")));
        assertFalse(ServerCodec.RequestDecoder.holdsChunkedBody(ascii("1\r\na\r\n".repeat(65) + "0\r\n\r\n")),
                "more than 64 chunks: not looked through");
    }

    private static io.netty.buffer.ByteBuf ascii(String s) {
        return io.netty.buffer.Unpooled.copiedBuffer(s, java.nio.charset.StandardCharsets.US_ASCII);
    }
}
