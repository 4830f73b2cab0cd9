package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.weaseldb.testing.RawHttp;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A request with {@code Connection: close} (or HTTP/1.0 without keep-alive) is the last one the
 * connection reads (RFC 9112 9.6), through the server's real pipeline: the requests before it are
 * answered in order, it is answered with {@code Connection: close} and the connection closes;
 * whatever the client pipelined after it is discarded, never executed and never answered.
 */
class ConnectionCloseTest extends PipelineFixture {
    private static String closingCommit() {
        return "POST /v1/commit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                + HttpServerTest.WRITE.length() + "\r\n\r\n" + HttpServerTest.WRITE;
    }

    /** The defect's reproduction: both commits were applied, one answer written, then the connection closed. */
    @Test
    void aCommitPipelinedAfterAConnectionCloseIsNeitherExecutedNorAnswered() {
        backend.hold = true;
        send(closingCommit() + RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        assertEquals(1, backend.requests.size(), "the commit after the close was submitted");
        releaseAndExpectOneClosing200(0);
        assertEquals(1, backend.requests.size());
        assertEquals(0, budget.used());
    }

    @Test
    void theRequestsBeforeItAreAnsweredInOrderThenItWithConnectionClose() {
        backend.hold = true;
        send(RawHttp.get("/v1/version") + RawHttp.post("/v1/commit", HttpServerTest.WRITE)
                + "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                + RawHttp.post("/v1/commit", HttpServerTest.WRITE) + RawHttp.get("/v1/version"));
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 200, 200), statuses(answers), answers.toString());
        assertFalse(closes(answers.get(0)) || closes(answers.get(1)), answers.toString());
        assertTrue(answers.get(2).contains("\"status\":\"ok\""), answers.get(2));
        assertTrue(closes(answers.get(2)), answers.get(2));
        assertFalse(channel.isActive());
        assertEquals(1, backend.requests.size());
    }

    /** No status asked (a real server bans the id), no retention change, no commit, no 100 Continue, no stream. */
    @Test
    void nothingPipelinedAfterItIsExecuted() throws Exception {
        backend.hold = true;
        String policy = "{\"version\":5}";
        send(closingCommit()
                + RawHttp.get("/v1/status?request_id=rrrrrrrrrrrrrrrrrrrrrrrrr")
                + "PUT /v1/retention/p1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + policy.length() + "\r\n\r\n" + policy
                + "POST /v1/commit HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
                + HttpServerTest.WRITE.length() + "\r\n\r\n" + HttpServerTest.WRITE
                + RawHttp.get("/v1/subscribe?after=0"));
        assertEquals(0, streams.hub.count(), "no stream admitted");
        releaseAndExpectOneClosing200(0);
        assertEquals(List.of(), backend.statusAsked);
        assertNull(streams.retention.get("p1").get(5, TimeUnit.SECONDS), "no policy stored");
        assertEquals(1, backend.requests.size());
        assertEquals(0, streams.hub.count());
    }

    @Test
    void anHttp10RequestWithoutKeepAliveIsTheLastOneRead() {
        backend.hold = true;
        send("POST /v1/commit HTTP/1.0\r\nContent-Length: " + HttpServerTest.WRITE.length() + "\r\n\r\n"
                + HttpServerTest.WRITE + RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200), statuses(answers), answers.toString());
        assertFalse(answers.get(0).toLowerCase(Locale.ROOT).contains("keep-alive"), answers.get(0));
        assertFalse(channel.isActive());
        assertEquals(1, backend.requests.size());
    }

    /**
     * A commit body arriving after the closing request, still coming when its answer is written:
     * it was parsed, held a share of the body budget, and was submitted when it ended.
     */
    @Test
    void aCommitBodyAfterItIsNotParsedAndHoldsNothing() {
        backend.hold = true;
        String later = RawHttp.post("/v1/commit", HttpServerTest.WRITE);
        int cut = later.length() - 10;
        send(closingCommit() + later.substring(0, cut));
        assertEquals(0, budget.used(), "the later body holds no budget");
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200), statuses(answers), answers.toString());
        assertTrue(closes(answers.get(0)), answers.get(0));
        if (channel.isActive()) {
            send(later.substring(cut));
        }
        assertFalse(channel.isActive());
        assertEquals(1, backend.requests.size());
        assertEquals(0, budget.used());
        assertTrue(answers().isEmpty());
    }

    /** What follows it is dropped undecoded: a head left incomplete is not timed (no 408), garbage is no 400. */
    @Test
    void bytesAfterItAreDroppedUntimedAndUnanswered() {
        backend.hold = true;
        send(closingCommit() + "NOT HTTP AT ALL\r\n\r\n" + "GET /v1/version HTTP/1.1\r\nHost:");
        advance(10 * HEADER_MS);
        assertTrue(channel.isActive(), "the closing commit's answer is owed");
        assertTrue(answers().isEmpty());
        releaseAndExpectOneClosing200(0);
        assertEquals(0.0, EmbeddedPipeline.rejected(registry, "header_read_timeout"));
        assertEquals(0.0, EmbeddedPipeline.rejected(registry, "malformed_request"));
    }

    /** The client's FIN behind what it pipelined after the close changes nothing. */
    @Test
    void aHalfCloseAfterItStillAnswersOnlyTheClosingRequest() {
        backend.hold = true;
        send(closingCommit() + RawHttp.post("/v1/commit", HttpServerTest.WRITE) + RawHttp.get("/v1/version"));
        channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        channel.runPendingTasks();
        assertTrue(channel.isActive(), "the closing commit's answer is owed");
        releaseAndExpectOneClosing200(0);
        assertEquals(1, backend.requests.size());
    }

    /** A closing commit with Expect: 100-continue behind an unanswered one: its 100 still comes in its turn, then its body is read. */
    @Test
    void aClosingCommitExpecting100ContinueGetsItThenTheRestIsDropped() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: "
                + HttpServerTest.WRITE.length() + "\r\n\r\n");
        backend.release(0);
        channel.runPendingTasks();
        assertEquals(List.of(200, 100), statuses(answers()));
        send(HttpServerTest.WRITE + RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        assertEquals(2, backend.requests.size(), "the closing commit, not the one after it");
        releaseAndExpectOneClosing200(1);
        assertEquals(2, backend.requests.size());
    }
}
