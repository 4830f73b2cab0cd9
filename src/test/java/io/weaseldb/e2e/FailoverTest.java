package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.fakes3.FakeS3Config;
import io.weaseldb.fakes3.FakeS3Server;
import io.weaseldb.testing.LogAudit;
import io.weaseldb.testing.TestServer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Two servers on one bucket: standby answers, takeover after the leader stops, fencing of a live leader. */
@Timeout(120)
class FailoverTest {
    @TempDir
    Path dir;
    FakeS3Server s3;

    @BeforeEach
    void startS3() throws Exception {
        s3 = FakeS3Server.start(FakeS3Config.builder().dataDir(dir).fsync(false).credentials("k", "secret-key").build());
    }

    @AfterEach
    void stopS3() {
        s3.close();
    }

    String config(long heartbeatMs, long timeoutMs) {
        return "[s3]\nendpoint = \"" + s3.endpoint() + "\"\naccess_key_id = \"k\"\nsecret_access_key = \"secret-key\"\n"
                + "create_bucket = true\n[persistence]\nleader_heartbeat_ms = " + heartbeatMs
                + "\nleader_timeout_ms = " + timeoutMs + "\n";
    }

    /** A client that starts anywhere and follows the 503 leader_url hint. */
    static TestServer.Response commitFollowingHints(Map<String, TestServer> byUrl, TestServer start, String body)
            throws Exception {
        TestServer target = start;
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            TestServer.Response r;
            try {
                r = target.commit(body);
            } catch (java.io.IOException gone) {
                assertTrue(System.nanoTime() < deadline, "no leader found: " + gone);
                target = start; // the hinted leader is gone: ask again where we started
                continue;
            }
            if (r.status() != 503) {
                return r;
            }
            assertTrue(System.nanoTime() < deadline, "no leader found: " + r.body());
            Object url = r.json() == null ? null : r.get("leader_url");
            if (url != null && byUrl.containsKey(url)) {
                target = byUrl.get(url);
            }
        }
    }

    @Test
    void theStandbyNamesTheLeaderAndTakesOverWhenItStops() throws Exception {
        TestServer a = TestServer.start(dir.resolve("a"), config(200, 1_000));
        TestServer b = TestServer.start(dir.resolve("b"), config(200, 1_000));
        Map<Long, String> acked = new HashMap<>();
        try {
            assertTrue(a.server().leading());
            assertTrue(!b.server().leading(), "the second server stands by behind a live leader");
            var refused = b.commit("{\"operations\":[" + write("k", "v") + "]}");
            assertEquals(503, refused.status());
            assertEquals("not_committed", refused.get("outcome"));
            assertEquals("http://127.0.0.1:" + a.port(), refused.get("leader_url"));
            assertEquals(a.server().term().leaderId(), refused.get("leader_id"));
            assertEquals(503, b.get("/ok").status());

            Map<String, TestServer> byUrl = Map.of("http://127.0.0.1:" + a.port(), a, "http://127.0.0.1:" + b.port(), b);
            for (int i = 0; i < 20; i++) {
                var r = commitFollowingHints(byUrl, b, "{\"operations\":[" + write("before-" + i, "v") + "]}");
                assertEquals(200, r.status(), r.body());
                acked.put(r.version(), (String) r.get("request_id"));
            }
            long lastAcked = acked.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
            var standbyVersion = b.get("/v1/version");
            assertTrue(standbyVersion.version() >= lastAcked, "a standby reads /v1/version from the log: "
                    + standbyVersion.body() + " after acknowledged " + lastAcked);
            assertEquals(a.server().term().leaderId(), standbyVersion.get("leader_id"));
            var sub = b.get("/v1/subscribe");
            assertEquals(503, sub.status());
            assertEquals("http://127.0.0.1:" + a.port(), sub.get("leader_url"), "every standby 503 names the leader");

            String oldLeader = a.server().term().leaderId();
            long stopped = System.nanoTime();
            a.close(); // the leader goes away
            for (int i = 0; i < 20; i++) {
                var r = commitFollowingHints(byUrl, b, "{\"operations\":[" + write("after-" + i, "v") + "]}");
                assertEquals(200, r.status(), r.body());
                acked.put(r.version(), (String) r.get("request_id"));
            }
            long failoverMs = (System.nanoTime() - stopped) / 1_000_000;
            assertTrue(b.server().leading());
            assertNotEquals(oldLeader, b.server().term().leaderId());
            assertTrue(failoverMs < 10_000, "took over in " + failoverMs + " ms");
        } finally {
            a.close();
            b.close();
        }
        s3.close();
        LogAudit.Result log = LogAudit.read(dir);
        for (var e : acked.entrySet()) {
            assertEquals(e.getValue(), log.transactions().get(e.getKey()).requestId(), "acknowledged " + e.getKey());
        }
    }

    /**
     * Audit 38: when storage serves reads but refuses writes, the leader writes nothing and a
     * standby finds the log silent; each takeover attempt lists the log and rebuilds the
     * request-id index, and failed ones were made again at every poll for the whole outage.
     * They back off now; once writes work again, the log is served.
     */
    @Test
    void aStandbyWhoseTakeoverStorageRefusesBacksOffAndServiceResumesAfterwards() throws Exception {
        TestServer a = TestServer.start(dir.resolve("a"), config(200, 1_000));
        TestServer b = TestServer.start(dir.resolve("b"), config(200, 1_000));
        try {
            for (int i = 0; i < 8; i++) {
                assertEquals(200, a.commit("{\"operations\":[" + write("k" + i, "v") + "]}").status());
            }
            Thread.sleep(400); // b has seen them
            var logReads = s3.faults().add("op=GET,prefix=log/,kind=latency,ms=0"); // counts them
            s3.faults().add("op=PUT,prefix=log/,kind=error,status=500,code=InternalError");
            Thread.sleep(6_000);
            long reads = s3.faults().firedCount(logReads);
            // Each attempt reads the 8 commits' objects: 5 s of attempts at every 100 ms poll made
            // ~45 (~360 reads); backing off (200, 400, 800 ms, then one per leader_timeout_ms) ~7.
            assertTrue(reads > 0, "the standby did try to take the silent log over");
            assertTrue(reads < 150, "takeover attempts back off: " + reads + " log reads in 6 s");
            s3.faults().clear();
            Map<String, TestServer> byUrl = Map.of("http://127.0.0.1:" + a.port(), a, "http://127.0.0.1:" + b.port(), b);
            var r = commitFollowingHints(byUrl, b, "{\"operations\":[" + write("after", "v") + "]}");
            assertEquals(200, r.status(), r.body());
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void aLeaderThatLostTheLogNeverAcknowledgesAndStepsDown() throws Exception {
        // a writes no heartbeats, so b (impatient) takes the log over while a is still alive
        TestServer a = TestServer.start(dir.resolve("a"), config(0, 60_000));
        var before = a.commit("{\"operations\":[" + write("k", "1") + "]}");
        assertEquals(200, before.status());
        TestServer b = TestServer.start(dir.resolve("b"), config(100, 300));
        try {
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!b.server().leading()) {
                assertTrue(System.nanoTime() < deadline, "b never took over");
                Thread.onSpinWait();
            }
            String id = "lost-commit-request-id-0001";
            var lost = a.commit("{\"request_id\":\"" + id + "\",\"operations\":[" + write("k", "2") + "]}");
            assertEquals(503, lost.status(), lost.body());
            assertEquals("unknown", lost.get("outcome"), "a deposed leader cannot say more");
            var status = b.get("/v1/status?request_id=" + id + "&min_version=" + before.version());
            assertEquals("not_committed", status.get("status"), status.body());
            while (a.server().leading() || a.get("/ok").status() == 200) {
                assertTrue(System.nanoTime() < deadline, "a kept leading");
                Thread.onSpinWait();
            }
            assertEquals(503, a.get("/ok").status());
            var moved = a.commit("{\"operations\":[" + write("k", "3") + "]}");
            assertEquals(503, moved.status());
            assertEquals("not_committed", moved.get("outcome"));
        } finally {
            a.close();
            b.close();
        }
        s3.close();
        LogAudit.Result log = LogAudit.read(dir);
        assertEquals(before.get("request_id"), log.transactions().get(before.version()).requestId());
        assertTrue(!log.versionByRequestId().containsKey("lost-commit-request-id-0001"));
    }

    /**
     * GET /v1/version promises a version at least as new as every commit acknowledged before the
     * request. A leader replaced without knowing it (idle, no heartbeats, so it writes nothing and
     * finds out nothing) must not answer with its own stale version: past its lease it looks at
     * the log first, finds the new term, and refuses. Its health check refuses the same way.
     */
    @Test
    void aReplacedLeaderThatDoesNotKnowItDoesNotAnswerAStaleVersion() throws Exception {
        TestServer a = TestServer.start(dir.resolve("a"), config(0, 400));
        var first = a.commit("{\"operations\":[" + write("k", "1") + "]}");
        assertEquals(200, first.status());
        assertEquals(200, a.get("/v1/version").status(), "a leader within its lease answers");
        TestServer b = TestServer.start(dir.resolve("b"), config(100, 400));
        try {
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!b.server().leading()) {
                assertTrue(System.nanoTime() < deadline, "b never took over");
                Thread.onSpinWait();
            }
            long acked = -1;
            for (int i = 0; i < 3; i++) {
                var r = b.commit("{\"operations\":[" + write("k", "b" + i) + "]}");
                assertEquals(200, r.status(), r.body());
                acked = r.version();
            }
            assertTrue(a.server().leading(), "a has not noticed yet: it wrote nothing since");
            var v = a.get("/v1/version");
            if (v.status() == 200) {
                assertTrue(v.version() >= acked, "a stale version from a replaced leader: " + v.body()
                        + " after b acknowledged " + acked);
            } else {
                assertEquals(503, v.status(), v.body());
                assertTrue(v.body().contains("no longer leads"), v.body());
            }
            assertEquals(503, a.get("/ok").status(), "a health check must not send clients to a replaced leader");
            var fromB = b.get("/v1/version");
            assertEquals(200, fromB.status());
            assertTrue(fromB.version() >= acked, fromB.body());
        } finally {
            a.close();
            b.close();
        }
    }

    /**
     * The newest object listed can be an older term's orphan (a write that landed past a hole)
     * sitting above the newest term's objects. A standby that looked when only the orphan was
     * new must not take the log over from a leader that claimed and wrote below it since: that
     * leader's lease counts from its own writes. And once that leader is gone, the standby must
     * still take over (the orphan's version is below the log's end).
     */
    @Test
    void aStandbyThatSawAnOrphanDoesNotClaimOverALeaderThatWroteSinceAndStillTakesOverWhenItIsGone()
            throws Exception {
        var manual = new io.weaseldb.testing.ManualClock();
        long ts = manual.epochMillis();
        String a = "00000000-0000-4000-8000-00000000000a";
        String b = "00000000-0000-4000-8000-00000000000b";
        var layout = new io.weaseldb.log.LogLayout("");
        try (var store = openStore()) {
            // term 1 (leader a): versions 0..11 acknowledged; its batch 12..14 never landed, 15 did
            put(store, layout, io.weaseldb.log.BatchHeader.termStart(1, a, 0, -1, -1, ts));
            put(store, layout, empty(1, a, 1, 11, 0, ts));
            put(store, layout, empty(1, a, 15, 15, 14, ts));

            int timeoutMs = 1_000;
            TestServer standby = TestServer.start(dir.resolve("s"), config(0, timeoutMs), manual);
            try {
                assertTrue(!standby.server().leading(), "a standby behind a log written within the timeout");
                // leader b claims version 12 (term 2) and acknowledges 13, below the orphan
                put(store, layout, io.weaseldb.log.BatchHeader.termStart(2, b, 12, 11, -1, ts));
                put(store, layout, empty(2, b, 13, 13, 12, ts));
                manual.advanceMillis(timeoutMs + 1); // past the timeout since the standby's look

                long deadline = System.nanoTime() + 20_000_000_000L;
                while (true) {
                    assertTrue(!standby.server().leading(), "took the log over from term 2, which wrote after the"
                            + " standby's look; its lease still runs");
                    var r = standby.commit("{\"operations\":[" + write("k", "v") + "]}");
                    assertEquals(503, r.status(), r.body());
                    if (r.body().contains("(term 2)")) {
                        break; // it looked again, saw term 2, and waits another leader_timeout_ms
                    }
                    assertTrue(System.nanoTime() < deadline, "the standby never looked again: " + r.body());
                    Thread.sleep(20);
                }

                manual.advanceMillis(timeoutMs + 1); // term 2 wrote nothing since: it is gone
                while (!standby.server().leading()) {
                    assertTrue(System.nanoTime() < deadline, "never took over from a dead leader");
                    Thread.sleep(20);
                }
                assertEquals(3, standby.server().term().term());
                assertEquals(14, standby.server().term().startVersion(), "right after term 2's objects");
            } finally {
                standby.close();
            }
        }
    }

    /**
     * A standby's {@code /v1/version} is the end of the valid log, not its newest object: a
     * dead leader's write past a hole (an orphan) never committed, and a client reading at its
     * version would get 400 (newer than the latest committed) from the next leader.
     */
    @Test
    void aStandbyNeverAnswersAVersionThatDidNotCommit() throws Exception {
        var manual = new io.weaseldb.testing.ManualClock();
        long ts = manual.epochMillis();
        String a = "00000000-0000-4000-8000-00000000000a";
        String b = "00000000-0000-4000-8000-00000000000b";
        var layout = new io.weaseldb.log.LogLayout("");
        try (var store = openStore()) {
            // term 1 (leader a): 0..11 acknowledged; its batch 12..14 never landed, 15..16 did
            put(store, layout, io.weaseldb.log.BatchHeader.termStart(1, a, 0, -1, -1, ts));
            put(store, layout, empty(1, a, 1, 11, 0, ts));
            put(store, layout, empty(1, a, 15, 16, 14, ts));

            TestServer standby = TestServer.start(dir.resolve("s"), config(0, 60_000), manual);
            try {
                assertTrue(!standby.server().leading(), "a standby behind a log written within the timeout");
                var v = standby.get("/v1/version");
                assertEquals(200, v.status(), v.body());
                assertEquals(11, v.version(), "16 is past a hole: it never committed");
                assertEquals(a, v.get("leader_id"));

                // leader b claims 12 (term 2) and commits 13: the orphan now sits past term 2's end
                put(store, layout, io.weaseldb.log.BatchHeader.termStart(2, b, 12, 11, -1, ts));
                put(store, layout, empty(2, b, 13, 13, 12, ts));
                v = standby.get("/v1/version");
                assertEquals(13, v.version(), "term 2's end, not the orphan above it");
                assertEquals(b, v.get("leader_id"));

                // b's batch 19..20 lands while 14..18 is still in flight: nothing past 13 committed yet
                put(store, layout, empty(2, b, 19, 20, 18, ts));
                assertEquals(13, standby.get("/v1/version").version(), "19..20 follows a batch not stored yet");
                // 14..18 lands (over the orphan's versions): both batches are acknowledged now
                put(store, layout, empty(2, b, 14, 18, 13, ts));
                assertEquals(20, standby.get("/v1/version").version());
            } finally {
                standby.close();
            }
        }
    }

    /**
     * The log's last leader ran with more writes in flight (max_in_flight_puts = 128, a window of
     * 512 objects) than this server (8: 64 objects), and died with a hole 100 objects back. Its
     * leader record says so: the standby answers /v1/version, and the next leader claims, from
     * before that hole, not past it (which would leave versions 61 missing from the log).
     */
    @Test
    void aServerRecoversOverTheWindowOfALeaderWithMoreWritesInFlight() throws Exception {
        var manual = new io.weaseldb.testing.ManualClock();
        long ts = manual.epochMillis();
        String a = "00000000-0000-4000-8000-00000000000a";
        var layout = new io.weaseldb.log.LogLayout("");
        try (var store = openStore()) {
            putRecordOfALeaderWith128InFlight(store, layout, a, ts);
            putLogWithAHoleAt61(store, layout, a, ts);
            TestServer standby = TestServer.start(dir.resolve("s"), config(0, 60_000), manual);
            try {
                assertTrue(!standby.server().leading());
                assertEquals(60, standby.get("/v1/version").version(), "161 is past a hole 100 objects back");
            } finally {
                standby.close();
            }
            manual.advanceMillis(120_000); // a's objects are two minutes old now: nobody leads
            TestServer c = TestServer.start(dir.resolve("c"), config(0, 1_000), manual);
            try {
                assertTrue(c.server().leading());
                assertEquals(61, c.server().term().startVersion(), "the new term starts at the hole");
                assertEquals(200, c.commit("{\"operations\":[" + write("k", "v") + "]}").status());
            } finally {
                c.close();
            }
        }
    }

    /**
     * The same log as above, but the leader record cannot be read for a moment (storage answers
     * 503 to GETs under leader/). Taking that for "no record" would claim with this server's own,
     * narrower window: 62..161 (never acknowledged) taken for the log, 61 missing for good, the new
     * term at 162. The claim waits for storage instead (found by review).
     */
    @Test
    void aLeaderRecordThatCannotBeReadForAMomentDoesNotNarrowTheClaimsWindow() throws Exception {
        var manual = new io.weaseldb.testing.ManualClock();
        long ts = manual.epochMillis();
        String a = "00000000-0000-4000-8000-00000000000a";
        var layout = new io.weaseldb.log.LogLayout("");
        try (var store = openStore()) {
            putRecordOfALeaderWith128InFlight(store, layout, a, ts);
            putLogWithAHoleAt61(store, layout, a, ts);
            manual.advanceMillis(120_000); // a's objects are two minutes old now: nobody leads
            s3.faults().add("op=GET,prefix=leader/,kind=error,status=503,code=SlowDown,count=40"); // a brief hiccup
            TestServer c = TestServer.start(dir.resolve("c"), config(0, 1_000), manual);
            try {
                assertTrue(c.server().leading());
                assertEquals(61, c.server().term().startVersion(),
                        "the new term starts at the hole, not past versions that were never acknowledged");
            } finally {
                c.close();
                s3.faults().clear();
            }
        }
    }

    /**
     * A leader record that appears after a standby's look (a new leader writes it right after its
     * claim): the end that look found with the standby's own window is not trusted from then on;
     * the next look scans from scratch with the wider window.
     */
    @Test
    void aStandbyScansAgainFromScratchOnceTheLeaderRecordAppears() throws Exception {
        var manual = new io.weaseldb.testing.ManualClock();
        long ts = manual.epochMillis();
        String a = "00000000-0000-4000-8000-00000000000a";
        var layout = new io.weaseldb.log.LogLayout("");
        try (var store = openStore()) {
            putLogWithAHoleAt61(store, layout, a, ts);
            TestServer standby = TestServer.start(dir.resolve("s"), config(0, 60_000), manual);
            try {
                assertEquals(161, standby.get("/v1/version").version(),
                        "no record yet: the standby's own window cannot see the hole 100 objects back");
                putRecordOfALeaderWith128InFlight(store, layout, a, ts);
                assertEquals(60, standby.get("/v1/version").version(), "scanned again with term 1's leader's window");
            } finally {
                standby.close();
            }
        }
    }

    /**
     * A standby that cannot read the leader record for a moment must not answer /v1/version from
     * its own, narrower window (161: past a hole, never acknowledged), nor keep answering from an
     * end a narrower look found once storage answers again (found by review: observe() read the
     * record again only when a newer object appeared, which a dead leader never writes, and later
     * looks advanced from that end).
     */
    @Test
    void aStandbyThatMissedTheLeaderRecordOnceDoesNotKeepAnsweringPastTheHole() throws Exception {
        var manual = new io.weaseldb.testing.ManualClock();
        long ts = manual.epochMillis();
        String a = "00000000-0000-4000-8000-00000000000a";
        var layout = new io.weaseldb.log.LogLayout("");
        try (var store = openStore()) {
            putRecordOfALeaderWith128InFlight(store, layout, a, ts);
            putLogWithAHoleAt61(store, layout, a, ts);
            s3.faults().add("op=GET,prefix=leader/,kind=error,status=503,code=SlowDown,count=20"); // a brief hiccup
            TestServer standby = TestServer.start(dir.resolve("s"), config(0, 60_000), manual);
            try {
                assertTrue(!standby.server().leading());
                var during = standby.get("/v1/version");
                assertTrue(during.status() != 200 || during.version() == 60,
                        "while the record cannot be read: no answer rather than one past the hole: " + during.body());
                s3.faults().clear();
                Thread.sleep(1_000); // several leadership polls with storage answering again
                assertEquals(60, standby.get("/v1/version").version(),
                        "161 is past a hole (the first answer, while the record could not be read: " + during.body() + ")");
            } finally {
                standby.close();
                s3.faults().clear();
            }
        }
    }

    /**
     * A new leader deletes an older term's orphan that sits inside the log's versions: no term
     * writes there again, and once it is older than a later recovery's windows nothing would
     * recognise it. An orphan past the log's end stays (the new term replaces it where it needs
     * its name).
     */
    @Test
    void aNewLeaderDeletesOrphansInsideTheLogAndLeavesTheRest() throws Exception {
        var manual = new io.weaseldb.testing.ManualClock();
        long ts = manual.epochMillis() - 60_000; // written a minute ago: nobody leads
        String a = "00000000-0000-4000-8000-00000000000a";
        String b = "00000000-0000-4000-8000-00000000000b";
        var layout = new io.weaseldb.log.LogLayout("");
        try (var store = openStore()) {
            put(store, layout, io.weaseldb.log.BatchHeader.termStart(1, a, 0, -1, -1, ts));
            put(store, layout, empty(1, a, 1, 11, 0, ts));
            put(store, layout, io.weaseldb.log.BatchHeader.termStart(2, b, 12, 11, -1, ts));
            put(store, layout, empty(2, b, 13, 20, 12, ts));
            put(store, layout, empty(1, a, 15, 16, 14, ts)); // a's write that landed after b's claim, inside 13..20
            put(store, layout, empty(2, b, 23, 23, 22, ts)); // b's, past its hole at 21..22: past the end

            TestServer c = TestServer.start(dir.resolve("c"), config(0, 1_000), manual);
            try {
                assertTrue(c.server().leading());
                assertEquals(21, c.server().term().startVersion());
                awaitDeleted(layout.objectKey(15), "the orphan inside 13..20");
                assertTrue(stored(layout.objectKey(23)), "past the end: replaced only if the new term needs its name");
                assertTrue(stored(layout.objectKey(13)), "the log stays");
                assertEquals(200, c.commit("{\"operations\":[" + write("k", "v") + "]}").status());
            } finally {
                c.close();
            }
        }
    }

    /**
     * A leader that was replaced while paused can land writes inside the new term's versions after
     * its recovery: the new leader's orphan sweeps (RetentionManager.sweepOrphansFrom) find and
     * delete them, so no later recovery takes them for part of the log.
     */
    @Test
    void aLeaderSweepsAwayOlderTermsWritesThatLandInsideItsVersions() throws Exception {
        var layout = new io.weaseldb.log.LogLayout("");
        TestServer c = null;
        try (var store = openStore()) {
            String a = "00000000-0000-4000-8000-00000000000a";
            put(store, layout, io.weaseldb.log.BatchHeader.termStart(1, a, 0, -1, -1, System.currentTimeMillis() - 60_000));
            s3.faults().add("op=PUT,prefix=log/,kind=latency,min_ms=150,max_ms=150"); // commits pile up into batches
            c = TestServer.start(dir.resolve("c"), config(0, 300));
            TestServer leader = c;
            assertTrue(c.server().leading());
            assertEquals(2, c.server().term().term());
            long deadline = System.nanoTime() + 30_000_000_000L;
            io.weaseldb.log.BatchHeader batch = null;
            while (batch == null) {
                assertTrue(System.nanoTime() < deadline, "never saw a batch of more than two versions");
                java.util.List<java.util.concurrent.CompletableFuture<TestServer.Response>> commits = new java.util.ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    commits.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                        try {
                            return leader.commit("{\"operations\":[" + write("k", "v") + "]}");
                        } catch (Exception e) {
                            throw new java.util.concurrent.CompletionException(e);
                        }
                    }));
                }
                for (var f : commits) {
                    assertEquals(200, f.get().status());
                }
                for (var e : store.list(layout.logPrefix(), null, null, 1000).get().entries()) {
                    var h = io.weaseldb.log.BatchCodec.decodeHeader(e.key(),
                            store.getRange(e.key(), 0, io.weaseldb.log.BatchCodec.MAX_HEADER_BYTES).get());
                    if (h.lastVersion() >= h.firstVersion() + 2) {
                        batch = h;
                    }
                }
            }
            s3.faults().clear();
            // a deposed leader of an older term lands a write inside that batch's versions
            String orphan = layout.objectKey(batch.firstVersion() + 1);
            put(store, layout, empty(1, a, batch.firstVersion() + 1, batch.lastVersion(), batch.firstVersion(), 0));
            while (stored(orphan)) {
                assertTrue(System.nanoTime() < deadline, "the orphan inside this term's versions was never deleted");
                Thread.sleep(50);
            }
            assertTrue(stored(layout.objectKey(batch.firstVersion())), "the term's own batch stays");
        } finally {
            if (c != null) {
                c.close();
            }
        }
    }

    /**
     * A deposed leader's write in flight that landed in a name a truncation had freed, further
     * back than recovery reads headers: without the truncation floor the new leader took it for
     * the log, indexed it, and its request id answered {@code /v1/status} as committed at 6 (it
     * never was). With the floor it is no part of the log, its id is unknown, and it is deleted.
     */
    @Test
    void aStrayBelowTheTruncationFloorIsNoPartOfTheLogHoweverFarBack() throws Exception {
        var manual = new io.weaseldb.testing.ManualClock();
        long ts = manual.epochMillis() - 60_000; // written a minute ago: nobody leads
        String a = "00000000-0000-4000-8000-00000000000a";
        String b = "00000000-0000-4000-8000-00000000000b";
        var layout = new io.weaseldb.log.LogLayout("");
        try (var store = openStore()) {
            // term 2 (leader b) claimed at 5 and truncated below 10: the floor, then 10..209
            assertEquals(null, store.put(layout.floorKey(10), "{}".getBytes()).get(10, java.util.concurrent.TimeUnit.SECONDS));
            put(store, layout, empty(2, b, 10, 10, 9, ts));
            for (long v = 11; v <= 209; v++) {
                put(store, layout, empty(2, b, v, v, v - 1, ts));
            }
            // term 1's leader, paused past b's claim and truncation, lands its commit at the freed name 6
            var stray = new io.weaseldb.log.BatchCodec.Encoder();
            String strayId = "stray-write-of-a-deposed-leader-0001";
            stray.append(new io.weaseldb.txn.Transaction(strayId, 6, 4, ts, java.util.List.of()));
            assertEquals(io.weaseldb.s3.ObjectStore.PutResult.CREATED, store.putIfAbsent(layout.objectKey(6),
                    stray.seal(new io.weaseldb.log.BatchHeader(io.weaseldb.log.BatchHeader.DATA, 1, a, 6, 6, 5, 4, 6, ts,
                            1, 0))).get(10, java.util.concurrent.TimeUnit.SECONDS));

            TestServer c = TestServer.start(dir.resolve("c"), config(0, 1_000), manual);
            try {
                assertTrue(c.server().leading());
                assertEquals(210, c.server().term().startVersion());
                var status = c.get("/v1/status?request_id=" + strayId);
                assertEquals(410, status.status(), "history before 10 is gone, so the outcome cannot be known, and"
                        + " the stray is not taken for a commit at 6: " + status.body());
                status = c.get("/v1/status?request_id=" + strayId + "&min_version=10");
                assertEquals("not_committed", status.get("status"), "the stray never committed: " + status.body());
                awaitDeleted(layout.objectKey(6), "the stray below the floor");
                assertTrue(stored(layout.objectKey(10)), "the log stays");
                assertEquals(200, c.commit("{\"operations\":[" + write("k", "v") + "]}").status());
            } finally {
                c.close();
            }
        }
    }

    /**
     * Audit 22: a server restarting behind its own last term (the log written within the timeout,
     * the leader record naming this server's address) answered 503 with leader_url pointing at
     * itself, so clients following the hint looped back to it. It names no leader to follow.
     */
    @Test
    void aServerBehindItsOwnLastTermSendsNoClientToItself() throws Exception {
        var manual = new io.weaseldb.testing.ManualClock();
        String a = "00000000-0000-4000-8000-00000000000a";
        String self = "http://weaseldb-1.test:8080";
        var layout = new io.weaseldb.log.LogLayout("");
        try (var store = openStore()) {
            put(store, layout, io.weaseldb.log.BatchHeader.termStart(1, a, 0, -1, -1, manual.epochMillis()));
            assertEquals(io.weaseldb.s3.ObjectStore.PutResult.CREATED, store.putIfAbsent(layout.leaderKey(1),
                    new io.weaseldb.log.LeaderRecord(a, 1, self, 0, manual.epochMillis(), 4).encode())
                    .get(10, java.util.concurrent.TimeUnit.SECONDS));
            TestServer s = TestServer.start(dir.resolve("s"),
                    "[server]\nadvertise_url = \"" + self + "\"\n" + config(0, 60_000), manual);
            try {
                assertTrue(!s.server().leading(), "behind a term written within the timeout");
                var r = s.commit("{\"operations\":[" + write("k", "v") + "]}");
                assertEquals(503, r.status(), r.body());
                assertEquals(null, r.get("leader_url"), "no hint back to this server: " + r.body());
                assertTrue(r.body().contains("starting up"), r.body());
            } finally {
                s.close();
            }
        }
    }

    /** A term that fails to start (here: its retention policies cannot be read) leaves no threads behind. */
    @Test
    void aTermThatFailsToStartLeavesNoThreadsBehind() throws Exception {
        long before = termThreads();
        s3.faults().add("op=LIST,prefix=retention/,kind=error,status=403,code=AccessDenied");
        assertThrows(Exception.class, () -> TestServer.start(dir.resolve("c"), config(0, 1_000)));
        assertEquals(before, termThreads(), "the failed term's stage and retention threads still run");
    }

    static long termThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .filter(t -> t.getName().equals("weaseldb-sequencer") || t.getName().equals("weaseldb-persister")
                        || t.getName().startsWith("weaseldb-retention"))
                .count();
    }

    /** Waits up to 10 s for the server to delete {@code key}. */
    void awaitDeleted(String key, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (stored(key)) {
            assertTrue(System.nanoTime() < deadline, what + " was never deleted");
            Thread.sleep(20);
        }
    }

    boolean stored(String key) {
        return s3.backend().head("weaseldb", key) instanceof io.weaseldb.fakes3.ObjectBackend.HeadResult.Found;
    }

    /** Term 1 of leader {@code a}: versions 0..161, one object each, but 61 never landed (62..161 were in flight past it). */
    static void putLogWithAHoleAt61(io.weaseldb.s3.ObjectStore store, io.weaseldb.log.LogLayout layout, String a, long ts)
            throws Exception {
        put(store, layout, io.weaseldb.log.BatchHeader.termStart(1, a, 0, -1, -1, ts));
        for (long v = 1; v <= 161; v++) {
            if (v != 61) {
                put(store, layout, empty(1, a, v, v, v - 1, ts));
            }
        }
    }

    /** Term 1's leader record: leader {@code a} ran with max_in_flight_puts = 128 (a recovery window of 512). */
    static void putRecordOfALeaderWith128InFlight(io.weaseldb.s3.ObjectStore store, io.weaseldb.log.LogLayout layout,
                                                  String a, long ts) throws Exception {
        assertEquals(io.weaseldb.s3.ObjectStore.PutResult.CREATED, store.putIfAbsent(layout.leaderKey(1),
                new io.weaseldb.log.LeaderRecord(a, 1, "http://a", 0, ts, 128).encode()).get(10, java.util.concurrent.TimeUnit.SECONDS));
    }

    /** A client of the test's fake S3 through the AWS SDK, its bucket created: to write log objects by hand. */
    io.weaseldb.s3.SdkObjectStore openStore() throws Exception {
        var store = new io.weaseldb.s3.SdkObjectStore(new io.weaseldb.s3.SdkObjectStore.Settings(
                java.net.URI.create(s3.endpoint().toString()), "us-east-1", "weaseldb", "k", "secret-key",
                java.time.Duration.ofSeconds(10), 8), new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
        store.ensureBucket(true).get(10, java.util.concurrent.TimeUnit.SECONDS);
        return store;
    }

    static io.weaseldb.log.BatchHeader empty(long term, String leader, long first, long last, long prev, long ts) {
        return new io.weaseldb.log.BatchHeader(io.weaseldb.log.BatchHeader.DATA, term, leader, first, last, prev, -1,
                -1, ts, 0, 0);
    }

    static void put(io.weaseldb.s3.ObjectStore store, io.weaseldb.log.LogLayout layout, io.weaseldb.log.BatchHeader h)
            throws Exception {
        assertEquals(io.weaseldb.s3.ObjectStore.PutResult.CREATED, store.putIfAbsent(layout.objectKey(h.firstVersion()),
                io.weaseldb.log.BatchCodec.encodeEmpty(h)).get(10, java.util.concurrent.TimeUnit.SECONDS));
    }

    /**
     * Once a batch has outlived the retry budget, {@code /ok} says at once that storage is not
     * taking log writes, also past the lease: a look at the log would only wait on the same
     * storage, and the load balancer would see the probe's 5 s timeout instead of the cause.
     */
    @Test
    void okPastTheRetryBudgetSaysStorageIsNotTakingWrites() throws Exception {
        TestServer a = TestServer.start(dir.resolve("a"), config(0, 400)
                + "retry_budget_ms = 300\nretry_initial_backoff_ms = 20\nretry_max_backoff_ms = 100\n");
        try {
            assertEquals(200, a.commit("{\"operations\":[" + write("k", "1") + "]}").status());
            s3.faults().add("op=ANY,kind=timeout"); // storage hangs: nothing answers
            var stuck = a.commit("{\"operations\":[" + write("k", "2") + "]}");
            assertEquals(503, stuck.status(), stuck.body());
            assertEquals("unknown", stuck.get("outcome"), stuck.body());
            var ok = a.get("/ok"); // past the lease too: 300 ms budget > 3/4 of 400 ms
            assertEquals(503, ok.status(), ok.body());
            assertEquals("storage is not accepting log writes", ok.get("message"), ok.body());
        } finally {
            s3.faults().clear();
            a.close();
        }
    }

    /**
     * A leader past its lease whose look at the log fails (storage down) says so: it cannot tell
     * whether it still leads, which is not the same as "another server has taken it over".
     */
    @Test
    void aLeaderPastItsLeaseThatCannotReadTheLogSaysSo() throws Exception {
        TestServer a = TestServer.start(dir.resolve("a"), config(0, 400));
        try {
            assertEquals(200, a.commit("{\"operations\":[" + write("k", "1") + "]}").status());
            s3.close(); // storage goes away
            Thread.sleep(400); // past the lease (3/4 of 400 ms after the last stored object)
            var v = a.get("/v1/version");
            assertEquals(503, v.status(), v.body());
            assertTrue(v.body().contains("could not check that this server still leads"), v.body());
            var ok = a.get("/ok");
            assertEquals(503, ok.status(), ok.body());
        } finally {
            a.close();
        }
    }
}
