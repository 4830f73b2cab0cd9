package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.LeakWatch;
import io.weaseldb.testing.LogAudit;
import io.weaseldb.testing.TestServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Many clients at once, then an audit of the log straight from storage. */
@Timeout(180)
class ConcurrencyEndToEndTest {
    @TempDir
    Path dir;

    @Test
    void aHundredClientsForTenSecondsLeaveEveryAcknowledgedVersionInTheLogExactlyOnce() throws Exception {
        Map<Long, String> acked = new ConcurrentHashMap<>();
        AtomicInteger other = new AtomicInteger();
        try (LeakWatch leaks = new LeakWatch()) {
            try (TestServer s = TestServer.start(dir)) {
                ExecutorService pool = Executors.newFixedThreadPool(100);
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                List<Future<?>> clients = new ArrayList<>();
                for (int c = 0; c < 100; c++) {
                    int id = c;
                    clients.add(pool.submit(() -> {
                        int i = 0;
                        while (System.nanoTime() < end) {
                            String rid = String.format("client-%03d-commit-%08d", id, i++);
                            var r = s.commit("{\"request_id\":\"" + rid + "\",\"operations\":[" + write("c" + id, "v" + i)
                                    + "," + write("shared", "c" + id) + "]}");
                            if (r.status() == 200) {
                                assertTrue(acked.put(r.version(), rid) == null, "version acknowledged twice: " + r.version());
                            } else {
                                other.incrementAndGet();
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : clients) {
                    f.get(60, TimeUnit.SECONDS);
                }
                pool.shutdown();
                leaks.assertNoLeaks(() -> s.commit("{\"operations\":[" + write("after", "load") + "]}"));
            }
        }
        assertTrue(acked.size() > 1000, "only " + acked.size() + " commits in 10 s");
        assertEquals(0, other.get(), "every commit should succeed (no preconditions)");
        LogAudit.Result log = LogAudit.read(dir);
        for (var e : acked.entrySet()) {
            var t = log.transactions().get(e.getKey());
            assertTrue(t != null, "acknowledged version " + e.getKey() + " missing from the log");
            assertEquals(e.getValue(), t.requestId());
        }
        // gap-free: every version of the term's chain holds a transaction except its start marker
        long first = log.chain().get(0).header().firstVersion();
        long last = log.chain().get(log.chain().size() - 1).header().lastVersion();
        assertEquals(last - first, log.transactions().size(), "versions " + first + ".." + last);
    }

    @Test
    void retriesRacingStatusQueriesNeverCommitAnIdTwiceAndStatusAgreesWithTheLog() throws Exception {
        int ids = 200;
        Map<String, String> statusAnswers = new ConcurrentHashMap<>();
        Map<String, Long> statusVersions = new ConcurrentHashMap<>();
        Map<String, Long> committedVersions = new ConcurrentHashMap<>();
        try (TestServer s = TestServer.start(dir)) {
            ExecutorService pool = Executors.newFixedThreadPool(24);
            List<Future<?>> tasks = new ArrayList<>();
            for (int t = 0; t < 16; t++) { // committers: each id is tried by several clients
                int offset = t;
                tasks.add(pool.submit(() -> {
                    for (int n = 0; n < ids; n++) {
                        String rid = String.format("racing-request-id-%05d", (n * 7 + offset) % ids);
                        var r = s.commit("{\"request_id\":\"" + rid + "\",\"operations\":[" + write(rid, "x") + "]}");
                        if (r.status() == 200) {
                            Long prev = committedVersions.putIfAbsent(rid, r.version());
                            assertTrue(prev == null || prev == r.version(), rid + " acknowledged at two versions");
                        } else {
                            assertEquals(400, r.status(), r.body()); // refused after a not_committed status
                        }
                    }
                    return null;
                }));
            }
            for (int t = 0; t < 8; t++) { // status queries race them
                int offset = t;
                tasks.add(pool.submit(() -> {
                    for (int n = 0; n < ids; n += 2) {
                        String rid = String.format("racing-request-id-%05d", (n * 13 + offset) % ids);
                        var r = s.get("/v1/status?request_id=" + rid + "&min_version=0");
                        assertEquals(200, r.status(), r.body());
                        String status = (String) r.get("status");
                        String prev = statusAnswers.putIfAbsent(rid, status);
                        assertTrue(prev == null || prev.equals(status), rid + " status changed from " + prev + " to " + status);
                        statusVersions.putIfAbsent(rid, r.version());
                    }
                    return null;
                }));
            }
            for (Future<?> f : tasks) {
                f.get(120, TimeUnit.SECONDS);
            }
            pool.shutdown();
        }
        LogAudit.Result log = LogAudit.read(dir); // throws if any request id appears twice
        for (var e : statusAnswers.entrySet()) {
            Long inLog = log.versionByRequestId().get(e.getKey());
            if (e.getValue().equals("committed")) {
                assertEquals(statusVersions.get(e.getKey()), inLog, e.getKey());
            } else {
                assertEquals(null, inLog, e.getKey() + " reported not_committed but is in the log");
                assertTrue(log.bans().contains(e.getKey()), "the ban is recorded in the log");
            }
        }
        for (var e : committedVersions.entrySet()) {
            assertEquals(e.getValue(), log.versionByRequestId().get(e.getKey()), e.getKey());
        }
    }
}
