package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The slowloris timers on the event loop's own (frozen, then advanced) clock. Messages stand for
 * what the API handler reports: "headers" = the request's headers are complete, "end" = the
 * request is complete, anything else = more bytes of the request. A timeout is the
 * {@link ReadTimeouts.Expired} event it fires to the API handler (which answers 408 in its turn:
 * {@code HttpServerTest} covers that over TCP, {@code TimeoutAnswerOrderTest} on a pipeline).
 */
class ReadTimeoutsTest {
    private static final long HEADER_MS = 1_000;
    private static final long BODY_MS = 3_000;
    private static final long DEADLINE_MS = 20_000;

    private EmbeddedChannel channel;
    private SimpleMeterRegistry registry;
    private final java.util.List<ReadTimeouts.Expired> expired = new java.util.ArrayList<>();

    @BeforeEach
    void setUp() {
        registry = new SimpleMeterRegistry();
        channelWithHeaderTimeout(HEADER_MS);
    }

    /** A new {@link #channel} whose timeouts allow {@code headerMs} for the head, with the test's other limits. */
    private void channelWithHeaderTimeout(long headerMs) {
        ReadTimeouts timeouts = new ReadTimeouts(headerMs, BODY_MS, DEADLINE_MS, new HttpMetrics(registry), null);
        channel = new EmbeddedChannel();
        channel.freezeTime();
        channel.pipeline().addLast(timeouts, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg.equals("headers")) {
                    timeouts.headersComplete();
                } else if (msg.equals("end")) {
                    timeouts.requestComplete();
                } else if (msg.equals("stream")) {
                    timeouts.streamStarted();
                } else if (msg.equals("expect 100")) {
                    timeouts.awaitingContinue();
                }
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                expired.add((ReadTimeouts.Expired) evt);
            }
        });
    }

    private void advance(long ms) {
        channel.advanceTimeBy(ms, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
    }

    private void request(String... parts) {
        for (String p : parts) {
            channel.writeInbound(p);
        }
    }

    private void assertTimedOut(String reason) {
        assertEquals(java.util.List.of(new ReadTimeouts.Expired(reason)), expired, "one timeout, for " + reason);
        assertNull(channel.readOutbound(), "the 408 is the API handler's to write, in its turn");
        assertFalse(channel.config().isAutoRead(), "reading stops at a timeout");
        assertEquals(1.0, registry.get("weaseldb.http.rejected").tag("reason", reason).counter().count());
        // nothing more is timed: more bytes and a long wait fire nothing else
        request("more bytes");
        advance(10 * DEADLINE_MS);
        assertEquals(1, expired.size(), "nothing is timed after a timeout");
    }

    private void assertStillOpen() {
        assertNull(channel.readOutbound());
        assertTrue(expired.isEmpty(), "no timeout: " + expired);
        assertTrue(channel.config().isAutoRead());
    }

    @Test
    void headersThatNeverEndTimeOutFromTheRequestsFirstByte() {
        request("GET /v1/version HTTP/1.1\r\nHost: x\r\n");
        advance(HEADER_MS - 1);
        assertStillOpen();
        advance(1);
        assertTimedOut("header_read_timeout");
    }

    @Test
    void aStallAfterManyQuickRequestsIsTimedFromItsOwnStart() {
        // Quick requests keep one lazy timer, armed by the first; the stalled request must still
        // get its whole allowance, counted from its own first byte, and no more.
        for (int i = 0; i < 3; i++) {
            request("req", "headers", "body", "end");
            advance(300);
        }
        // at t = 900 ms: the timer armed at t = 0 fires at 1000 and must re-arm for 1900
        request("GET /v1/version HTTP/1.1\r\n");
        advance(HEADER_MS - 1);
        assertStillOpen();
        advance(1);
        assertTimedOut("header_read_timeout");
    }

    @Test
    void aBodyTimesOutOnlyWhenItStopsMoving() {
        request("POST /v1/commit HTTP/1.1\r\n", "headers");
        for (int i = 0; i < 5; i++) { // a slow but steady body: 2 s between chunks, 10 s in all
            advance(BODY_MS - 1_000);
            request("chunk");
        }
        assertStillOpen();
        advance(BODY_MS - 1);
        assertStillOpen();
        advance(1);
        assertTimedOut("body_read_timeout");
    }

    @Test
    void anIdleConnectionBetweenRequestsIsNotTimedOutHere() {
        request("req", "headers", "end");
        advance(10 * BODY_MS);
        assertStillOpen(); // idle_timeout_seconds handles idleness, not these timers
        request("next", "headers");
        advance(BODY_MS);
        assertTimedOut("body_read_timeout");
    }

    @Test
    void aBodyThatKeepsTricklingIsCutOffAtItsDeadline() {
        request("POST /v1/commit HTTP/1.1\r\n", "headers");
        long elapsed = 0;
        while (elapsed + 2_000 < DEADLINE_MS) { // never stalls for BODY_MS, but never ends either
            advance(2_000);
            elapsed += 2_000;
            request("b");
        }
        assertStillOpen();
        advance(DEADLINE_MS - elapsed - 1);
        assertStillOpen();
        advance(1);
        assertTimedOut("body_deadline");
    }

    @Test
    void eachRequestGetsItsOwnDeadline() {
        for (int i = 0; i < 3; i++) { // three bodies of 15 s each on one connection: 45 s in all
            request("POST /v1/commit HTTP/1.1\r\n", "headers");
            for (int t = 0; t < 15_000; t += 1_500) {
                advance(1_500);
                request("b");
            }
            request("end");
        }
        assertStillOpen();
    }

    @Test
    void nothingIsTimedOnceTheConnectionIsAStream() {
        // a subscribe whose empty last content is held back (reading paused by its backlog)
        request("GET /v1/subscribe HTTP/1.1\r\n", "headers", "stream");
        advance(10 * DEADLINE_MS);
        assertStillOpen();
        request("stray bytes after the subscribe", "end", "more");
        advance(10 * DEADLINE_MS);
        assertStillOpen();
    }

    @Test
    void aBodySentWithoutWaitingForThe100IsTimedLikeAnyBody() {
        // curl sends its body after 1 s without a 100 Continue; from then on a stall counts
        request("POST /v1/commit HTTP/1.1\r\nExpect: 100-continue\r\n", "headers", "expect 100");
        advance(10 * DEADLINE_MS);
        assertStillOpen(); // not asked for its body yet: not late
        request("first chunk");
        advance(BODY_MS - 1);
        assertStillOpen();
        advance(1);
        assertTimedOut("body_read_timeout");
    }

    @Test
    void aBodyStallShorterThanTheHeaderTimeoutIsNotPostponedToIt() {
        // the header timer (10 s) is pending when the body starts: its 3 s stall limit must still hold
        expired.clear();
        channelWithHeaderTimeout(10_000);
        request("POST /v1/commit HTTP/1.1\r\n", "headers");
        advance(BODY_MS - 1);
        assertStillOpen();
        advance(1);
        assertTimedOut("body_read_timeout");
    }
}
