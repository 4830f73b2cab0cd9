package io.weaseldb.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpResponseDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class SseConnectionTest {

    static String event(long version, long millis) {
        return event(version, version - 1, millis);
    }

    static String event(long version, long prevVersion, long millis) {
        return "id: " + version + "\nevent: transaction\ndata: {\"request_id\":\"r\",\"version\":" + version
                + ",\"prev_version\":" + prevVersion + ",\"timestamp\":\"" + Instant.ofEpochMilli(millis)
                + "\",\"leader_id\":\"L\",\"operations\":[{\"type\":\"write\",\"key\":\"" + "QUFB".repeat(300)
                + "\",\"value\":\"Yg==\"}]}\n\n";
    }

    @Test
    void countsTransactionEventsAcrossArbitraryChunkBoundaries() {
        BenchOptions o = BenchOptions.parse(new String[] {"--port", "1", "--subscribers", "1", "--warmup-s", "0"});
        LoadGenerator.RunProxy proxy = new LoadGenerator.RunProxy();
        proxy.set(Run.start(o, System.nanoTime() - 1_000_000_000L, "r", 0));
        LoopStats stats = new LoopStats(1);
        CountDownLatch streaming = new CountDownLatch(1);
        SseConnection sse = new SseConnection(o, proxy, stats, streaming);
        EmbeddedChannel ch = new EmbeddedChannel(new HttpResponseDecoder(), sse);
        long now = System.currentTimeMillis();
        String stream = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        String events = event(7, now - 5) + ": keepalive\n\n"
                + "event: checkpoint\ndata: {\"committed_version\":7,\"leader_id\":\"L\"}\n\n" + event(9, 7, now - 3);
        stream += Integer.toHexString(events.length()) + "\r\n" + events + "\r\n";
        byte[] bytes = stream.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < bytes.length; i += 37) { // split lines, chunk headers and timestamps
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, i, Math.min(37, bytes.length - i)));
        }
        assertEquals(0, streaming.getCount());
        assertEquals(2, stats.subscriberEvents);
        assertEquals(9, sse.lastVersion());
        assertEquals(2, stats.subscriberLagMillis.getTotalCount());
        assertEquals(0, stats.subscriberGaps, "versions need not be consecutive: 9 follows 7");
        assertEquals(1, stats.subscriberStreams);
        ch.finishAndReleaseAll();
    }

    @Test
    void anEventWhosePrevVersionIsNotTheLastOneIsAGapAndARepeatedOneADuplicate() {
        long now = System.currentTimeMillis();
        Stream s = stream(200, event(7, now) + event(8, now) + event(10, 9, now) + event(10, 9, now) + event(11, 10, now));
        assertEquals(1, s.stats.subscriberGaps, "10 said it followed 9, the stream had 8");
        assertEquals(1, s.stats.subscriberDuplicateEvents, "10 twice");
        assertEquals(11, s.sse.lastVersion());
        s.ch.finishAndReleaseAll();
    }

    @Test
    void aRefusedSubscribeIsARefusalNotAStreamNorADisconnect() {
        Stream s = stream(503, "");
        s.ch.close();
        assertEquals(0, s.stats.subscriberStreams);
        assertEquals(1, s.stats.subscriberRefusals);
        assertEquals(0, s.stats.subscriberDisconnects, "its close after the 503 is not counted again");
        s.ch.finishAndReleaseAll();
    }

    @Test
    void aStreamWithoutAnEventHasNoVersionLag() {
        Stream s = stream(200, "");
        assertEquals(-1, s.sse.versionLag(100), "unknown, not the whole log");
        s.ch.writeInbound(chunk(event(9, System.currentTimeMillis())));
        assertEquals(3, s.sse.versionLag(12));
        s.ch.close();
        assertEquals(1, s.stats.subscriberDisconnects, "a stream that ends before the run does");
        s.ch.finishAndReleaseAll();
    }

    @Test
    void aRunWithARefusedSubscriberOrAGapIsIncomplete() {
        BenchReport.Latency none = BenchReport.Subscribers.none().lagMillis();
        assertTrue(new BenchReport.Subscribers(2, 2, 0, 10, 100, 0, 0, 0, none, 0, 0).complete());
        assertFalse(new BenchReport.Subscribers(2, 1, 1, 10, 100, 0, 0, 0, none, 0, 0).complete());
        assertFalse(new BenchReport.Subscribers(2, 2, 0, 10, 100, 0, 1, 0, none, 0, 0).complete());
        assertFalse(new BenchReport.Subscribers(2, 2, 0, 10, 100, 1, 0, 0, none, 0, 0).complete());
    }

    record Stream(EmbeddedChannel ch, SseConnection sse, LoopStats stats) {}

    /** A subscriber that got {@code status} and then {@code events} in one chunk. */
    static Stream stream(int status, String events) {
        BenchOptions o = BenchOptions.parse(new String[] {"--port", "1", "--subscribers", "1", "--warmup-s", "0"});
        LoadGenerator.RunProxy proxy = new LoadGenerator.RunProxy();
        proxy.set(Run.start(o, System.nanoTime() - 1_000_000_000L, "r", 0));
        LoopStats stats = new LoopStats(1);
        SseConnection sse = new SseConnection(o, proxy, stats, new CountDownLatch(1));
        EmbeddedChannel ch = new EmbeddedChannel(new HttpResponseDecoder(), sse);
        String head = status == 200
                ? "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                : "HTTP/1.1 " + status + " Service Unavailable\r\ncontent-length: 0\r\n\r\n";
        ch.writeInbound(Unpooled.copiedBuffer(head, StandardCharsets.US_ASCII));
        if (!events.isEmpty()) {
            ch.writeInbound(chunk(events));
        }
        return new Stream(ch, sse, stats);
    }

    static io.netty.buffer.ByteBuf chunk(String events) {
        return Unpooled.copiedBuffer(Integer.toHexString(events.length()) + "\r\n" + events + "\r\n", StandardCharsets.US_ASCII);
    }

    @Test
    void parsesTheServersTimestampFormat() {
        byte[] ts = "xx2026-11-22T20:27:42.555Z".getBytes(StandardCharsets.US_ASCII);
        assertEquals(Instant.parse("2026-11-22T20:27:42.555Z").toEpochMilli(), IsoMillis.parse(ts, 2));
        assertEquals(-1, IsoMillis.parse("2026-02-30T20:27:42.555Z".getBytes(StandardCharsets.US_ASCII), 0));
    }
}
