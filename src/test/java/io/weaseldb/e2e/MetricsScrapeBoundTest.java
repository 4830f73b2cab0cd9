package io.weaseldb.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Gauge;
import io.weaseldb.testing.RawHttp;
import io.weaseldb.testing.TestServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's own scrape executor, driven to its bound: with one scrape stuck (a meter that does
 * not return), 8 more wait and the rest are answered 503 at once, while /ok, /v1/version and
 * commits go on; once the stuck scrape returns, every waiting one is answered.
 */
@Timeout(120)
class MetricsScrapeBoundTest {
    @TempDir
    Path dir;

    /** Scrapes the server's executor takes: one running, the queue's 8 waiting. */
    static final int TAKEN = 1 + 8;
    /** Scrapes sent beyond those. */
    static final int EXTRA = 3;

    @Test
    void scrapesPastTheQueueAre503AndTheRestOfTheServerGoesOn() throws Exception {
        try (TestServer s = TestServer.start(dir)) {
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch stuck = new CountDownLatch(1);
            Object state = new Object(); // the gauge holds it weakly
            Gauge.builder("test_stuck_meter", state, o -> {
                stuck.countDown();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return 1.0;
            }).register(s.server().metrics().registry());
            List<RawHttp> scrapes = new ArrayList<>();
            try {
                RawHttp first = new RawHttp(s.port());
                scrapes.add(first);
                first.send(RawHttp.get("/metrics"));
                assertTrue(stuck.await(10, TimeUnit.SECONDS), "the first scrape reached the meter");
                // 11 more: whatever order they reach the executor in, 8 wait and 3 are refused at once
                List<RawHttp> more = new ArrayList<>();
                for (int i = 0; i < TAKEN - 1 + EXTRA; i++) {
                    RawHttp c = new RawHttp(s.port());
                    more.add(c);
                    c.send(RawHttp.get("/metrics"));
                }
                scrapes.addAll(more);
                List<RawHttp> refused = new ArrayList<>();
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (refused.size() < EXTRA) {
                    assertTrue(System.nanoTime() < deadline, refused.size() + " of " + EXTRA + " scrapes refused");
                    for (RawHttp c : more) {
                        if (refused.contains(c)) {
                            continue;
                        }
                        c.timeout(20); // nothing arrives while a scrape waits; a refusal comes whole
                        RawHttp.Response r;
                        try {
                            r = c.read();
                        } catch (java.net.SocketTimeoutException waiting) {
                            continue;
                        }
                        assertEquals(503, r.status(), r.body());
                        assertTrue(r.body().contains("metrics scrapes are not being taken now"), r.body());
                        assertTrue(r.header("retry-after") != null, "says when to come back");
                        refused.add(c);
                    }
                }
                scrapes.removeAll(refused);
                for (RawHttp c : refused) {
                    c.close();
                }
                assertEquals(200, s.get("/ok").status(), "the leadership look behind /ok has its own executor");
                assertEquals(200, s.get("/v1/version").status());
                assertEquals(200, s.commit("{\"operations\":[{\"type\":\"write\",\"key\":\"aw==\",\"value\":\"dg==\"}]}")
                        .status());
                release.countDown();
                assertEquals(TAKEN, scrapes.size());
                for (RawHttp c : scrapes) {
                    c.timeout(10_000);
                    RawHttp.Response r = c.read();
                    assertEquals(200, r.status(), r.body());
                    assertTrue(r.body().contains("test_stuck_meter 1.0"), "a whole scrape");
                }
            } finally {
                release.countDown();
                for (RawHttp c : scrapes) {
                    c.close();
                }
            }
        }
    }
}
