package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.json.CommitLimits;
import io.weaseldb.testing.RawHttp;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * idle_timeout_seconds on the event loop's own (frozen, then advanced) clock: a connection is
 * closed once it has neither read nor answered for the timeout, never with a commit in flight.
 */
class IdleTimeoutTest {
    private static final int IDLE_S = 10;

    private final HttpServerTest.HeldBackend backend = new HttpServerTest.HeldBackend();
    private EmbeddedChannel channel;

    @BeforeEach
    void setUp() {
        HttpSettings settings = new HttpSettings("127.0.0.1", 0, 1, 4096, 1L << 20, 8, 1024, 4, IDLE_S,
                new CommitLimits(20, 256, 1024, 100, 100), 1_000, 1, 0, 0, 0, false,
                new WeaselConfig.Security(List.of(), null, null));
        channel = EmbeddedPipeline.open(settings, backend, new HttpMetrics(new SimpleMeterRegistry()),
                new BodyBudget(settings.maxInFlightRequestBytes()));
    }

    @AfterEach
    void tearDown() {
        channel.finishAndReleaseAll();
        backend.blocking.shutdownNow();
    }

    /** Advances the loop's clock in 100 ms steps, running what falls due, as a real loop would. */
    private void advanceSeconds(long s) {
        for (int i = 0; i < s * 10; i++) {
            channel.advanceTimeBy(100, TimeUnit.MILLISECONDS);
            channel.runPendingTasks();
            channel.runScheduledPendingTasks();
        }
    }

    private int answerStatus() {
        ByteBuf out = channel.readOutbound();
        try {
            String text = out.toString(StandardCharsets.US_ASCII);
            return Integer.parseInt(text.substring(9, 12));
        } finally {
            out.release();
        }
    }

    @Test
    void aQuietConnectionClosesOneTimeoutAfterItsLastRead() {
        channel.writeInbound(Unpooled.copiedBuffer(RawHttp.get("/v1/version"), StandardCharsets.US_ASCII));
        channel.runPendingTasks();
        assertEquals(200, answerStatus());
        advanceSeconds(IDLE_S - 1);
        assertTrue(channel.isActive());
        advanceSeconds(2);
        assertFalse(channel.isActive(), "closed after " + IDLE_S + " s without a read");
    }

    @Test
    void aSlowCommitKeepsItsConnectionAndTheTimeoutCountsFromTheAnswer() {
        backend.hold = true;
        channel.writeInbound(Unpooled.copiedBuffer(RawHttp.post("/v1/commit", HttpServerTest.WRITE), StandardCharsets.US_ASCII));
        advanceSeconds(IDLE_S + 5); // silent for longer than the timeout, but the commit is in flight
        assertTrue(channel.isActive(), "never closed with a commit in flight");
        backend.release(0);
        channel.runPendingTasks();
        assertEquals(200, answerStatus());
        advanceSeconds(IDLE_S - 1); // the idle handler fires at 20 s; the answer was 5 s before
        assertTrue(channel.isActive(), "the timeout counts from the answer too");
        advanceSeconds(2);
        assertFalse(channel.isActive(), "closed one timeout after the answer, not two");
    }

    /**
     * A client that sends a request with Connection: close and never reads its answer: the write
     * does not complete, so the close after it never comes. The idle timeout closes it, as any
     * other connection that has neither read nor answered (it skipped it: its body state was that
     * of a connection discarding what follows its last request).
     */
    @Test
    void aClientThatNeverReadsItsClosingAnswerIsClosedByTheIdleTimeout() {
        List<Object> unread = new java.util.ArrayList<>();
        channel.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise p) {
                unread.add(msg); // stuck in the socket: the promise never completes
            }

            @Override
            public void flush(io.netty.channel.ChannelHandlerContext ctx) { }
        });
        channel.writeInbound(Unpooled.copiedBuffer("GET /v1/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                StandardCharsets.US_ASCII));
        channel.runPendingTasks();
        assertFalse(unread.isEmpty(), "the answer was written");
        assertTrue(channel.isActive(), "its write has not completed");
        try {
            advanceSeconds(IDLE_S - 1);
            assertTrue(channel.isActive());
            advanceSeconds(2);
            assertFalse(channel.isActive(), "closed " + IDLE_S + " s after the answer it never read");
        } finally {
            unread.forEach(io.netty.util.ReferenceCountUtil::release);
        }
    }
}
