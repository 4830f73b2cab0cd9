package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.SseClient;
import io.weaseldb.testing.TestServer;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** GET /v1/subscribe over real TCP: history from S3, the switch to live, resume, flow control. */
@Timeout(180)
class SubscribeEndToEndTest {
    /** A tiny in-memory window forces subscribers through S3 history and back to live. */
    static final String SMALL_WINDOW = "[subscription]\nmemory_window_bytes = 4096\n";

    @TempDir
    Path dir;

    /** Commits from {@code writers} threads until told to stop; returns acknowledged version -> request id. */
    static final String SLOW_DROP = "weaseldb_subscribers_dropped_total{reason=\"slow\"} 1.0";

    static final class Writers implements AutoCloseable {
        final Map<Long, String> acked = new ConcurrentHashMap<>();
        final ExecutorService pool;
        final List<Future<?>> tasks = new ArrayList<>();
        volatile boolean stop;
        final int valueBytes;

        Writers(TestServer s, int writers, int commitsEach) {
            this(s, writers, commitsEach, 64);
        }

        Writers(TestServer s, int writers, int commitsEach, int valueBytes) {
            this.valueBytes = valueBytes;
            pool = Executors.newFixedThreadPool(writers);
            for (int w = 0; w < writers; w++) {
                int id = w;
                tasks.add(pool.submit(() -> {
                    for (int i = 0; i < commitsEach && !stop; i++) {
                        var r = s.commit("{\"operations\":[" + write("w" + id + "-" + i, "x".repeat(valueBytes)) + "]}");
                        if (r.status() == 200) {
                            acked.put(r.version(), (String) r.get("request_id"));
                        }
                    }
                    return null;
                }));
            }
        }

        /**
         * Lets the writers run until the server reports a slow subscriber dropped (at most 90 s
         * and their commit count: how much the kernel absorbs for a client that reads nothing
         * varies, from 3 MB to 28 MB seen here), then stops them.
         */
        void commitUntilSlowDrop(TestServer s) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (!s.get("/metrics").body().contains(SLOW_DROP) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            stop = true;
            await();
        }

        /** A lower bound on the stream of everything acknowledged: the base64 of every value. */
        long minStreamBytes() {
            return acked.size() * ((long) valueBytes / 3 * 4);
        }

        void await() throws Exception {
            for (Future<?> f : tasks) {
                f.get(120, TimeUnit.SECONDS);
            }
        }

        @Override
        public void close() {
            stop = true;
            pool.shutdownNow();
        }
    }

    /** Reads transactions until {@code last}, checking order, the prev_version chain and exactly-once. */
    static long readThrough(SseClient sub, long after, long last, Map<Long, String> seen) throws Exception {
        long prev = Long.MIN_VALUE;
        long v = after;
        while (v < last) {
            SseClient.Event e = sub.nextTransaction(20_000);
            assertNotNull(e, "no event after version " + v);
            if (e == SseClient.END) {
                return v; // the stream ended (restart): caller resumes
            }
            Map<String, Object> j = e.json();
            long version = (Long) j.get("version");
            assertEquals(String.valueOf(version), e.id(), "id: carries the version");
            assertTrue(version > v, "versions increase: " + version + " after " + v);
            if (prev != Long.MIN_VALUE) {
                assertEquals(prev, (Long) j.get("prev_version"), "prev_version links to the previous transaction");
            }
            assertTrue(seen.put(version, (String) j.get("request_id")) == null, "duplicate " + version);
            prev = version;
            v = version;
        }
        return v;
    }

    @Test
    void aSubscriberFromTheStartSeesEveryTransactionOnceAcrossTheSwitchToLive() throws Exception {
        try (TestServer s = TestServer.start(dir, SMALL_WINDOW)) {
            try (Writers early = new Writers(s, 20, 10)) {
                early.await();
            }
            Map<Long, String> seen = new ConcurrentHashMap<>();
            try (SseClient sub = SseClient.open(s.port(), "/v1/subscribe?after=0");
                 Writers writers = new Writers(s, 20, 15)) {
                writers.await();
                readThrough(sub, 0, Math.max(max(writers.acked), s.get("/v1/version").version()), seen);
                for (var e : writers.acked.entrySet()) {
                    assertEquals(e.getValue(), seen.get(e.getKey()), "acknowledged version " + e.getKey() + " delivered");
                }
                assertTrue(seen.size() >= 20 * 10 + writers.acked.size());
            }
        }
    }

    @Test
    void aSubscriberResumesWithLastEventIdAfterARestart() throws Exception {
        TestServer s = TestServer.start(dir, SMALL_WINDOW);
        Map<Long, String> seen = new ConcurrentHashMap<>();
        Map<Long, String> acked = new ConcurrentHashMap<>();
        try {
            SseClient sub = SseClient.open(s.port(), "/v1/subscribe?after=0");
            try (Writers w = new Writers(s, 20, 10)) {
                w.await();
                acked.putAll(w.acked);
            }
            long reached = readThrough(sub, 0, max(acked), seen);
            s = s.restart(); // the stream ends with the old server
            assertEquals(SseClient.END, sub.nextTransaction(10_000) == null ? SseClient.END : drainToEnd(sub));
            sub.close();
            long resumeFrom = seen.keySet().stream().mapToLong(Long::longValue).max().orElse(0);
            assertTrue(resumeFrom >= reached);
            try (Writers w = new Writers(s, 20, 5);
                 SseClient again = SseClient.open(s.port(), "/v1/subscribe", "Last-Event-ID: " + resumeFrom)) {
                w.await();
                acked.putAll(w.acked);
                readThrough(again, resumeFrom, max(acked), seen);
            }
            for (var e : acked.entrySet()) {
                assertEquals(e.getValue(), seen.get(e.getKey()), "acknowledged version " + e.getKey());
            }
        } finally {
            s.close();
        }
    }

    private static long max(Map<Long, String> acked) {
        return acked.keySet().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    private static SseClient.Event drainToEnd(SseClient sub) throws InterruptedException {
        SseClient.Event e;
        while ((e = sub.next(10_000)) != null && e != SseClient.END) {
            // events already in flight when the server stopped
        }
        return SseClient.END;
    }

    @Test
    void aSubscriberThatStopsReadingWhileReplayingHistoryIsDropped() throws Exception {
        // No memory window: every event comes from the log in S3, so the stream stays in replay.
        try (TestServer s = TestServer.start(dir, "[subscription]\nmemory_window_bytes = 0\n")) {
            long start = s.get("/v1/version").version();
            Socket stalled = SseClient.openStalled(s.port(), "/v1/subscribe?after=" + start);
            long openedNanos = System.nanoTime();
            long committedBytes;
            // Up to ~140 MB of events, far more than the kernel absorbs for a client that reads
            // nothing (runs here have seen up to 28 MB): the stream fills the socket buffers, then
            // the client takes nothing more, and after 10 s without progress the server ends it.
            try (Writers w = new Writers(s, 8, 400, 32768)) {
                w.commitUntilSlowDrop(s);
                committedBytes = w.minStreamBytes();
            }
            long droppedAfterNanos = System.nanoTime() - openedNanos;
            long total = drainToEof(stalled, 30_000);
            String metrics = s.get("/metrics").body();
            assertTrue(metrics.contains(SLOW_DROP), metrics);
            assertTrue(total < committedBytes, "the stream was cut, not delivered whole: " + total + " of " + committedBytes);
            assertTrue(droppedAfterNanos >= TimeUnit.SECONDS.toNanos(10), "dropped before 10 s");
        }
    }

    @Test
    void aSubscriberThatStopsReadingIsDroppedWhileOthersKeepUp() throws Exception {
        try (TestServer s = TestServer.start(dir, "[subscription]\nmax_buffer_size_bytes = 1048576\n")) {
            long start = s.get("/v1/version").version();
            Socket stalled = SseClient.openStalled(s.port(), "/v1/subscribe?after=" + start);
            Map<Long, String> seen = new ConcurrentHashMap<>();
            long committedBytes;
            try (SseClient healthy = SseClient.open(s.port(), "/v1/subscribe?after=" + start);
                 Writers w = new Writers(s, 8, 1000, 32768)) {
                // Commits flow until the server gives up on the stalled stream, bounded at 8,000
                // commits of 32 KiB (~350 MB of events). Once the stream is behind the in-memory
                // window it replays from S3, where the rule is 10 s without progress: the wait
                // covers that too.
                w.commitUntilSlowDrop(s);
                assertTrue(s.get("/metrics").body().contains(SLOW_DROP), "the stalled subscriber was never dropped");
                committedBytes = w.minStreamBytes();
                // Everyone else kept up: the healthy stream has every acknowledged commit.
                readThrough(healthy, start, max(w.acked), seen);
                assertEquals(w.acked.keySet(), seen.keySet());
            }
            // The server closed the stalled stream: draining what the kernel held ends in EOF,
            // well short of everything that was committed.
            long total = drainToEof(stalled, 20_000);
            assertTrue(total < committedBytes, "the stream was cut, not delivered whole: " + total + " of " + committedBytes);
            String metrics = s.get("/metrics").body();
            assertTrue(metrics.contains(SLOW_DROP), metrics);
        }
    }

    /** Reads a stalled stream's socket to end of stream (failing on {@code timeoutMs} of silence), then closes it. */
    static long drainToEof(Socket socket, int timeoutMs) throws Exception {
        socket.setSoTimeout(timeoutMs);
        InputStream in = socket.getInputStream();
        byte[] buf = new byte[65536];
        long total = 0;
        int n;
        while ((n = in.read(buf)) >= 0) {
            total += n;
        }
        socket.close();
        return total;
    }

    @Test
    void nonDurableSubscribersSeeTransactionsBeforeTheCommitIsAcknowledgedThenACheckpoint() throws Exception {
        String slowStorage = "[s3]\ndata_dir = \"" + dir + "\"\nfsync = false\n"
                + "fake_faults = [\"op=PUT,kind=latency,min_ms=400,max_ms=400\"]\n";
        try (TestServer s = TestServer.start(dir, slowStorage)) {
            long start = s.get("/v1/version").version();
            try (SseClient fast = SseClient.open(s.port(), "/v1/subscribe?durable=false&after=" + start)) {
                var pending = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try {
                        return s.commit("{\"operations\":[" + write("early", "bird") + "]}");
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                SseClient.Event e = fast.nextTransaction(10_000);
                long eventAt = System.nanoTime();
                assertNotNull(e);
                assertTrue(!pending.isDone(), "the event arrived while the commit was still waiting for storage");
                long v = e.version();
                SseClient.Event cp;
                do {
                    cp = fast.next(10_000);
                    assertNotNull(cp, "a checkpoint follows");
                } while (!cp.type().equals("checkpoint") || cp.version() < v);
                // it covers the transaction only once durable: the PUT holding it takes 400 ms,
                // so not with the event itself (a lower bound: a loaded machine only widens it)
                assertTrue(System.nanoTime() - eventAt >= 100_000_000L, "a checkpoint claimed durability before the PUT ended");
                assertEquals(v, pending.get(10, TimeUnit.SECONDS).version());
            }
        }
    }

    @Test
    void aReplayFromStorageResumedInsideALogObjectStartsRightAfterTheCursor() throws Exception {
        // A tiny memory window sends every subscriber to the log objects in storage; pipelined
        // commits share objects, so most values of after fall inside one.
        try (TestServer s = TestServer.start(dir, "[subscription]\nmemory_window_bytes = 0\n");
             io.weaseldb.testing.RawHttp c = new io.weaseldb.testing.RawHttp(s.port())) {
            StringBuilder pipelined = new StringBuilder();
            for (int i = 0; i < 24; i++) {
                pipelined.append(io.weaseldb.testing.RawHttp.post("/v1/commit", "{\"operations\":[" + write("r" + i, "v") + "]}"));
            }
            c.send(pipelined.toString());
            long last = 0;
            for (int i = 0; i < 24; i++) {
                var r = c.read();
                assertEquals(200, r.status(), r.body());
                last = Math.max(last, Long.parseLong(r.body().replaceAll(".*\"version\":(\\d+).*", "$1")));
            }
            for (long after = 0; after < last; after++) {
                try (SseClient sub = SseClient.open(s.port(), "/v1/subscribe?after=" + after)) {
                    SseClient.Event e = sub.nextTransaction(10_000);
                    assertNotNull(e, "after=" + after);
                    assertEquals(after + 1, e.version(), "the first event after=" + after + " must be the next version");
                }
            }
            assertTrue(last >= 24, "every commit got a version: " + last);
        }
    }

    @Test
    void idleStreamsGetKeepalives() throws Exception {
        try (TestServer s = TestServer.start(dir, "[subscription]\nkeepalive_interval_seconds = 1\n");
             SseClient sub = SseClient.open(s.port(), "/v1/subscribe")) {
            long deadline = System.nanoTime() + 15_000_000_000L;
            while (sub.keepalives() < 5) {
                assertTrue(System.nanoTime() < deadline, "keepalive comments: " + sub.keepalives());
                Thread.sleep(10);
            }
            assertEquals(200, sub.status());
            // Every interval when idle, not every interval + 1 s (the tick is the interval here, so
            // that bug made the gaps 2 s). The median gap, so one late tick on a busy machine does not count.
            List<Long> at = sub.keepaliveNanos();
            long[] gaps = new long[at.size() - 1];
            for (int i = 1; i < at.size(); i++) {
                gaps[i - 1] = at.get(i) - at.get(i - 1);
            }
            java.util.Arrays.sort(gaps);
            assertTrue(gaps[gaps.length / 2] < 1_500_000_000L, "median keepalive gap " + gaps[gaps.length / 2] / 1_000_000 + " ms");
        }
    }

    @Test
    void aStreamWhoseBacklogFillsTheSocketIsNotCutOffByTheRequestTimers() throws Exception {
        // ~600 KB of backlog: opening the stream passes the socket's high-water mark at once, so
        // reading pauses and the GET never looks complete to the read timers
        String cfg = "[server]\nport = 0\nbody_read_timeout_ms = 500\nbody_deadline_ms = 1000\n";
        try (TestServer s = TestServer.start(dir, cfg)) {
            for (int i = 0; i < 60; i++) {
                assertEquals(200, s.commit("{\"operations\":[" + write("k" + i, "x".repeat(8000)) + "]}").status());
            }
            try (Socket sock = new Socket("127.0.0.1", s.port())) {
                sock.setSoTimeout(500);
                sock.getOutputStream().write("GET /v1/subscribe?after=0 HTTP/1.1\r\nHost: x\r\n\r\n"
                        .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                Thread.sleep(2_500); // past both timers, reading nothing: the backlog waits in the socket
                InputStream in = sock.getInputStream();
                java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
                byte[] buf = new byte[65536];
                try {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        got.write(buf, 0, n);
                    }
                } catch (java.net.SocketTimeoutException drained) {
                    // everything sent so far is read; the stream stays open
                }
                String text = got.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
                assertTrue(text.startsWith("HTTP/1.1 200"), text.substring(0, Math.min(200, text.length())));
                assertTrue(!text.contains("HTTP/1.1 408"), "a 408 in the middle of the stream");
                assertTrue(text.contains("id: 60\n") || text.contains("id: 60\r\n"), "the whole backlog arrives");
            }
            // every reason is exposed at 0 from the start: none may have counted
            assertTrue(s.get("/metrics").body().lines().noneMatch(l -> l.startsWith("weaseldb_http_rejected_total")
                    && (l.contains("body_deadline") || l.contains("body_read_timeout")) && !l.endsWith(" 0.0")));
        }
    }

    /** A malformed after is a 400 whether or not Last-Event-ID (which wins when both are valid) is sent. */
    @Test
    void aMalformedAfterIsA400EvenWithLastEventId() throws Exception {
        try (TestServer s = TestServer.start(dir);
             io.weaseldb.testing.RawHttp c = new io.weaseldb.testing.RawHttp(s.port())) {
            for (String lastEventId : new String[] {null, "0"}) {
                c.send("GET /v1/subscribe?after=abc HTTP/1.1\r\nHost: x\r\n"
                        + (lastEventId == null ? "" : "Last-Event-ID: " + lastEventId + "\r\n") + "\r\n");
                var r = c.read();
                assertEquals(400, r.status(), "Last-Event-ID " + lastEventId + ": " + r.body());
                assertEquals("{\"error\":\"bad_request\",\"message\":\"after must be a non-negative integer version, got \\\"abc\\\"\"}",
                        r.body());
            }
        }
    }

    /**
     * The largest long was accepted and the stream then ended at once as "truncated" (the
     * version after it overflowed), so a client resuming from it looped; a sign was accepted.
     */
    @Test
    void afterIsDigitsOnlyAndBelowTheLargestLong() throws Exception {
        try (TestServer s = TestServer.start(dir);
             io.weaseldb.testing.RawHttp c = new io.weaseldb.testing.RawHttp(s.port())) {
            for (String bad : new String[] {"%2B5", "9223372036854775807", "99999999999999999999", "-1", ""}) {
                c.send("GET /v1/subscribe?after=" + bad + " HTTP/1.1\r\nHost: x\r\n\r\n");
                var r = c.read();
                assertEquals(400, r.status(), bad + ": " + r.body());
            }
            c.send("GET /v1/subscribe HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 9223372036854775807\r\n\r\n");
            var r = c.read();
            assertEquals(400, r.status(), r.body());
            assertTrue(r.body().contains("Last-Event-ID must be below 9223372036854775807"), r.body());
        }
        try (TestServer s = TestServer.start(dir);
             SseClient sub = SseClient.open(s.port(), "/v1/subscribe?after=9223372036854775806")) {
            assertEquals(200, s.commit("{\"operations\":[" + write("k", "v") + "]}").status());
            Thread.sleep(1_500); // past a tick: the stream waits for a version that will not come soon
            assertEquals(200, sub.status());
            assertTrue(s.get("/metrics").body().lines().noneMatch(l -> l.startsWith("weaseldb_subscribers_dropped_total")
                    && !l.endsWith(" 0.0")), "the stream is not ended");
        }
    }
}
