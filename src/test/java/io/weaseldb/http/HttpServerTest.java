package io.weaseldb.http;

import static io.weaseldb.testing.RawHttp.get;
import static io.weaseldb.testing.RawHttp.post;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weaseldb.json.CommitLimits;
import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Outcome;
import io.weaseldb.testing.RawHttp;
import io.weaseldb.txn.CommitRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HTTP layer over real TCP against a backend that the test controls. */
class HttpServerTest {
    static final String WRITE = "{\"operations\":[{\"type\":\"write\",\"key\":\"YQ==\",\"value\":\"YQ==\"}]}";

    /** Commits are held until the test releases them, in any order it likes. */
    static final class HeldBackend implements Backend {
        final List<Completion> held = new ArrayList<>();
        final List<CommitRequest> requests = new ArrayList<>();
        final AtomicLong version = new AtomicLong();
        volatile boolean hold;
        volatile boolean full;
        volatile boolean draining;
        final ExecutorService blocking = Executors.newSingleThreadExecutor();
        volatile boolean scrapesRefused;

        @Override
        public synchronized boolean submitCommit(CommitRequest request, Completion completion) {
            if (full) {
                return false;
            }
            requests.add(request);
            if (hold) {
                held.add(completion);
            } else {
                long v = version.incrementAndGet();
                completion.completeLater(new Outcome.Committed(v, "L", "r" + v, false));
            }
            return true;
        }

        synchronized void release(int index) {
            Completion c = held.get(index);
            long v = version.incrementAndGet();
            c.completeLater(new Outcome.Committed(v, "L", "r" + v, false));
        }

        synchronized int heldCount() {
            return held.size();
        }

        /** The request ids /v1/status asked about (each asked is banned on a real server); all refused here. */
        final List<String> statusAsked = java.util.Collections.synchronizedList(new ArrayList<>());

        @Override
        public boolean submitStatus(String requestId, long minVersion, Completion completion) {
            statusAsked.add(requestId);
            return false;
        }

        @Override
        public boolean submitProbe(Completion completion) {
            completion.executor().execute(() -> completion.complete(new Outcome.Healthy(version.get(), "L")));
            return true;
        }

        @Override
        public VersionInfo leaderInfo() {
            return new VersionInfo(version.get(), "L");
        }

        @Override
        public java.util.concurrent.CompletableFuture<VersionInfo> version() {
            return java.util.concurrent.CompletableFuture.completedFuture(leaderInfo());
        }

        @Override
        public Outcome.Unavailable notLeader(String requestId) {
            return new Outcome.Unavailable("not the leader", false, 1, null, requestId);
        }

        @Override
        public io.weaseldb.subscribe.SubscriberHub subscribers() {
            return null;
        }

        @Override
        public io.weaseldb.retention.RetentionManager retention() {
            return null;
        }

        @Override
        public String scrapeMetrics() {
            return "# HELP x\nx 1\n";
        }

        @Override
        public java.util.concurrent.Executor metricsExecutor() {
            if (scrapesRefused) {
                return task -> {
                    throw new java.util.concurrent.RejectedExecutionException("scrapes queued to the bound");
                };
            }
            return blocking;
        }

        @Override
        public boolean draining() {
            return draining;
        }
    }

    HeldBackend backend = new HeldBackend();
    HttpServer server;

    @BeforeEach
    void start() throws Exception {
        server = new HttpServer(new HttpSettings("127.0.0.1", 0, 2, 4096, 1L << 20, 8, 1024, 4, 0,
                new CommitLimits(20, 256, 1024, 100, 100), 1_000, 1, 10_000, 30_000, 60_000, false,
                new io.weaseldb.config.WeaselConfig.Security(List.of(), null, null)), backend,
                new HttpMetrics(new SimpleMeterRegistry()));
        server.start();
    }

    @AfterEach
    void stop() {
        server.close();
        backend.blocking.shutdownNow();
    }

    void awaitHeld(int n) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (backend.heldCount() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("commits never reached the backend");
            }
            Thread.onSpinWait();
        }
    }

    @Test
    void whileShuttingDownTheLastAnswerQueuedClosesTheConnection() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", WRITE));
            assertNull(c.read().header("connection"), "keep-alive, as HTTP/1.1 has it by default");
            backend.hold = true;
            c.send(post("/v1/commit", WRITE) + post("/v1/commit", WRITE));
            awaitHeld(2);
            backend.draining = true; // SIGTERM: what is in flight is still answered
            backend.release(0);
            backend.release(1);
            var first = c.read();
            var last = c.read();
            assertEquals(200, first.status());
            assertNull(first.header("connection"), "an answer pipelined before the last keeps the connection");
            assertEquals(200, last.status());
            // without it, a keep-alive client sent its next request into the close at the end of the drain
            assertEquals("close", last.header("connection"));
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void answersPipelinedRequestsInRequestOrderEvenWhenCompletedOutOfOrder() throws Exception {
        backend.hold = true;
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", WRITE) + post("/v1/commit", WRITE) + get("/v1/version") + post("/v1/commit", WRITE));
            awaitHeld(3);
            backend.release(2);
            backend.release(1);
            backend.release(0);
            var r1 = c.read();
            var r2 = c.read();
            var r3 = c.read();
            var r4 = c.read();
            assertEquals(200, r1.status());
            assertTrue(r1.body().contains("\"version\":3"), "first request was released last: " + r1.body());
            assertTrue(r2.body().contains("\"version\":2"), r2.body());
            assertTrue(r3.body().startsWith("{\"version\":"), r3.body());
            assertTrue(r4.body().contains("\"version\":1"), r4.body());
        }
    }

    @Test
    void keepsTheConnectionAfterA400() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", "{\"operations\":[{\"type\":\"write\",\"key\":\"!!\"}]}"));
            var bad = c.read();
            assertEquals(400, bad.status());
            assertEquals("application/json", bad.header("content-type"));
            assertTrue(bad.body().startsWith("{\"error\":\"bad_request\",\"message\":\"operations[0].key: invalid base64"), bad.body());
            c.send(post("/v1/commit", WRITE));
            assertEquals(200, c.read().status());
        }
    }

    /**
     * Commit parsers are reused from one body to the next: every body must still parse as if it
     * came first, whatever came before it (trailing whitespace, unknown fields, a 400, a byte
     * order mark).
     */
    @Test
    void eachCommitOnAConnectionParsesAsIfItWereTheFirst() throws Exception {
        String readWrite = "{\"read_version\":5,\"preconditions\":[{\"type\":\"point_read\",\"key\":\"Yg==\"}],"
                + "\"operations\":[{\"type\":\"delete\",\"key\":\"Yw==\"}]}";
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", WRITE + " \r\n\t") + post("/v1/commit", readWrite)
                    + post("/v1/commit", "{\"future\":{\"x\":[1]}," + WRITE.substring(1))
                    + post("/v1/commit", WRITE + " tru") + post("/v1/commit", "{\"operations\": [}")
                    + post("/v1/commit", readWrite) + post("/v1/commit", "\uFEFF" + readWrite));
            int[] expected = {200, 200, 200, 400, 400, 200, 200};
            for (int i = 0; i < expected.length; i++) {
                var r = c.read();
                assertEquals(expected[i], r.status(), "request " + i + ": " + r.body());
                if (i == 3) {
                    assertTrue(r.body().contains("unexpected data after the end of the JSON object"), r.body());
                }
                if (i == 4) {
                    assertTrue(r.body().contains("(at byte 16)"), "offsets count from this body: " + r.body());
                }
            }
        }
        synchronized (backend) {
            assertEquals(5, backend.requests.size());
            for (int i : new int[] {1, 3, 4}) {
                CommitRequest r = backend.requests.get(i);
                assertEquals(5, r.readVersion());
                assertArrayEquals("b".getBytes(), ((io.weaseldb.txn.Precondition.PointRead) r.preconditions().get(0)).key());
                assertArrayEquals("c".getBytes(), ((io.weaseldb.txn.Operation.Delete) r.operations().get(0)).key());
                assertEquals(1, r.operations().size());
            }
            assertEquals(CommitRequest.NO_READ_VERSION, backend.requests.get(2).readVersion());
            assertEquals(0, backend.requests.get(2).preconditions().size());
        }
    }

    /** idle_timeout_seconds closes a silent connection, but never one with a commit in flight. */
    @Test
    void idleConnectionsAreClosedButNotWhileACommitIsInFlight() throws Exception {
        server.close();
        server = new HttpServer(new HttpSettings("127.0.0.1", 0, 2, 4096, 1L << 20, 8, 1024, 4, 1,
                new CommitLimits(20, 256, 1024, 100, 100), 1_000, 1, 10_000, 30_000, 60_000, false,
                new io.weaseldb.config.WeaselConfig.Security(List.of(), null, null)), backend,
                new HttpMetrics(new SimpleMeterRegistry()));
        server.start();
        backend.hold = true;
        try (RawHttp busy = new RawHttp(server.port()); RawHttp idle = new RawHttp(server.port())) {
            idle.send(get("/v1/version"));
            assertEquals(200, idle.read().status());
            busy.send(post("/v1/commit", WRITE));
            awaitHeld(1);
            idle.timeout(5_000);
            assertTrue(idle.closedByServer(), "a connection silent for 1 s is closed (within 5 s)");
            // the busy connection has been as silent for as long, with its commit held
            backend.release(0);
            var r = busy.read();
            assertEquals(200, r.status());
            busy.timeout(5_000);
            assertTrue(busy.closedByServer(), "closed once idle after its answer");
        }
    }

    @Test
    void rejectsADeclaredOversizedBodyWith413AndStillServesOthers() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + "x".repeat(5000));
            var r = c.read();
            assertEquals(413, r.status());
            assertTrue(r.body().contains("\"error\":\"content_too_large\""), r.body());
            assertEquals("close", r.header("connection"));
            assertTrue(c.closedByServer());
        }
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", WRITE));
            assertEquals(200, c.read().status());
        }
        assertEquals(1, backend.requests.size(), "the oversized request never reached the pipeline");
    }

    /** A commit of exactly {@code length} bytes: WRITE padded with trailing whitespace. */
    static String paddedWrite(int length) {
        return WRITE + " ".repeat(length - WRITE.length());
    }

    private HttpServer smallBudgetServer(SimpleMeterRegistry registry) throws Exception {
        HttpServer small = new HttpServer(new HttpSettings("127.0.0.1", 0, 2, 4096, 8192, 8, 1024, 4, 0,
                new CommitLimits(20, 256, 1024, 100, 100), 1_000, 1, 10_000, 30_000, 60_000, false,
                new io.weaseldb.config.WeaselConfig.Security(List.of(), null, null)), backend, new HttpMetrics(registry));
        small.start();
        return small;
    }

    private static double awaitGauge(SimpleMeterRegistry registry, double want) throws InterruptedException {
        var gauge = registry.get("weaseldb.http.request.body.in.flight").gauge();
        for (int i = 0; i < 500 && gauge.value() != want; i++) {
            Thread.sleep(10);
        }
        return gauge.value();
    }

    @Test
    void commitBodiesBeingReceivedAreBoundedInBytesAcrossConnections() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        // 8,192 bytes of bodies in progress at most: two stalled at 3,900 bytes leave 392
        HttpServer small = smallBudgetServer(registry);
        String head = "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n";
        String body = paddedWrite(4000);
        try (RawHttp a = new RawHttp(small.port()); RawHttp b = new RawHttp(small.port())) {
            a.send(head + body.substring(0, 3900));
            b.send(head + body.substring(0, 3900));
            assertEquals(7800.0, awaitGauge(registry, 7800.0), "what has arrived is held, not what was declared");
            try (RawHttp c = new RawHttp(small.port())) {
                // a declared length that cannot fit is refused at once, before 100 Continue
                c.send(head.replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n"));
                var r = c.read();
                assertEquals(503, r.status());
                assertEquals("1", r.header("retry-after"));
                assertTrue(r.body().contains("max_in_flight_request_bytes"), r.body());
                assertTrue(r.body().contains("\"outcome\":\"not_committed\""), r.body());
                assertEquals("close", r.header("connection"));
                assertTrue(c.closedByServer());
            }
            try (RawHttp c = new RawHttp(small.port())) {
                // a chunked body is refused once its chunks pass what is left
                c.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
                c.send(Integer.toHexString(400) + "\r\n" + body.substring(0, 400) + "\r\n");
                assertEquals(503, c.read().status());
                assertTrue(c.closedByServer());
            }
            try (RawHttp c = new RawHttp(small.port())) {
                c.send(post("/v1/commit", WRITE)); // 64 bytes still fit
                assertEquals(200, c.read().status());
            }
            // b finishes: answered, and its bytes are free again
            b.send(body.substring(3900));
            assertEquals(200, b.read().status());
            try (RawHttp c = new RawHttp(small.port())) {
                c.send(head + body);
                assertEquals(200, c.read().status());
            }
        }
        // a vanished mid-body (closed by the try above): what it held went with its connection
        assertEquals(0.0, awaitGauge(registry, 0.0));
        try (RawHttp c = new RawHttp(small.port()); RawHttp d = new RawHttp(small.port())) {
            c.send(head + body);
            d.send(head + body);
            assertEquals(200, c.read().status());
            assertEquals(200, d.read().status());
        } finally {
            small.close();
        }
        assertEquals(2.0, registry.get("weaseldb.http.rejected").tag("reason", "max_in_flight_request_bytes").counter().count());
        assertEquals(5, backend.requests.size(), "refused bodies never reached the pipeline");
    }

    @Test
    void headsThatNeverSendTheirBodiesHoldNoneOfTheBudget() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        HttpServer small = smallBudgetServer(registry);
        String head = "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n";
        List<RawHttp> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < 6; i++) { // 24,000 bytes declared against a budget of 8,192
                RawHttp s = new RawHttp(small.port());
                s.send(head + "{");
                stalled.add(s);
            }
            assertEquals(6.0, awaitGauge(registry, 6.0));
            try (RawHttp c = new RawHttp(small.port())) {
                c.send(head + paddedWrite(4000));
                assertEquals(200, c.read().status(), "a full-size commit is not locked out by mere heads");
            }
        } finally {
            for (RawHttp s : stalled) {
                s.close();
            }
            small.close();
        }
    }

    @Test
    void aCommitWhoseChunkFramingBreaksIsA400AndNotCommitted() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            // the whole JSON arrives, then a chunk size that is not hex
            c.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + Integer.toHexString(WRITE.length()) + "\r\n" + WRITE + "\r\nzz\r\n");
            var r = c.read();
            assertEquals(400, r.status());
            assertTrue(r.body().contains("malformed HTTP request body"), r.body());
            assertTrue(c.closedByServer());
        }
        assertEquals(0, backend.requests.size(), "a malformed request never reaches the pipeline");
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", WRITE));
            assertEquals(200, c.read().status());
        }
    }

    @Test
    void rejectsAChunkedBodyOnceItGrowsPastTheLimit() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
            String chunk = "{\"operations\":[" + "{\"type\":\"delete\",\"key\":\"YQ==\"},".repeat(40);
            for (int i = 0; i < 4; i++) {
                c.send(Integer.toHexString(chunk.length()) + "\r\n" + chunk + "\r\n");
            }
            var r = c.read();
            assertEquals(413, r.status());
            c.send("0\r\n\r\n");
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void aTruncatedBodyIsA400AndTheServerKeepsServing() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            String body = WRITE.substring(0, 20);
            c.send(post("/v1/commit", body));
            var r = c.read();
            assertEquals(400, r.status());
            assertTrue(r.body().contains("truncated JSON"), r.body());
        }
        try (RawHttp c = new RawHttp(server.port())) {
            // the client vanishes halfway through a declared body
            c.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"operations\":[");
        }
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", WRITE));
            assertEquals(200, c.read().status());
        }
    }

    @Test
    void malformedHttpGetsA400AndTheConnectionIsClosed() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("THIS IS NOT HTTP\r\n\r\n");
            var r = c.read();
            assertEquals(400, r.status());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void oversizedHeadersGet431() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("GET /v1/version HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(2000) + "\r\n\r\n");
            assertEquals(431, c.read().status());
        }
    }

    @Test
    void unknownPathsAre404AndWrongMethods405WithAllow() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(get("/v2/nope"));
            var r = c.read();
            assertEquals(404, r.status());
            assertTrue(r.body().startsWith("{\"error\":\"not_found\""), r.body());
            c.send(get("/v1/commit"));
            r = c.read();
            assertEquals(405, r.status());
            assertEquals("POST", r.header("allow"));
            assertTrue(r.body().startsWith("{\"error\":\"method_not_allowed\""), r.body());
        }
    }

    @Test
    void http10WithoutKeepAliveClosesAfterTheResponse() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("GET /v1/version HTTP/1.0\r\n\r\n");
            assertEquals(200, c.read().status());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void aMajorVersionOtherThanOneIs505AndCloses() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("GET /v1/version HTTP/2.0\r\nHost: a\r\n\r\n");
            var r = c.read();
            assertEquals(505, r.status());
            assertTrue(r.body().contains("HTTP/2.0 is not supported"), r.body());
            assertTrue(c.closedByServer());
        }
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("GET /v1/version HTTP/1.2\r\nHost: a\r\n\r\n"); // a higher 1.x is served as 1.1
            assertEquals(200, c.read().status());
        }
    }

    @Test
    void aFullPipelineIsA503WithRetryAfter() throws Exception {
        backend.full = true;
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", WRITE));
            var r = c.read();
            assertEquals(503, r.status());
            assertEquals("1", r.header("retry-after"));
            assertTrue(r.body().contains("\"outcome\":\"not_committed\""), r.body());
        }
    }

    @Test
    void connectionsBeyondTheLimitAreRefusedWith503() throws Exception {
        List<RawHttp> open = new ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) {
                RawHttp c = new RawHttp(server.port());
                c.send(get("/v1/version"));
                assertEquals(200, c.read().status());
                open.add(c);
            }
            try (RawHttp extra = new RawHttp(server.port())) {
                var r = extra.read();
                assertEquals(503, r.status());
                assertTrue(r.body().contains("max_connections"), r.body());
            }
            open.remove(0).close();
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (true) { // the server notices the close asynchronously
                try (RawHttp again = new RawHttp(server.port())) {
                    again.send(get("/v1/version"));
                    if (again.read().status() == 200) {
                        break;
                    }
                }
                assertTrue(System.nanoTime() < deadline, "a freed connection slot was never reusable");
            }
        } finally {
            for (RawHttp c : open) {
                c.close();
            }
        }
    }

    @Test
    void metricsAndOkAreServed() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(get("/metrics"));
            var m = c.read();
            assertEquals(200, m.status());
            assertEquals("text/plain; version=0.0.4; charset=utf-8", m.header("content-type"));
            c.send(get("/ok"));
            var ok = c.read();
            assertEquals(200, ok.status());
            assertTrue(ok.body().startsWith("{\"status\":\"ok\""), ok.body());
        }
    }

    /** Scrapes piling up past their bounded queue are refused with a 503; the connection goes on. */
    @Test
    void aScrapeTheMetricsExecutorRefusesIsAnswered503() throws Exception {
        backend.scrapesRefused = true;
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(get("/metrics"));
            var m = c.read();
            assertEquals(503, m.status());
            assertTrue(m.body().contains("metrics scrapes are not being taken now"), m.body());
            assertTrue(m.header("retry-after") != null);
            c.send(get("/ok"));
            assertEquals(200, c.read().status());
        }
    }

    @Test
    void pausesReadingWhenTooManyResponsesAreOutstanding() throws Exception {
        backend.hold = true;
        try (RawHttp c = new RawHttp(server.port())) {
            StringBuilder many = new StringBuilder();
            for (int i = 0; i < 10; i++) {
                many.append(post("/v1/commit", WRITE));
            }
            c.send(many.toString());
            awaitHeld(4);
            // max_pipelined_requests = 4: the rest stay unread in the socket until responses drain
            long until = System.nanoTime() + 200_000_000L;
            while (System.nanoTime() < until) {
                assertTrue(backend.heldCount() <= 4, "read past the pipelining limit: " + backend.heldCount());
                Thread.onSpinWait();
            }
            for (int released = 0; released < 10; released++) {
                awaitHeld(released + 1);
                backend.release(released);
                assertEquals(200, c.read().status());
            }
        }
    }

    /**
     * /v1/status takes ids a commit could carry (asking bans them, in memory), plus the server's
     * own 36-character ids whatever the configured limits: here 40 to 256, so 36 to 256.
     */
    @Test
    void statusTakesTheLengthsACommitCouldCarryAndTheServersOwnIds() throws Exception {
        HttpServer strict = new HttpServer(new HttpSettings("127.0.0.1", 0, 1, 4096, 1L << 20, 8, 1024, 4, 0,
                new CommitLimits(40, 256, 1024, 100, 100), 1_000, 1, 10_000, 30_000, 60_000, false,
                new io.weaseldb.config.WeaselConfig.Security(List.of(), null, null)), backend,
                new HttpMetrics(new SimpleMeterRegistry()));
        strict.start();
        try (RawHttp c = new RawHttp(strict.port())) {
            // this backend refuses every status query with 503: reaching it means the id passed
            int[][] cases = {{36, 503}, {35, 400}, {1, 400}, {40, 503}, {256, 503}, {257, 400}};
            for (int[] k : cases) {
                c.send(RawHttp.get("/v1/status?request_id=" + "r".repeat(k[0])));
                var r = c.read();
                assertEquals(k[1], r.status(), "length " + k[0] + ": " + r.body());
                if (k[1] == 400) {
                    assertTrue(r.body().contains("request_id must be 36 to 256 characters"), r.body());
                }
            }
        } finally {
            strict.close();
        }
    }

    /**
     * A malformed percent-escape in the path or a parsed query is a 400 in its turn, and the
     * connection keeps serving the requests pipelined after it (its framing is intact).
     */
    @Test
    void aMalformedPercentEscapeIsA400AndTheConnectionKeepsServing() throws Exception {
        String[] targets = {"/v1/retention/%zz", "/v1/retention/%", "/nope%zz", "/v1/subscribe?after=%zz",
                "/v1/status?request_id=" + "a".repeat(24) + "%", "/v1/commit?x=%4"};
        try (RawHttp c = new RawHttp(server.port())) {
            StringBuilder pipelined = new StringBuilder();
            for (String t : targets) {
                pipelined.append(t.startsWith("/v1/commit") ? post(t, WRITE) : get(t));
            }
            c.send(pipelined + get("/v1/version"));
            for (String t : targets) {
                var r = c.read();
                assertEquals(400, r.status(), t + ": " + r.body());
                assertEquals("application/json", r.header("content-type"));
                assertTrue(r.body().startsWith("{\"error\":\"bad_request\",\"message\":\"malformed percent-escape"), r.body());
                assertEquals(null, r.header("connection"), t);
            }
            var version = c.read();
            assertEquals(200, version.status());
            assertTrue(version.body().startsWith("{\"version\":"), version.body());
        }
        assertEquals(0, backend.requests.size(), "the commit with a malformed target was not committed");
    }

    /** RFC 9112 3.2.2: a server must accept absolute-form targets; they are routed by their path and query. */
    @Test
    void absoluteFormTargetsAreRoutedByTheirPathAndQuery() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("GET http://127.0.0.1:8080/v1/version HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
            var r = c.read();
            assertEquals(200, r.status(), r.body());
            assertTrue(r.body().startsWith("{\"version\":"), r.body());
            c.send(post("HTTPS://example.com/v1/commit", WRITE));
            r = c.read();
            assertEquals(200, r.status(), r.body());
            assertTrue(r.body().contains("\"status\":\"committed\""), r.body());
            // this backend refuses every status query with 503: reaching it means the query was parsed
            c.send(get("http://x/v1/status?request_id=" + "r".repeat(24)));
            r = c.read();
            assertEquals(503, r.status(), r.body());
            assertTrue(r.body().contains("\"request_id\":\"" + "r".repeat(24) + "\""), r.body());
            c.send(get("http://x?a=1"));
            r = c.read();
            assertEquals(404, r.status(), r.body());
            assertTrue(r.body().contains("no such endpoint: GET /\""), r.body());
        }
        assertEquals(1, backend.requests.size());
    }

    /** 413 and 414 carry the reason phrases of RFC 9110 (and docs/api.md), not those of RFC 2616. */
    @Test
    void tooLargeAndTooLongUseTheReasonPhrasesOfRfc9110() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + "x".repeat(5000));
            var r = c.read();
            assertEquals(413, r.status());
            assertEquals("Content Too Large", r.reason());
            assertTrue(r.body().startsWith("{\"error\":\"content_too_large\""), r.body());
        }
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(get("/v1/version?x=" + "a".repeat(9000)));
            var r = c.read();
            assertEquals(414, r.status());
            assertEquals("URI Too Long", r.reason());
            assertTrue(r.body().startsWith("{\"error\":\"bad_request\""), r.body());
        }
    }

    /**
     * A transfer coding other than plain chunked is not understood: 501, nothing committed, and the
     * connection closes (the body's framing cannot be trusted).
     */
    @Test
    void aTransferCodingOtherThanChunkedIs501AndNothingIsCommitted() throws Exception {
        String[] heads = {"POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                "POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"};
        for (String head : heads) {
            try (RawHttp c = new RawHttp(server.port())) {
                c.send(head + Integer.toHexString(WRITE.length()) + "\r\n" + WRITE + "\r\n0\r\n\r\n" + get("/v1/version"));
                var r = c.read();
                assertEquals(501, r.status(), head + r.body());
                assertEquals("Not Implemented", r.reason());
                assertTrue(r.body().startsWith("{\"error\":\"bad_request\",\"message\":\"Transfer-Encoding \\\"gzip, chunked\\\" is not supported"),
                        r.body());
                assertEquals("close", r.header("connection"));
                assertTrue(c.closedByServer(), "the pipelined request after it is not answered");
            }
        }
        assertEquals(0, backend.requests.size(), "nothing was committed");
        try (RawHttp c = new RawHttp(server.port())) {
            // a coding with no chunked last leaves no framing at all: the decoder's 400
            c.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + WRITE);
            var r = c.read();
            assertEquals(400, r.status(), r.body());
            assertTrue(c.closedByServer());
        }
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                    + Integer.toHexString(WRITE.length()) + "\r\n" + WRITE + "\r\n0\r\n\r\n");
            assertEquals(200, c.read().status(), "plain chunked, in any case, is read");
        }
    }

    /**
     * A commit request_id with an unpaired UTF-16 surrogate, and a /v1/status request_id whose
     * percent-encoding is not UTF-8, are 400: stored, echoed or asked about, either would become
     * a different id (with '?' or U+FFFD in it), and asking about that one would ban it.
     */
    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void requestIdsThatAreNotValidUnicodeAre400() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", "{\"request_id\":\"\\ud800" + "z".repeat(24) + "\"," + WRITE.substring(1)));
            var r = c.read();
            assertEquals(400, r.status(), r.body());
            assertEquals("{\"error\":\"bad_request\",\"message\":\"request_id has an unpaired UTF-16 surrogate (\\\\ud800) at character 0\"}",
                    r.body());
            c.send(post("/v1/commit", "{\"request_id\":\"\\ud83d\\ude00" + "z".repeat(24) + "\"," + WRITE.substring(1)));
            assertEquals(200, c.read().status(), "a surrogate pair is one character, fine");
            // this backend refuses every status query with 503: reaching it means the id passed
            String[] ids = {"%E0%A4" + "a".repeat(24), "%ED%A0%80" + "a".repeat(24), "a".repeat(24) + "%FF"};
            for (String id : ids) {
                c.send(get("/v1/status?request_id=" + id));
                r = c.read();
                assertEquals(400, r.status(), id + ": " + r.body());
                assertEquals("{\"error\":\"bad_request\",\"message\":\"the request target's percent-escapes do not decode to valid UTF-8\"}",
                        r.body());
            }
            c.send(get("/v1/status?request_id=%C3%A9" + "a".repeat(24)));
            assertEquals(503, c.read().status(), "valid UTF-8 escapes are asked about");
            // raw bytes outside ASCII in the target: the query decoder reads them as Latin-1, so raw
            // UTF-8 (as curl sends what was typed) or a raw byte after an escape would be another id
            for (byte[] target : new byte[][] {
                    concat(("/v1/status?request_id=" + "a".repeat(24)).getBytes(java.nio.charset.StandardCharsets.US_ASCII), new byte[] {(byte) 0xC3, (byte) 0xA9}),
                    concat(("/v1/status?request_id=" + "a".repeat(24) + "%C3").getBytes(java.nio.charset.StandardCharsets.US_ASCII), new byte[] {(byte) 0xA9})}) {
                c.send(concat(concat("GET ".getBytes(java.nio.charset.StandardCharsets.US_ASCII), target),
                        " HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
                r = c.read();
                assertEquals(400, r.status(), r.body());
                assertTrue(r.body().contains("must be printable ASCII"), r.body());
            }
            c.send(get("/v1/version"));
            assertEquals(200, c.read().status(), "the connection keeps serving");
        }
        assertEquals(1, backend.requests.size());
    }

    /**
     * One write of a commit with Connection: close, held a moment, and a commit and a GET after it
     * (over TCP, epoll): only the first is executed and answered, then the server closes. Before,
     * both commits were applied and one answer was written.
     */
    @Test
    void requestsPipelinedAfterAConnectionCloseAreNotExecuted() throws Exception {
        backend.hold = true;
        try (RawHttp c = new RawHttp(server.port())) {
            c.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " + WRITE.length()
                    + "\r\n\r\n" + WRITE + post("/v1/commit", WRITE) + get("/v1/version"));
            awaitHeld(1);
            backend.release(0);
            var r = c.read();
            assertEquals(200, r.status(), r.body());
            assertEquals("close", r.header("connection"));
            assertTrue(c.closedByServer());
        }
        assertEquals(1, backend.requests.size(), "the commit after the close was applied");
    }

    /**
     * A client that sends its requests and then half-closes (shutdown(SHUT_WR), as {@code nc -N}
     * or a script does when its input ends) gets every answer owed, in order, and then the server
     * closes (HalfCloseTest checks the last answer's Connection: close, whose presence here depends
     * on whether the FIN was read before it was written). Before, the server closed at the
     * client's FIN and sent nothing, though the commit was in the log.
     */
    @Test
    void aHalfClosedConnectionGetsEveryAnswerOwedInOrderThenCloses() throws Exception {
        String id = "halfclose-request-0001";
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(post("/v1/commit", "{\"request_id\":\"" + id + "\"," + WRITE.substring(1)));
            c.halfClose();
            var r = c.read();
            assertEquals(200, r.status(), r.body());
            assertTrue(r.body().contains("\"status\":\"committed\""), r.body());
            assertTrue(c.closedByServer());
        }
        backend.hold = true;
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(get("/ok") + post("/v1/commit", WRITE) + get("/metrics") + get("/v1/version"));
            c.halfClose();
            awaitHeld(1);
            backend.release(0);
            var ok = c.read();
            var commit = c.read();
            var metrics = c.read();
            var version = c.read();
            assertTrue(ok.body().startsWith("{\"status\":\"ok\""), ok.body());
            assertTrue(commit.body().contains("\"status\":\"committed\""), commit.body());
            assertEquals("text/plain; version=0.0.4; charset=utf-8", metrics.header("content-type"));
            assertTrue(version.body().startsWith("{\"version\":"), version.body());
            assertNull(metrics.header("connection"), "only the last answer may say the connection ends");
            assertTrue(c.closedByServer());
        }
        assertEquals(2, backend.requests.size());
        assertEquals(id, backend.requests.get(0).requestId());
        // past max_pipelined_requests (4): reading is paused when the FIN comes, requests wait in
        // flow control, and the transport has nothing more to read (a read started then fails)
        try (RawHttp c = new RawHttp(server.port())) {
            c.send((post("/v1/commit", WRITE)).repeat(4) + get("/v1/version").repeat(3));
            c.halfClose();
            awaitHeld(5);
            for (int i = 1; i < 5; i++) { // held 1 to 4 (0 was the commit above)
                backend.release(i);
            }
            for (int i = 0; i < 7; i++) {
                var r = c.read();
                assertEquals(200, r.status(), i + ": " + r.body());
            }
            assertTrue(c.closedByServer());
        }
    }

    /**
     * A request cut short by the client's FIN (its head or body incomplete) is dropped as if the
     * client had vanished: no answer, and its share of the body budget and its parser are given
     * back at once; the complete requests before it are still answered.
     */
    @Test
    void aRequestCutShortByAHalfCloseIsDroppedAndHoldsNothing() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        HttpServer small = smallBudgetServer(registry);
        backend.hold = true;
        try (RawHttp c = new RawHttp(small.port())) {
            c.send(post("/v1/commit", WRITE) + "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n"
                    + paddedWrite(4000).substring(0, 3000));
            awaitHeld(1);
            assertEquals(3000.0, awaitGauge(registry, 3000.0));
            c.halfClose();
            assertEquals(0.0, awaitGauge(registry, 0.0), "given back at the FIN, not when the connection closes");
            backend.release(0);
            var r = c.read();
            assertEquals(200, r.status(), r.body());
            assertTrue(c.closedByServer(), "the commit cut short gets no answer");
        } finally {
            small.close();
        }
        assertEquals(1, backend.requests.size(), "the commit cut short never reached the pipeline");
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(get("/v1/version") + "GET /v1/version HTTP/1.1\r\nHost: x\r\n"); // the second head never ends
            c.halfClose();
            var r = c.read();
            assertEquals(200, r.status(), r.body());
            assertTrue(c.closedByServer(), "no 400 for the head cut short");
        }
    }

    /**
     * Expect: 100-continue on a request pipelined behind one not yet answered: the 100 goes out
     * right after that answer (never before it: answers are in order), and the body is read. Before,
     * it was never sent and the client waiting for it got a 408 after body_read_timeout_ms.
     */
    @Test
    void a100ContinueQueuedBehindAnEarlierRequestIsSentRightAfterItsAnswer() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(get("/ok") + "POST /v1/commit HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
                    + WRITE.length() + "\r\n\r\n");
            var ok = c.readAny();
            assertEquals(200, ok.status(), "the answer before it comes first");
            assertTrue(ok.body().startsWith("{\"status\":\"ok\""), ok.body());
            c.timeout(2_000); // body_read_timeout_ms is 30 s here
            assertEquals(100, c.readAny().status());
            c.send(WRITE);
            var r = c.read();
            assertEquals(200, r.status(), r.body());
            assertTrue(r.body().contains("\"status\":\"committed\""), r.body());
        }
        assertEquals(1, backend.requests.size());
    }

    /**
     * Query values are decoded as forms encode them, which splits only on {@code &}: a raw
     * {@code ;} is part of the value. Before, it ended the parameter, so /v1/status asked about
     * (and banned) the id before it.
     */
    @Test
    void aSemicolonInAQueryValueIsPartOfTheValue() throws Exception {
        String prefix = "r".repeat(24);
        try (RawHttp c = new RawHttp(server.port())) {
            // this backend refuses every status query with 503, naming the id it was asked about
            for (String query : new String[] {prefix + ";def", prefix + ";def&min_version=3", prefix + "%3Bdef"}) {
                c.send(get("/v1/status?request_id=" + query));
                var r = c.read();
                assertEquals(503, r.status(), query + ": " + r.body());
                assertTrue(r.body().contains("\"request_id\":\"" + prefix + ";def\""), query + ": " + r.body());
            }
            c.send(get("/v1/status?request_id=" + prefix + "&min_version=3;x"));
            var r = c.read();
            assertEquals(400, r.status(), r.body());
            assertTrue(r.body().contains("min_version must be a non-negative integer version, got \\\"3;x\\\""), r.body());
        }
    }
}
