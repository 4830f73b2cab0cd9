package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Request heads used again ({@link ServerCodec.PooledRequest}) and plain requests decoded on the
 * fast path ({@link PlainRequests}) change no answer: the same seeded
 * traffic (commits with and without chunking, probes, HEAD, Expect, extra headers, malformed
 * requests, bodies that fail to parse, requests that close their connection) over two connections
 * of one thread, in random pieces and random interleavings, is answered byte for byte the same with
 * heads kept between requests, and with the fast path on, as by Netty's decoder alone with a new
 * head for every request.
 * Two connections, so heads pass from one to the other while either is mid-request. (No
 * /metrics: its answer comes from another thread, so when it is written is not deterministic.)
 */
class PooledRequestDifferentialTest {
    private static final String BODY = HttpServerTest.WRITE;

    /** One request each, as a client would send it; the last few end their connection. */
    private static final String[] REQUESTS = {
        "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length()
                + "\r\n\r\n" + BODY,
        "POST /v1/commit HTTP/1.1\r\nHost: y\r\nTransfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(BODY.length())
                + "\r\n" + BODY + "\r\n0\r\nX-Trailer: t\r\n\r\n",
        "POST /v1/commit HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " + BODY.length() + "\r\n\r\n" + BODY,
        "POST /v1/commit HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: " + BODY.length() + "\r\n\r\n" + BODY,
        "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{x",
        "GET /v1/version HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nUser-Agent: test/1\r\nX-Many: 1\r\nX-Many: 2\r\n\r\n",
        "HEAD /v1/version HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET /nope?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "PUT /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "GET /v1/status?request_id=%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        // these end the connection: keep them rare
        "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /ok HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
        "POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        "POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "G@T /ok HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    private static final int CLOSING = 5;

    private final List<HttpServerTest.HeldBackend> backends = new ArrayList<>();

    @AfterEach
    void tearDown() {
        PlainRequests.enableOnThisThread(true);
        ServerCodec.PooledRequest.keepAtMost(ServerCodec.PooledRequest.PER_THREAD);
        backends.forEach(b -> b.blocking.shutdownNow());
    }

    @Test
    void keptHeadsAndTheFastPathAnswerEveryRequestAsNettysDecoderWithNewHeadsDoes() {
        for (int seed = 0; seed < 400; seed++) {
            PlainRequests.enableOnThisThread(false);
            ServerCodec.PooledRequest.keepAtMost(0);
            List<String> fresh = run(seed);
            ServerCodec.PooledRequest.keepAtMost(ServerCodec.PooledRequest.PER_THREAD);
            List<String> kept = run(seed);
            assertEquals(fresh, kept, "seed " + seed + ", heads kept");
            PlainRequests.enableOnThisThread(true);
            List<String> plain = run(seed);
            assertEquals(fresh, plain, "seed " + seed + ", plain requests on the fast path");
        }
        assertTrue(ServerCodec.PooledRequest.kept() > 0, "heads were kept and used again");
        assertTrue(ServerCodec.PooledRequest.keptPlain() > 0, "plain requests were decoded on the fast path");
    }

    /** Both connections' answers (and whether each is still open) for one seed's traffic. */
    private List<String> run(int seed) {
        SplittableRandom random = new SplittableRandom(seed);
        HttpServerTest.HeldBackend backend = new HttpServerTest.HeldBackend();
        backends.add(backend);
        EmbeddedChannel[] channels = {
            EmbeddedPipeline.openPlain(backend, new SimpleMeterRegistry()),
            EmbeddedPipeline.openPlain(backend, new SimpleMeterRegistry())
        };
        byte[][] traffic = {traffic(random), traffic(random)};
        int[] sent = new int[2];
        StringBuilder[] answers = {new StringBuilder(), new StringBuilder()};
        while (sent[0] < traffic[0].length || sent[1] < traffic[1].length) {
            int c = sent[0] == traffic[0].length ? 1 : sent[1] == traffic[1].length ? 0 : random.nextInt(2);
            int n = Math.min(traffic[c].length - sent[c], 1 + random.nextInt(random.nextBoolean() ? 8 : 400));
            if (channels[c].isActive()) {
                channels[c].writeInbound(Unpooled.wrappedBuffer(traffic[c], sent[c], n));
                channels[c].runPendingTasks();
                answers[c].append(EmbeddedPipeline.drain(channels[c]));
            }
            sent[c] += n;
        }
        List<String> out = new ArrayList<>();
        for (int c = 0; c < 2; c++) {
            channels[c].runPendingTasks();
            answers[c].append(EmbeddedPipeline.drain(channels[c]));
            out.add(answers[c] + (channels[c].isActive() ? "<open>" : "<closed>"));
            channels[c].finishAndReleaseAll();
        }
        out.add("commits: " + backend.requests.size());
        return out;
    }

    private static byte[] traffic(SplittableRandom random) {
        StringBuilder b = new StringBuilder();
        int requests = 1 + random.nextInt(12);
        for (int i = 0; i < requests; i++) {
            boolean closing = random.nextInt(20) == 0;
            int pick = closing ? REQUESTS.length - CLOSING + random.nextInt(CLOSING) : random.nextInt(REQUESTS.length - CLOSING);
            b.append(REQUESTS[pick]);
        }
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }
}
