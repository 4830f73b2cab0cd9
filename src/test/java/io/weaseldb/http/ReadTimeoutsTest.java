package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The slowloris timers on the event loop's own (frozen, then advanced) clock. Messages stand for
 * what the API handler reports: "headers" = the request's headers are complete, "end" = the
 * request is complete, anything else = more bytes of the request.
 */
class ReadTimeoutsTest {
    private static final long HEADER_MS = 1_000;
    private static final long BODY_MS = 3_000;
    private static final long DEADLINE_MS = 20_000;

    private EmbeddedChannel channel;
    private SimpleMeterRegistry registry;

    @BeforeEach
    void setUp() {
        registry = new SimpleMeterRegistry();
        ReadTimeouts timeouts = new ReadTimeouts(HEADER_MS, BODY_MS, DEADLINE_MS, new HttpMetrics(registry));
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
                }
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
        ByteBuf out = channel.readOutbound();
        try {
            assertTrue(out != null && out.toString(StandardCharsets.US_ASCII).startsWith("HTTP/1.1 408"),
                    "expected a 408, got " + out);
            String[] response = out.toString(StandardCharsets.US_ASCII).split("\r\n\r\n", 2);
            java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)content-length: (\\d+)").matcher(response[0]);
            assertTrue(length.find(), response[0]);
            assertEquals(Integer.parseInt(length.group(1)), response[1].length(), "the declared length is the body's");
        } finally {
            if (out != null) {
                out.release();
            }
        }
        assertFalse(channel.isActive(), "the connection is closed after the 408");
        assertEquals(1.0, registry.get("weaseldb.http.rejected").tag("reason", reason).counter().count());
    }

    private void assertStillOpen() {
        assertNull(channel.readOutbound());
        assertTrue(channel.isActive());
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
}
