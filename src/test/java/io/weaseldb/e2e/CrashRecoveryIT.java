package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.log.Batch;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.testing.Json;
import io.weaseldb.testing.LogAudit;
import io.weaseldb.txn.Transaction;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
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
 * A real server process under concurrent commit load is killed with SIGKILL at random moments,
 * 20 times, and restarted each time on the same data. Afterwards the log, read straight from
 * storage, must hold every acknowledged commit at its acknowledged version, exactly once, with
 * the versions of each term gap-free; and /v1/status must agree with the log on in-doubt ids.
 */
@Timeout(600)
class CrashRecoveryIT {
    static final int CRASHES = 20;
    static final int WRITERS = 16;

    @TempDir
    Path dir;

    @Test
    void sigkillUnderLoadNeverLosesOrDuplicatesAnAcknowledgedCommit() throws Exception {
        long seed = Long.getLong("weaseldb.crash.seed", System.nanoTime());
        System.out.println("crash test seed " + seed + " (rerun with -Dweaseldb.crash.seed=" + seed + ")");
        SplittableRandom random = new SplittableRandom(seed);
        Map<Long, String> acked = new ConcurrentHashMap<>();
        Map<String, Boolean> inDoubt = new ConcurrentHashMap<>();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2)).build();
        AtomicInteger sequence = new AtomicInteger();
        long lastAcked = -1;
        for (int round = 0; round <= CRASHES; round++) {
            ServerProcess server = ServerProcess.start("--port", "0", "--data-dir", dir.toString());
            try {
                URI commit = URI.create("http://127.0.0.1:" + server.port() + "/v1/commit");
                var v = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/version"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                long version = (Long) Json.object(v.body()).get("version");
                assertTrue(version >= lastAcked, "round " + round + ": version " + version + " < acknowledged " + lastAcked);
                if (round == CRASHES) {
                    checkInDoubtIds(http, server.port(), inDoubt);
                    break;
                }
                AtomicBoolean stop = new AtomicBoolean();
                ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
                List<Future<?>> writers = new ArrayList<>();
                for (int w = 0; w < WRITERS; w++) {
                    writers.add(pool.submit(() -> {
                        while (!stop.get()) {
                            String id = String.format("crash-test-request-%08d", sequence.incrementAndGet());
                            String body = "{\"request_id\":\"" + id + "\",\"operations\":[" + write("k" + id, "v") + "]}";
                            try {
                                var r = http.send(HttpRequest.newBuilder(commit).timeout(Duration.ofSeconds(10))
                                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                                        HttpResponse.BodyHandlers.ofString());
                                if (r.statusCode() == 200) {
                                    acked.put((Long) Json.object(r.body()).get("version"), id);
                                } else {
                                    inDoubt.put(id, true);
                                }
                            } catch (Exception e) {
                                inDoubt.put(id, true); // the server died under us: outcome unknown
                            }
                        }
                        return null;
                    }));
                }
                Thread.sleep(random.nextInt(200, 1500)); // let load run, then crash at a random moment
                server.kill();
                stop.set(true);
                for (Future<?> f : writers) {
                    f.get(60, TimeUnit.SECONDS);
                }
                pool.shutdown();
                lastAcked = acked.keySet().stream().mapToLong(Long::longValue).max().orElse(-1);
            } finally {
                server.close();
            }
        }
        http.close();
        assertTrue(acked.size() > CRASHES * 10, "too little load: " + acked.size());

        LogAudit.Result log = LogAudit.read(dir);
        for (var e : acked.entrySet()) {
            Transaction t = log.transactions().get(e.getKey());
            assertTrue(t != null, "acknowledged version " + e.getKey() + " lost");
            assertEquals(e.getValue(), t.requestId(), "version " + e.getKey() + " renumbered");
        }
        // Within each term, transaction versions follow the term start with no gap (no status
        // queries ran during load, so no version was taken by anything else).
        long expectedNext = -1;
        long term = -1;
        for (Batch b : log.chain()) {
            BatchHeader h = b.header();
            if (h.kind() == BatchHeader.TERM_START) {
                term = h.term();
                expectedNext = h.firstVersion() + 1;
                continue;
            }
            assertEquals(term, h.term(), "a term's objects follow its start");
            for (Transaction t : b.transactions()) {
                assertEquals(expectedNext, t.version(), "gap in term " + term);
                expectedNext++;
            }
        }
        assertTrue(log.chain().stream().filter(b -> b.header().kind() == BatchHeader.TERM_START).count() >= CRASHES + 1);
        for (var e : statusAnswers.entrySet()) {
            boolean inLog = log.versionByRequestId().containsKey(e.getKey());
            assertEquals(inLog, e.getValue().equals("committed"), "status of " + e.getKey() + " was " + e.getValue());
        }
        System.out.println("crash test: " + acked.size() + " acknowledged commits, " + inDoubt.size()
                + " in doubt, " + statusAnswers.size() + " resolved through /v1/status");
    }

    /** For ids whose commit outcome the client never learned, /v1/status must agree with the log. */
    private void checkInDoubtIds(HttpClient http, int port, Map<String, Boolean> inDoubt) throws Exception {
        Map<String, String> answers = new ConcurrentHashMap<>();
        int checked = 0;
        for (String id : inDoubt.keySet()) {
            if (checked++ >= 200) {
                break;
            }
            var r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/status?request_id=" + id
                    + "&min_version=0")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            answers.put(id, (String) Json.object(r.body()).get("status"));
        }
        // The audit after shutdown compares: committed <=> in the log.
        statusAnswers = answers;
    }

    private Map<String, String> statusAnswers = Map.of();
}
