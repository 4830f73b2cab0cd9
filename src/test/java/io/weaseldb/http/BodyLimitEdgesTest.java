package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.embedded.EmbeddedChannel;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Bodies at exactly their limits are served, one byte more is refused (docs/api.md): a commit of
 * max_request_size_bytes (4 KiB here), declared or chunked; a commit that fills exactly what is
 * left of max_in_flight_request_bytes while another connection's body holds the rest; a retention
 * policy body of 64 KiB, declared or chunked.
 */
class BodyLimitEdgesTest extends PipelineFixture {
    private static final int MAX_REQUEST = 4096;
    private static final int MAX_POLICY = 64 << 10;

    /** A commit body of exactly {@code size} bytes: WRITE padded with JSON whitespace. */
    private static String commitOf(int size) {
        return HttpServerTest.WRITE.substring(0, HttpServerTest.WRITE.length() - 1)
                + " ".repeat(size - HttpServerTest.WRITE.length()) + "}";
    }

    private static String declared(String method, String path, String body) {
        return method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
    }

    /** {@code body} in chunks of at most 1000 bytes. */
    private static String chunked(String method, String path, String body) {
        StringBuilder s = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < body.length(); i += 1000) {
            String part = body.substring(i, Math.min(body.length(), i + 1000));
            s.append(Integer.toHexString(part.length())).append("\r\n").append(part).append("\r\n");
        }
        return s.append("0\r\n\r\n").toString();
    }

    /** A new connection (the last one was closed by its 413, or is done with). */
    private void reopen() {
        channel.finishAndReleaseAll();
        openPipelineWith(settings());
    }

    @Test
    void aCommitOfExactlyMaxRequestSizeIsCommittedAndOneByteMoreIs413() {
        send(declared("POST", "/v1/commit", commitOf(MAX_REQUEST)));
        List<String> answers = answers();
        assertEquals(List.of(200), statuses(answers), answers.toString());
        assertEquals(1, backend.requests.size());

        reopen();
        send(declared("POST", "/v1/commit", commitOf(MAX_REQUEST + 1)));
        answers = answers();
        assertEquals(List.of(413), statuses(answers), answers.toString());
        assertEquals(1, backend.requests.size());
    }

    @Test
    void aChunkedCommitOfExactlyMaxRequestSizeIsCommittedAndOneByteMoreIs413() {
        send(chunked("POST", "/v1/commit", commitOf(MAX_REQUEST)));
        List<String> answers = answers();
        assertEquals(List.of(200), statuses(answers), answers.toString());
        assertEquals(1, backend.requests.size());

        reopen();
        send(chunked("POST", "/v1/commit", commitOf(MAX_REQUEST + 1)));
        answers = answers();
        assertEquals(List.of(413), statuses(answers), answers.toString());
        assertEquals(1, backend.requests.size());
    }

    /**
     * Another connection's body holds part of max_in_flight_request_bytes: a declared length that
     * fits exactly in the rest gets its 100 Continue; one byte more is refused at once (503, before
     * any 100 Continue), so its client sends no body in vain.
     */
    @Test
    void aDeclaredLengthFillingExactlyTheRestOfTheBudgetIsAskedForAndOneMoreIsRefusedAtOnce() {
        BodyBudget shared = new BodyBudget(3000);
        channel.finishAndReleaseAll();
        EmbeddedChannel other = EmbeddedPipeline.open(settings(), streams, new HttpMetrics(registry), shared);
        String first = commitOf(2000);
        other.writeInbound(io.netty.buffer.Unpooled.copiedBuffer("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: "
                + first.length() + "\r\n\r\n" + first.substring(0, 1000), java.nio.charset.StandardCharsets.US_ASCII));
        other.runPendingTasks();
        assertEquals(1000, shared.used(), "the first body's bytes so far");
        try {
            channel = EmbeddedPipeline.open(settings(), streams, new HttpMetrics(registry), shared);
            send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n");
            assertEquals(List.of(100), statuses(answers()), "exactly the rest of the budget");
            send(commitOf(2000));
            List<String> answers = answers();
            assertEquals(List.of(200), statuses(answers), answers.toString());

            channel.finishAndReleaseAll();
            channel = EmbeddedPipeline.open(settings(), streams, new HttpMetrics(registry), shared);
            send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2001\r\n\r\n");
            answers = answers();
            assertEquals(List.of(503), statuses(answers), answers.toString());
            assertTrue(answers.get(0).contains("max_in_flight_request_bytes"), answers.get(0));
            assertEquals(1000, shared.used());
        } finally {
            other.finishAndReleaseAll();
        }
    }

    private static String policyOf(int size) {
        String p = "{\"version\":0}";
        return p.substring(0, p.length() - 1) + " ".repeat(size - p.length()) + "}";
    }

    @Test
    void aPolicyBodyOfExactly64KiBIsStoredAndOneByteMoreIs413() {
        send(declared("PUT", "/v1/retention/p1", policyOf(MAX_POLICY)));
        List<String> answers = awaitAnswers(1);
        assertEquals(List.of(201), statuses(answers), answers.toString());

        reopen();
        send(declared("PUT", "/v1/retention/p2", policyOf(MAX_POLICY + 1)));
        answers = awaitAnswers(1);
        assertEquals(List.of(413), statuses(answers), answers.toString());
    }

    @Test
    void aChunkedPolicyBodyOfExactly64KiBIsStoredAndOneByteMoreIs413() {
        send(chunked("PUT", "/v1/retention/p1", policyOf(MAX_POLICY)));
        List<String> answers = awaitAnswers(1);
        assertEquals(List.of(201), statuses(answers), answers.toString());

        reopen();
        send(chunked("PUT", "/v1/retention/p2", policyOf(MAX_POLICY + 1)));
        answers = awaitAnswers(1);
        assertEquals(List.of(413), statuses(answers), answers.toString());
    }
}
