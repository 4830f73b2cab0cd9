package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.fakes3.FakeS3Config;
import io.weaseldb.fakes3.FakeS3Server;
import io.weaseldb.testing.Json;
import io.weaseldb.testing.LogAudit;
import io.weaseldb.txn.Transaction;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two server processes on one fake-S3 bucket. The leader is killed with SIGKILL under commit
 * load; the standby takes over within the documented time ({@code leader_timeout_ms}, one poll
 * and the claim); clients that follow the 503 {@code leader_url} hint carry on against it; and
 * the log, read straight from storage, holds every acknowledged commit at its version, once.
 */
@Timeout(300)
class FailoverIT {
    static final int WRITERS = 8;
    static final long HEARTBEAT_MS = 500;
    static final long TIMEOUT_MS = 2_000;
    /** docs/operations.md: leader_timeout_ms + up to one poll (<= 500 ms) + the claim. */
    static final long CLAIM_ALLOWANCE_MS = 3_000;

    @TempDir
    Path dir;

    @Test
    void theStandbyTakesOverFromAKilledLeaderAndNoAcknowledgedCommitIsLost() throws Exception {
        Path s3dir = Files.createDirectories(dir.resolve("s3"));
        Map<Long, String> acked = new ConcurrentHashMap<>();
        Map<String, Integer> ackedBy = new ConcurrentHashMap<>();
        AtomicInteger inDoubt = new AtomicInteger();
        AtomicInteger followedHints = new AtomicInteger();
        long killedAt;
        long takenOverAt;
        int leaderPort;
        int standbyPort;
        try (FakeS3Server s3 = FakeS3Server.start(FakeS3Config.builder().dataDir(s3dir).fsync(false)
                .credentials("failover", "failover-secret").build())) {
            Path config = dir.resolve("weaseldb.toml");
            Files.writeString(config, "[s3]\nendpoint = \"" + s3.endpoint() + "\"\n"
                    + "access_key_id = \"failover\"\nsecret_access_key = \"failover-secret\"\ncreate_bucket = true\n"
                    + "request_timeout_ms = 2000\n"
                    + "[persistence]\nleader_heartbeat_ms = " + HEARTBEAT_MS + "\nleader_timeout_ms = " + TIMEOUT_MS + "\n");
            ServerProcess leader = ServerProcess.start("--config", config.toString(), "--port", "0");
            ServerProcess standby = ServerProcess.start("--config", config.toString(), "--port", "0");
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(2)).build();
            try {
                leaderPort = leader.port();
                standbyPort = standby.port();
                assertTrue(standby.log().contains("as a standby"), standby.log());
                assertEquals(503, get(http, standbyPort, "/ok").statusCode(), "a standby is not ready");

                AtomicBoolean stop = new AtomicBoolean();
                AtomicInteger sequence = new AtomicInteger();
                ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
                List<Future<?>> writers = new ArrayList<>();
                for (int w = 0; w < WRITERS; w++) {
                    // half the clients start at the standby: they must follow its hint to the leader
                    int start = w % 2 == 0 ? leaderPort : standbyPort;
                    int other = start == leaderPort ? standbyPort : leaderPort;
                    writers.add(pool.submit(() -> {
                        int target = start;
                        while (!stop.get()) {
                            String id = String.format("failover-request-%08d", sequence.incrementAndGet());
                            String body = "{\"request_id\":\"" + id + "\",\"operations\":[" + write("k" + id, "v") + "]}";
                            HttpResponse<String> r;
                            try {
                                r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + target + "/v1/commit"))
                                        .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(body))
                                        .build(), HttpResponse.BodyHandlers.ofString());
                            } catch (Exception gone) {
                                inDoubt.incrementAndGet(); // the leader died under us
                                target = target == start ? other : start;
                                Thread.sleep(50);
                                continue;
                            }
                            if (r.statusCode() == 200) {
                                acked.put((Long) Json.object(r.body()).get("version"), id);
                                ackedBy.merge(target == leaderPort ? "first" : "second", 1, Integer::sum);
                            } else if (r.statusCode() == 503) {
                                Map<String, Object> e = Json.object(r.body());
                                if (!"not_committed".equals(e.get("outcome"))) {
                                    inDoubt.incrementAndGet();
                                }
                                Object url = e.get("leader_url");
                                if (url != null) {
                                    int hinted = URI.create((String) url).getPort();
                                    if (hinted != target) {
                                        followedHints.incrementAndGet();
                                        target = hinted;
                                    }
                                } else {
                                    Thread.sleep(50); // no leader known yet: retry shortly
                                }
                            } else {
                                throw new AssertionError("commit answered " + r.statusCode() + ": " + r.body());
                            }
                        }
                        return null;
                    }));
                }
                Thread.sleep(2_000);
                int beforeKill = acked.size();
                leader.kill();
                killedAt = System.nanoTime();
                long deadline = killedAt + TimeUnit.SECONDS.toNanos(60);
                while (get(http, standbyPort, "/ok").statusCode() != 200) {
                    assertTrue(System.nanoTime() < deadline, "no takeover:\n" + standby.log());
                    Thread.sleep(20);
                }
                takenOverAt = System.nanoTime();
                // clients carry on against the new leader
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                while (System.nanoTime() < until) {
                    Thread.sleep(100);
                }
                stop.set(true);
                for (Future<?> f : writers) {
                    f.get(60, TimeUnit.SECONDS);
                }
                pool.shutdown();
                assertTrue(beforeKill > 50, "too little load before the kill: " + beforeKill);
                assertTrue(ackedBy.getOrDefault("second", 0) > 50, "clients did not continue on the new leader: " + ackedBy);
                assertTrue(followedHints.get() >= WRITERS / 2, "clients started at the standby follow its hint");
                assertEquals(200, get(http, standbyPort, "/ok").statusCode());
                assertTrue(standby.log().contains("leading term 2"), standby.log());
            } finally {
                http.close();
                standby.close();
                leader.close();
            }
        }

        long takeoverMs = TimeUnit.NANOSECONDS.toMillis(takenOverAt - killedAt);
        System.out.println("failover: takeover " + takeoverMs + " ms after SIGKILL; " + acked.size()
                + " acknowledged commits, " + inDoubt.get() + " in doubt");
        assertTrue(takeoverMs <= TIMEOUT_MS + CLAIM_ALLOWANCE_MS,
                "takeover took " + takeoverMs + " ms (documented: leader_timeout_ms " + TIMEOUT_MS + " + a poll + the claim)");

        LogAudit.Result log = LogAudit.read(dir.resolve("s3"));
        for (var e : acked.entrySet()) {
            Transaction t = log.transactions().get(e.getKey());
            assertTrue(t != null, "acknowledged version " + e.getKey() + " lost");
            assertEquals(e.getValue(), t.requestId(), "version " + e.getKey() + " renumbered");
        }
        long terms = log.chain().stream().map(b -> b.header().leaderId()).distinct().count();
        assertNotEquals(1, terms, "the log shows the second leader's term");
    }

    private static HttpResponse<String> get(HttpClient http, int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
