package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.fakes3.FakeS3Server;
import io.weaseldb.testing.LogAudit;
import io.weaseldb.testing.TestServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each storage fault the fake S3 can inject, through the real SDK and the real pipeline: the
 * commit's HTTP outcome, and what the log holds afterwards.
 */
@Timeout(120)
class StorageFaultsTest {
    static final String FAST_RETRIES = "[persistence]\nretry_initial_backoff_ms = 5\nretry_max_backoff_ms = 50\n"
            + "retry_budget_ms = 1500\n";

    @TempDir
    Path dir;

    TestServer start() throws Exception {
        return TestServer.start(dir, FAST_RETRIES + "[s3]\ndata_dir = \"" + dir + "\"\nfsync = false\nrequest_timeout_ms = 1000\n");
    }

    static String commitBody(String key) {
        return "{\"operations\":[" + write(key, "v") + "]}";
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        "op=PUT,prefix=log/,kind=error,status=500,code=InternalError,count=3",
        "op=PUT,prefix=log/,kind=error,status=503,code=SlowDown,count=3",
        "op=PUT,prefix=log/,kind=error,status=429,code=SlowDown,count=3",
        "op=PUT,prefix=log/,kind=reset,count=2",
        "op=PUT,prefix=log/,kind=timeout,count=1",
        "op=PUT,prefix=log/,kind=lost_reply,count=2",
    })
    void transientFaultsAreRetriedAndEachCommitLandsExactlyOnce(String fault) throws Exception {
        List<Long> versions = new ArrayList<>();
        try (TestServer s = start()) {
            FakeS3Server fake = s.server().embeddedS3();
            fake.faults().add(fault);
            for (int i = 0; i < 3; i++) {
                var r = s.commit(commitBody("k" + i));
                assertEquals(200, r.status(), fault + ": " + r.body());
                versions.add(r.version());
            }
            fake.faults().clear();
            String metrics = s.get("/metrics").body();
            assertTrue(metrics.contains("weaseldb_batch_retries_total"), "retries are counted");
            assertTrue(!metrics.contains("weaseldb_batch_retries_total 0.0"), "and there were some: " + fault);
        }
        LogAudit.Result log = LogAudit.read(dir); // fails on duplicates
        for (long v : versions) {
            assertTrue(log.transactions().containsKey(v), "version " + v + " after " + fault);
        }
        assertEquals(3, log.transactions().size());
    }

    @Test
    void pastTheRetryBudgetCommitsAreUnknownThenTheServerRecoversByItself() throws Exception {
        try (TestServer s = start()) {
            FakeS3Server fake = s.server().embeddedS3();
            var ok = s.commit(commitBody("before"));
            assertEquals(200, ok.status());
            fake.faults().add("op=PUT,prefix=log/,kind=error,status=503,code=SlowDown");
            String id = "stuck-commit-request-id-01";
            var stuck = s.commit("{\"request_id\":\"" + id + "\",\"operations\":[" + write("stuck", "v") + "]}");
            assertEquals(503, stuck.status(), stuck.body());
            assertEquals("unknown", stuck.get("outcome"), "the batch may still land");
            assertEquals(id, stuck.get("request_id"));
            var refused = s.commit(commitBody("during"));
            assertEquals(503, refused.status());
            assertEquals("not_committed", refused.get("outcome"), "new commits are refused while storage is down");
            assertEquals(503, s.get("/ok").status(), "the health check fails while storage is down");

            fake.faults().clear(); // storage comes back
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            TestServer.Response after;
            do {
                after = s.commit(commitBody("after"));
                assertTrue(System.nanoTime() < deadline, "the server did not recover: " + after.body());
            } while (after.status() != 200);
            var status = s.get("/v1/status?request_id=" + id + "&min_version=" + ok.version());
            assertEquals("committed", status.get("status"), "the unknown commit did land once storage returned");
            assertEquals(200, s.get("/ok").status());
        }
        LogAudit.Result log = LogAudit.read(dir);
        assertTrue(log.versionByRequestId().containsKey("stuck-commit-request-id-01"));
    }

    @Test
    void slowStorageDelaysButNeverReordersAcknowledgements() throws Exception {
        try (TestServer s = start()) {
            s.server().embeddedS3().faults().add("op=PUT,prefix=log/,kind=latency,min_ms=5,max_ms=120");
            List<CompletableFuture<TestServer.Response>> pending = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                int n = i;
                pending.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return s.commit(commitBody("slow" + n));
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            long max = 0;
            for (var f : pending) {
                var r = f.get(60, TimeUnit.SECONDS);
                assertEquals(200, r.status());
                max = Math.max(max, r.version());
            }
            assertTrue(s.get("/v1/version").version() >= max);
        }
        assertEquals(40, LogAudit.read(dir).transactions().size());
    }
}
