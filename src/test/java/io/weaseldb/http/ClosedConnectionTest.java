package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.RawHttp;
import org.junit.jupiter.api.Test;

/**
 * A connection that closes with requests still unanswered gives back what they hold: a subscribe
 * queued behind a slow commit holds one of max_subscribers until its stream starts, and a client
 * that went away must not keep it (with max_subscribers taken by such ghosts, every subscriber
 * would be refused 503).
 */
class ClosedConnectionTest extends PipelineFixture {
    @Test
    void aSubscribeQueuedWhenTheConnectionClosesGivesBackItsSubscriberSlot() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE) + RawHttp.get("/v1/subscribe?after=0"));
        assertEquals(1, streams.hub.count(), "admitted, waiting for the commit's answer");
        channel.close();
        channel.runPendingTasks();
        assertFalse(channel.isActive());
        assertEquals(0, streams.hub.count());

        backend.release(0); // the commit's outcome comes after the close: nothing is written, nothing started
        channel.runPendingTasks();
        assertTrue(answers().isEmpty());
        assertEquals(0, streams.hub.count());
    }
}
