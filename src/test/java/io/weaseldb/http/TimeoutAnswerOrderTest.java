package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.subscribe.SubscriberHub;
import io.weaseldb.testing.RawHttp;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A read timeout on a pipelined connection, through the server's real pipeline on the event
 * loop's own clock: the 408 is the answer of the request that was not sent in time, and comes
 * after the answers of the requests before it. Written ahead of them, a client would read it as
 * the answer to its oldest request, say a commit that then commits.
 */
class TimeoutAnswerOrderTest extends PipelineFixture {
    private final SubscriberHub hub = streams.hub;

    private double rejected(String reason) {
        return EmbeddedPipeline.rejected(registry, reason);
    }

    @Test
    void stalledHeadersAreAnsweredAfterTheCommitBeforeThem() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send("GET /v1/version HTTP/1.1\r\nHost: x\r\n"); // its headers never end
        advance(HEADER_MS);
        assertEquals(1.0, rejected("header_read_timeout"));
        assertTrue(answers().isEmpty(), "nothing may be written while the commit before it is unanswered");
        assertTrue(channel.isActive());

        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(2, answers.size(), answers.toString());
        assertEquals(200, status(answers.get(0)), "the commit's own answer comes first: " + answers);
        assertTrue(answers.get(0).contains("\"version\":1"), answers.get(0));
        assertEquals(408, status(answers.get(1)), answers.toString());
        assertTrue(answers.get(1).toLowerCase(java.util.Locale.ROOT).contains("connection: close"), answers.get(1));
        assertTrue(answers.get(1).endsWith("{\"error\":\"bad_request\",\"message\":\"the request was not sent in time\"}"),
                answers.get(1));
        assertFalse(channel.isActive(), "closed after the 408");
    }

    @Test
    void aStalledCommitBodyIsAnswered408InItsTurnAndNotCommitted() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE)
                + "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"operations\":");
        advance(BODY_MS);
        assertEquals(1.0, rejected("body_read_timeout"));
        assertTrue(answers().isEmpty());
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 408), answers.stream().map(TimeoutAnswerOrderTest::status).toList(), answers.toString());
        assertEquals(1, backend.requests.size(), "only the first commit reached the pipeline");
        assertFalse(channel.isActive());
        assertEquals(1.0, registry.get("weaseldb.commits").tag("outcome", "request_timeout").counter().count());
    }

    @Test
    void theStartOfARequestReadWithTheEndOfThePreviousOneIsTimedToo() {
        // one read: a whole request, then the request line of the next; its headers never end
        send(RawHttp.get("/v1/version") + "GET /ok HTTP/1.1\r\n");
        assertEquals(List.of(200), answers().stream().map(TimeoutAnswerOrderTest::status).toList());
        advance(HEADER_MS - 1);
        assertTrue(channel.isActive());
        advance(1);
        assertEquals(1.0, rejected("header_read_timeout"));
        assertEquals(List.of(408), answers().stream().map(TimeoutAnswerOrderTest::status).toList());
        assertFalse(channel.isActive());
    }

    @Test
    void anIncompleteRequestLineReadWithThePreviousRequestIsTimedToo() {
        send(RawHttp.get("/v1/version") + "GET /o");
        answers();
        advance(HEADER_MS);
        assertEquals(1.0, rejected("header_read_timeout"));
        assertEquals(List.of(408), answers().stream().map(TimeoutAnswerOrderTest::status).toList());
    }

    @Test
    void lineBreaksAfterARequestAreNotTheStartOfAnother() {
        send(RawHttp.get("/v1/version") + "\r\n\r\n");
        assertEquals(List.of(200), answers().stream().map(TimeoutAnswerOrderTest::status).toList());
        advance(10 * BODY_MS);
        assertEquals(0.0, rejected("header_read_timeout"));
        assertTrue(channel.isActive(), "an idle keep-alive connection, not a late request");
    }

    @Test
    void aLineBreakReadOnItsOwnAfterARequestIsNotARequest() {
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        assertEquals(List.of(200), answers().stream().map(TimeoutAnswerOrderTest::status).toList());
        send("\r\n"); // some clients send one after a body
        advance(10 * BODY_MS);
        assertEquals(0.0, rejected("header_read_timeout"));
        assertTrue(channel.isActive(), "an idle keep-alive connection, not a late request");
        send(RawHttp.get("/v1/version"));
        assertEquals(List.of(200), answers().stream().map(TimeoutAnswerOrderTest::status).toList());
    }

    @Test
    void requestsSentAfterASubscribeAreDroppedUndecoded() {
        send("GET /v1/subscribe HTTP/1.1\r\nHost: x\r\n\r\n");
        List<String> head = answers();
        assertEquals(List.of(200), head.stream().map(TimeoutAnswerOrderTest::status).toList(), head.toString());
        for (int i = 0; i < 10; i++) {
            send("GET / HTTP/1.1\r\n\r\n".repeat(1_000));
        }
        ServerCodec codec = (ServerCodec) channel.pipeline().get("codec");
        assertFalse(codec.holdsPartialRequest());
        assertTrue(channel.isActive(), "the stream goes on");
        assertTrue(answers().stream().noneMatch(a -> a.startsWith("HTTP/1.1 ")), "no answers to what follows a subscribe");
        assertEquals(0, codec.pendingAnswers(), "nothing waits for an answer (10,000 requests were sent)");
    }

    @Test
    void aRequestStartedWhileReadingIsPausedIsNotTimedUntilReadingResumes() {
        // four held commits fill max_pipelined_requests; the fifth request's line came in the same read
        backend.hold = true;
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            s.append(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        }
        send(s + "GET /v1/version HTTP/1.1\r\n");
        assertFalse(channel.config().isAutoRead(), "paused at max_pipelined_requests");
        advance(10 * HEADER_MS);
        assertEquals(0.0, rejected("header_read_timeout"), "the client cannot be late while it is not read");
        for (int i = 0; i < 4; i++) {
            backend.release(i);
        }
        channel.runPendingTasks();
        assertEquals(4, answers().size());
        assertTrue(channel.config().isAutoRead());
        advance(HEADER_MS); // read again, and the headers still do not end
        assertEquals(1.0, rejected("header_read_timeout"));
        assertEquals(List.of(408), answers().stream().map(TimeoutAnswerOrderTest::status).toList());
    }

    @Test
    void aStalledCommitBodyGivesBackItsBudgetAtTheTimeout() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"operations\":");
        assertTrue(budget.used() > 0);
        advance(BODY_MS);
        assertEquals(0, budget.used(), "released at the timeout, not when the 408 finally goes out");
    }

    /** The 408 waits behind a held commit, and the client is gone before it is written. */
    @Test
    void aTimedOutCommitWhose408IsNeverSentIsNotCountedAsAnswered() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"operations\":");
        advance(BODY_MS);
        channel.close();
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(), answers.stream().map(TimeoutAnswerOrderTest::status).toList(), answers.toString());
        assertEquals(1.0, rejected("body_read_timeout"));
        assertNull(registry.find("weaseldb.commits").tag("outcome", "request_timeout").counter(),
                "no 408 was written");
    }

    @Test
    void aStalledRetentionBodyIsAnswered408InItsTurn() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send("PUT /v1/retention/p1 HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"vers");
        advance(BODY_MS);
        assertTrue(answers().isEmpty());
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 408), answers.stream().map(TimeoutAnswerOrderTest::status).toList(), answers.toString());
        assertFalse(channel.isActive());
    }

    @Test
    void bytesAfterAQueuedSubscribeAreNotTimedAndTheStreamStarts() {
        // the connection belongs to the stream once the subscribe is accepted, even while it waits
        // its turn behind a commit: stray bytes after it must not time out (nor pause reading for good)
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send("GET /v1/subscribe HTTP/1.1\r\nHost: x\r\n\r\n");
        send("GET /v1/version HTTP/1.1\r\n");
        advance(10 * BODY_MS);
        assertEquals(0.0, rejected("header_read_timeout"));
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 200), answers.stream().map(TimeoutAnswerOrderTest::status).toList(), answers.toString());
        assertTrue(answers.get(1).contains("text/event-stream"), answers.get(1));
        assertTrue(channel.isActive());
        assertTrue(channel.config().isAutoRead(), "still reading, so a client that leaves is noticed");
    }

    @Test
    void aBodyIsTimedFromWhenItsHeadersAreHandledNotFromAReadBeforeAPause() {
        // four pipelined commits fill max_pipelined_requests, so reading pauses with the fifth's head
        // and a little of its body already read; the four take longer than body_read_timeout_ms
        backend.hold = true;
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            s.append(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        }
        s.append("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"operations\":");
        send(s.toString());
        assertFalse(channel.config().isAutoRead(), "paused at max_pipelined_requests");
        advance(BODY_MS + 1);
        for (int i = 0; i < 4; i++) {
            backend.release(i);
        }
        channel.runPendingTasks();
        assertEquals(4, answers().size());
        advance(0);
        assertEquals(0.0, rejected("body_read_timeout"), "the client had no chance to send more while paused");
        advance(BODY_MS); // but a body that then stalls for the whole allowance still times out
        assertEquals(1.0, rejected("body_read_timeout"));
        assertEquals(List.of(408), answers().stream().map(TimeoutAnswerOrderTest::status).toList());
    }

    @Test
    void aTimeoutWithNothingPendingAnswersAtOnce() {
        send("GET /v1/version HTTP/1.1\r\nHost: x\r\n");
        advance(HEADER_MS - 1);
        assertTrue(answers().isEmpty());
        assertTrue(channel.isActive());
        advance(1);
        List<String> answers = answers();
        assertEquals(1, answers.size(), answers.toString());
        assertEquals(408, status(answers.get(0)));
        String[] parts = answers.get(0).split("\r\n\r\n", 2);
        java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)content-length: (\\d+)").matcher(parts[0]);
        assertTrue(length.find(), parts[0]);
        assertEquals(Integer.parseInt(length.group(1)), parts[1].length(), "the declared length is the body's");
        assertFalse(channel.isActive());
    }

    @Test
    void aRequestAlreadyAnsweredGetsNoSecondAnswerWhenItsBodyStalls() {
        // a 404 is answered at once, before its body; the body then stalls: no stray 408 after the 404
        send("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
        List<String> first = answers();
        assertEquals(List.of(404), first.stream().map(TimeoutAnswerOrderTest::status).toList(), first.toString());
        advance(BODY_MS);
        assertEquals(1.0, rejected("body_read_timeout"));
        assertTrue(answers().isEmpty(), "one request, one answer");
        assertFalse(channel.isActive(), "the connection closes");
    }

    @Test
    void aPendingAnswerForTheStalledRequestClosesTheConnectionOnceWritten() {
        // the request's answer (a 404, queued behind a held commit) does not depend on its body
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE)
                + "PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
        advance(BODY_MS);
        assertTrue(answers().isEmpty());
        assertTrue(channel.isActive());
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 404), answers.stream().map(TimeoutAnswerOrderTest::status).toList(), answers.toString());
        assertTrue(answers.get(1).toLowerCase(java.util.Locale.ROOT).contains("connection: close"), answers.get(1));
        assertFalse(channel.isActive());
        assertNull(channel.readOutbound());
    }

    @Test
    void aSubscribeOnceLeadershipEndedIs503WithRetryAfter() {
        hub.endAll("leadership lost");
        send(RawHttp.get("/v1/subscribe?after=0"));
        List<String> answers = answers();
        assertEquals(1, answers.size(), answers.toString());
        assertEquals(503, status(answers.get(0)), answers.get(0));
        assertTrue(answers.get(0).contains("retry-after: "), answers.get(0));
        assertTrue(answers.get(0).contains("no longer leads the log"), answers.get(0));
        assertTrue(channel.isActive());
    }

    /** The status of every answer written so far, in order. */
    private List<Integer> statuses() {
        return answers().stream().map(TimeoutAnswerOrderTest::status).toList();
    }

    private static String expectContinue(String method, String path, int length) {
        return method + " " + path + " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " + length + "\r\n\r\n";
    }

    /**
     * Expect: 100-continue behind a request not yet answered: the 100 goes out right after that
     * answer (never before it), and the body is timed from the 100, not from its head: a client
     * waiting to be invited cannot be late. Before, the 100 never came and the client waiting for
     * it got a 408 after body_read_timeout_ms.
     */
    @Test
    void a100ContinueWaitsForTheAnswersBeforeItAndItsBodyIsTimedFromIt() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send(expectContinue("POST", "/v1/commit", HttpServerTest.WRITE.length()));
        advance(10 * BODY_MS);
        assertEquals(0.0, rejected("body_read_timeout"), "the client has not been invited to send its body");
        assertTrue(answers().isEmpty(), "nothing may overtake the commit's answer");
        backend.release(0);
        channel.runPendingTasks();
        assertEquals(List.of(200, 100), statuses());
        advance(BODY_MS - 1);
        assertTrue(channel.isActive());
        send(HttpServerTest.WRITE);
        backend.release(1);
        channel.runPendingTasks();
        assertEquals(List.of(200), statuses());
        assertEquals(2, backend.requests.size());
        assertEquals(0.0, rejected("body_read_timeout"));
    }

    @Test
    void aBodyThatStallsAfterItsDeferred100ContinueTimesOut() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send(expectContinue("POST", "/v1/commit", HttpServerTest.WRITE.length()));
        backend.release(0);
        channel.runPendingTasks();
        assertEquals(List.of(200, 100), statuses());
        advance(BODY_MS);
        assertEquals(1.0, rejected("body_read_timeout"));
        assertEquals(List.of(408), statuses());
        assertFalse(channel.isActive());
        assertEquals(0, budget.used());
    }

    /** A client that sends its body without waiting for the 100 (curl does after a second) gets no 100 after it. */
    @Test
    void aBodySentWithoutWaitingForTheDeferred100ContinueIsReadAndGetsNone() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send(expectContinue("POST", "/v1/commit", HttpServerTest.WRITE.length()));
        advance(BODY_MS);
        send(HttpServerTest.WRITE.substring(0, 10));
        advance(BODY_MS - 1); // timed from the first byte of it: the client did not wait
        send(HttpServerTest.WRITE.substring(10));
        backend.release(0);
        backend.release(1);
        channel.runPendingTasks();
        assertEquals(List.of(200, 200), statuses());
        assertEquals(0.0, rejected("body_read_timeout"));
    }

    @Test
    void a100ContinueForARetentionPutWaitsForTheAnswersBeforeIt() {
        String policy = "{\"version\":5}";
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send(expectContinue("PUT", "/v1/retention/p1", policy.length()));
        advance(10 * BODY_MS);
        assertEquals(0.0, rejected("body_read_timeout"));
        assertTrue(answers().isEmpty());
        backend.release(0);
        channel.runPendingTasks();
        assertEquals(List.of(200, 100), statuses());
        send(policy);
        List<String> put = awaitAnswers(1);
        assertEquals(List.of(201), put.stream().map(TimeoutAnswerOrderTest::status).toList(), put.toString());
        assertTrue(channel.isActive());
        assertEquals(0.0, rejected("body_read_timeout"));
    }

    /** Query values are decoded as forms encode them, which splits only on '&': a raw ';' is part of the value. */
    @Test
    void aSemicolonInASubscribeQueryIsPartOfTheValue() {
        send(RawHttp.get("/v1/subscribe?after=0;durable=false"));
        List<String> answers = answers();
        assertEquals(List.of(400), answers.stream().map(TimeoutAnswerOrderTest::status).toList(), answers.toString());
        assertTrue(answers.get(0).contains("after must be a non-negative integer version, got \\\"0;durable=false\\\""),
                answers.get(0));
        assertEquals(0, hub.count());
    }
}
