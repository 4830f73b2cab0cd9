package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.weaseldb.testing.LeakWatch;
import io.weaseldb.testing.RawHttp;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * What a client sees at the edges of a connection's life, through the server's real pipeline:
 * refused requests that do or do not end the connection, what they give back (body budget,
 * buffers), the answers already queued when the connection must close, the framing of an event
 * stream, and max_pipelined_requests (4 here).
 */
class ConnectionEdgesTest extends PipelineFixture {
    /**
     * A body with an unsupported transfer coding cannot be framed: nothing after it is executed,
     * also while its 501 waits behind an earlier answer.
     */
    @Test
    void aRequestPipelinedAfterAnUnsupportedTransferCodingIsNotExecuted() {
        backend.hold = true;
        String chunk = Integer.toHexString(HttpServerTest.WRITE.length()) + "\r\n" + HttpServerTest.WRITE + "\r\n0\r\n\r\n";
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE)
                + "POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + chunk
                + RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        assertEquals(1, backend.requests.size(), "only the commit before it");
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 501), statuses(answers), answers.toString());
        assertTrue(closes(answers.get(1)), answers.get(1));
        assertEquals(1, backend.requests.size());
    }

    /** A malformed commit body is a 400 on a connection kept open: it must not keep its share of max_in_flight_request_bytes. */
    @Test
    void aMalformedCommitGivesBackItsBodyBudget() {
        String bad = "{\"operations\":[{\"type\":\"write\",\"key\":\"YQ==\",\"value\":\"YQ==\"}],\"read_version\":\"x\"}";
        send(RawHttp.post("/v1/commit", bad));
        List<String> answers = answers();
        assertEquals(List.of(400), statuses(answers), answers.toString());
        assertTrue(channel.isActive());
        assertEquals(0, budget.used(), "the 400's body is no longer held");
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        assertEquals(List.of(200), statuses(answers()));
        assertEquals(0, budget.used());
    }

    /** A chunked commit found too large mid-body: its bytes are given back when the 413 is written, not when the linger ends. */
    @Test
    void aCommitFoundTooLargeMidBodyGivesBackItsBudgetAtOnce() {
        String spaces = " ".repeat(3000); // JSON whitespace: the parser waits for more
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "bb9\r\n{" + spaces + "\r\n");
        assertEquals(3001, budget.used());
        send("bb8\r\n" + spaces + "\r\n");
        List<String> answers = answers();
        assertEquals(List.of(413), statuses(answers), answers.toString());
        assertTrue(channel.isActive(), "lingering for the rest of the body");
        assertEquals(0, budget.used());
    }

    /**
     * A body whose framing breaks after its request was answered (a 404 waiting behind a slow
     * commit) ends the connection, but only after the answers queued: the commit's is not lost.
     */
    @Test
    void brokenFramingAfterAnAnsweredRequestStillWritesTheAnswersQueued() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE)
                + "POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        assertTrue(channel.isActive(), "the commit's answer is owed");
        assertTrue(answers().isEmpty());
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 404), statuses(answers), answers.toString());
        assertTrue(closes(answers.get(1)), answers.get(1));
    }

    /** An empty body declared with Content-Length: 0 is no body to come, Expect or not: the connection is kept. */
    @Test
    void anEmptyBodyExpecting100ContinueKeepsTheConnection() {
        send("GET /v1/version HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"
                + RawHttp.get("/v1/version"));
        List<String> answers = answers();
        assertEquals(List.of(200, 200), statuses(answers), answers.toString());
        assertFalse(closes(answers.get(0)), answers.get(0));
        assertTrue(channel.isActive());
    }

    @Test
    void aStoredPolicyIsAnsweredWithItsFields() {
        String body = "{\"version\":5,\"ttl_seconds\":60}";
        send("PUT /v1/retention/p1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n" + body);
        List<String> answers = awaitAnswers(1);
        assertEquals(List.of(201), statuses(answers), answers.toString());
        for (String field : List.of("\"policy_id\":\"p1\"", "\"version\":5", "\"ttl_seconds\":60")) {
            assertTrue(answers.get(0).contains(field), field + " in " + answers.get(0));
        }
        send(RawHttp.get("/v1/retention/p1"));
        answers = awaitAnswers(1);
        assertEquals(List.of(200), statuses(answers), answers.toString());
        assertTrue(answers.get(0).contains("\"policy_id\":\"p1\""), answers.get(0));
    }

    /** HTTP/1.1 streams are chunked on a kept connection; HTTP/1.0 knows no chunks: its stream is the body up to the close. */
    @Test
    void anEventStreamIsFramedForTheClientsVersion() {
        send(RawHttp.get("/v1/subscribe?after=0"));
        String head = answers().get(0).toLowerCase(Locale.ROOT);
        assertTrue(head.startsWith("http/1.1 200"), head);
        assertTrue(head.contains("transfer-encoding: chunked"), head);
        assertFalse(closes(head), head);

        channel.finishAndReleaseAll();
        openPipeline();
        send("GET /v1/subscribe?after=0 HTTP/1.0\r\n\r\n");
        head = answers().get(0).toLowerCase(Locale.ROOT);
        assertTrue(head.contains(" 200 "), head);
        assertTrue(closes(head), head);
        assertFalse(head.contains("chunked"), head);
    }

    /**
     * With max_pipelined_requests (4) unanswered, reading stops; an answer that cannot be written
     * yet (a later request's, the first still pending) frees nothing, so reading stays stopped.
     */
    @Test
    void readingStaysPausedUntilAnAnswerIsWritten() {
        backend.hold = true;
        StringBuilder five = new StringBuilder();
        for (int i = 0; i < 5; i++) {
            five.append(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        }
        send(five.toString());
        assertEquals(4, backend.requests.size());
        backend.release(1);
        channel.runPendingTasks();
        assertEquals(4, backend.requests.size(), "the fifth request was read with four still unanswered");
        backend.release(0);
        channel.runPendingTasks();
        assertEquals(List.of(200, 200), statuses(answers()));
        assertEquals(5, backend.requests.size());
    }

    /**
     * After the client's FIN the requests still held in flow control are taken as answers go out,
     * one message (a head, or a body) per answer, so no more than max_pipelined_requests (4) are
     * ever unanswered; every one is answered, in order, and the connection then closes.
     */
    @Test
    void afterTheFinHeldRequestsAreTakenNoFasterThanAnswersGoOut() {
        backend.hold = true;
        StringBuilder six = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            six.append(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        }
        send(six.toString());
        assertEquals(4, backend.requests.size());
        channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        channel.runPendingTasks();
        backend.release(0);
        channel.runPendingTasks();
        assertEquals(4, backend.requests.size(), "the fifth's head is taken, its body waits for another answer");
        List<String> answers = new ArrayList<>(answers());
        for (int i = 1; i < 6; i++) {
            backend.release(i);
            channel.runPendingTasks();
            answers.addAll(answers());
        }
        assertEquals(6, backend.requests.size());
        assertEquals(List.of(200, 200, 200, 200, 200, 200), statuses(answers), answers.toString());
        assertFalse(channel.isActive());
    }

    /**
     * The request with Connection: close is read whole: its answer may take longer than the body
     * read timeout without anything being timed out (no 408 counted, the 200 written).
     */
    @Test
    void aClosingRequestWaitingForItsAnswerIsNotTimedOut() {
        backend.hold = true;
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                + HttpServerTest.WRITE.length() + "\r\n\r\n" + HttpServerTest.WRITE);
        advance(2 * BODY_MS);
        assertEquals(0.0, EmbeddedPipeline.rejected(registry, "body_read_timeout"));
        releaseAndExpectOneClosing200(0);
    }

    /** A retention body cut short by the client's disconnect: its buffer is given back. */
    @Test
    void aPolicyBodyCutShortByACloseLeaksNoBuffer() throws Exception {
        try (LeakWatch leaks = new LeakWatch()) {
            for (int i = 0; i < 3; i++) {
                channel.finishAndReleaseAll();
                openPipeline();
                send("PUT /v1/retention/p1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"version\":");
                channel.close();
                channel.runPendingTasks();
            }
            leaks.assertNoLeaks(() -> {
                channel.finishAndReleaseAll();
                openPipeline();
                send("PUT /v1/retention/p2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"version\":");
            });
        }
    }
}
