package io.weaseldb.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpResponseDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class SseConnectionTest {

    static String event(long version, long millis) {
        return "id: " + version + "\nevent: transaction\ndata: {\"request_id\":\"r\",\"version\":" + version
                + ",\"prev_version\":" + (version - 1) + ",\"timestamp\":\"" + Instant.ofEpochMilli(millis)
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
                + "event: checkpoint\ndata: {\"committed_version\":7,\"leader_id\":\"L\"}\n\n" + event(9, now - 3);
        stream += Integer.toHexString(events.length()) + "\r\n" + events + "\r\n";
        byte[] bytes = stream.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < bytes.length; i += 37) { // split lines, chunk headers and timestamps
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, i, Math.min(37, bytes.length - i)));
        }
        assertEquals(0, streaming.getCount());
        assertEquals(2, stats.subscriberEvents);
        assertEquals(9, sse.lastVersion());
        assertEquals(2, stats.subscriberLagMillis.getTotalCount());
        ch.finishAndReleaseAll();
    }

    @Test
    void parsesTheServersTimestampFormat() {
        byte[] ts = "xx2026-11-22T20:27:42.555Z".getBytes(StandardCharsets.US_ASCII);
        assertEquals(Instant.parse("2026-11-22T20:27:42.555Z").toEpochMilli(), IsoMillis.parse(ts, 2));
        assertEquals(-1, IsoMillis.parse("2026-02-30T20:27:42.555Z".getBytes(StandardCharsets.US_ASCII), 0));
    }
}
