package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.weaseldb.testing.RawHttp;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The client's end of input (a FIN: a half-close, shutdown(SHUT_WR), or the first half of a
 * close), through the server's real pipeline: every complete request before it is answered, in
 * order, then the connection closes; a request cut short by it is dropped with what it held; an
 * event stream ends. The FIN is the event the transport fires with ALLOW_HALF_CLOSURE on.
 */
class HalfCloseTest extends PipelineFixture {
    /** The client's FIN, as the transport reports it with half-closure allowed. */
    private void fin() {
        channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        channel.runPendingTasks();
    }

    @Test
    void answersOwedAtTheFinGoOutInOrderThenTheConnectionCloses() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE) + RawHttp.get("/v1/version"));
        fin();
        assertTrue(channel.isActive(), "the commit's answer is owed");
        assertTrue(answers().isEmpty());
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 200), statuses(answers), answers.toString());
        assertFalse(closes(answers.get(0)), answers.get(0));
        assertTrue(closes(answers.get(1)), "the last answer says the connection ends: " + answers.get(1));
        assertFalse(channel.isActive());
    }

    @Test
    void aFinWithNothingOwedClosesAtOnce() {
        send(RawHttp.get("/v1/version"));
        assertEquals(List.of(200), statuses(answers()));
        fin();
        assertFalse(channel.isActive());
    }

    /**
     * Requests held in flow control (max_pipelined_requests reached) when the FIN arrives are
     * still answered: the end of input reaches the handler behind them, not ahead.
     */
    @Test
    void requestsHeldBackByThePipeliningLimitAtTheFinAreAnswered() {
        backend.hold = true;
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            s.append(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        }
        send(s + RawHttp.get("/v1/version") + RawHttp.post("/v1/commit", HttpServerTest.WRITE) + RawHttp.get("/ok"));
        assertFalse(channel.config().isAutoRead(), "paused at max_pipelined_requests");
        fin();
        for (int i = 0; i < 4; i++) {
            backend.release(i);
        }
        channel.runPendingTasks();
        backend.release(4);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 200, 200, 200, 200, 200, 200), statuses(answers), answers.toString());
        assertTrue(answers.get(6).contains("\"status\":\"ok\""), answers.get(6));
        assertTrue(closes(answers.get(6)), answers.get(6));
        assertFalse(channel.isActive());
        assertEquals(5, backend.requests.size());
    }

    @Test
    void aCommitBodyCutShortByAResetGivesBackItsBudget() {
        // no FIN first: the connection just goes (a reset, a killed client)
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"operations\":");
        assertTrue(budget.used() > 0);
        channel.close();
        channel.runPendingTasks();
        assertEquals(0, budget.used(), "given back when the connection closes");
    }

    @Test
    void aCommitBodyCutShortByTheFinIsDroppedAndGivesBackItsBudget() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE)
                + "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"operations\":");
        assertTrue(budget.used() > 0);
        fin();
        assertEquals(0, budget.used(), "given back at the FIN");
        assertTrue(channel.isActive(), "the first commit's answer is owed");
        advance(10 * BODY_MS);
        assertTrue(answers().isEmpty(), "no 408 for a body that can no longer arrive");
        releaseAndExpectOneClosing200(0);
        assertEquals(1, backend.requests.size(), "the commit cut short never reached the pipeline");
        assertEquals(0.0, EmbeddedPipeline.rejected(registry, "body_read_timeout"));
    }

    @Test
    void aRetentionBodyCutShortByTheFinIsDropped() {
        send("PUT /v1/retention/p1 HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"vers");
        fin();
        assertTrue(answers().isEmpty());
        assertFalse(channel.isActive());
    }

    @Test
    void aHeadCutShortByTheFinIsNotAnswered() {
        send(RawHttp.get("/v1/version") + "GET /v1/version HTTP/1.1\r\nHost: x\r\n");
        assertEquals(List.of(200), statuses(answers()));
        fin();
        assertTrue(answers().isEmpty(), "no 400 for a head the client never finished");
        assertFalse(channel.isActive());
        advance(10 * HEADER_MS);
        assertEquals(0.0, EmbeddedPipeline.rejected(registry, "header_read_timeout"));
        assertEquals(0.0, EmbeddedPipeline.rejected(registry, "malformed_request"));
    }

    /**
     * A running event stream ends at the client's FIN: the transport cannot tell a half-close from
     * a close, and a subscriber holds a max_subscribers slot and holds back retention.
     */
    @Test
    void aRunningStreamEndsAtTheFin() {
        send(RawHttp.get("/v1/subscribe?after=0"));
        assertEquals(List.of(200), statuses(answers()));
        assertEquals(1, streams.hub.count());
        fin();
        assertFalse(channel.isActive());
        assertEquals(0, streams.hub.count());
    }

    @Test
    void aSubscribeQueuedAtTheFinIsNotStarted() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE) + RawHttp.get("/v1/subscribe?after=0"));
        fin();
        assertTrue(channel.isActive());
        releaseAndExpectOneClosing200(0);
        assertEquals(0, streams.hub.count());
    }

    /** The same for a live tail, whose stream waits for its turn to pick its start (audit 42). */
    @Test
    void aLiveTailQueuedAtTheFinIsNotStarted() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE) + RawHttp.get("/v1/subscribe"));
        fin();
        assertTrue(channel.isActive());
        releaseAndExpectOneClosing200(0);
        assertEquals(0, streams.hub.count());
    }

    /** A connection lingering to read the rest of a refused body (here a 413) closes at the FIN, not 2 s later. */
    @Test
    void aLingeringConnectionClosesAtTheFin() {
        send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{");
        List<String> answers = answers();
        assertEquals(List.of(413), statuses(answers), answers.toString());
        assertTrue(channel.isActive(), "lingering for the rest of the body");
        fin();
        assertFalse(channel.isActive());
    }
}
