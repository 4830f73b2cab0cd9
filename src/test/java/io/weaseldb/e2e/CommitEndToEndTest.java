package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.pointRead;
import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.LeakWatch;
import io.weaseldb.testing.RawHttp;
import io.weaseldb.testing.SseClient;
import io.weaseldb.testing.TestServer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The commit path over real TCP against a real server on the embedded fake S3, reached both
 * ways: in-process (the default) and over HTTP through the AWS SDK, as with any S3 endpoint.
 */
@Timeout(120)
class CommitEndToEndTest {
    @TempDir
    Path dir;

    static String transport(String t) {
        return "[s3]\nfake_transport = \"" + t + "\"\n";
    }

    @ParameterizedTest(name = "fake_transport = {0}")
    @ValueSource(strings = {"direct", "http"})
    void commitsConflictsAndVersions(String t) throws Exception {
        try (TestServer s = TestServer.start(dir, transport(t))) {
            var v0 = s.get("/v1/version");
            assertEquals(200, v0.status());
            long start = v0.version();
            var c = s.commit("{\"operations\":[" + write("hello", "world") + "]}");
            assertEquals(200, c.status(), c.body());
            assertEquals("committed", c.get("status"));
            long v = c.version();
            assertEquals(start + 1, v);
            assertEquals(36, ((String) c.get("request_id")).length());
            assertTrue(s.get("/v1/version").version() >= v, "a committed version at least as new as every acknowledged commit");

            var stale = s.commit("{\"read_version\":" + (v - 1) + ",\"preconditions\":[" + pointRead("hello", v - 1) + "],"
                    + "\"operations\":[" + write("hello", "again") + "]}");
            assertEquals(409, stale.status(), stale.body());
            assertEquals("conflict", stale.get("error"));
            assertEquals("conflict", stale.get("status"));
            assertEquals(List.of(0L), stale.get("conflicts"));
            assertTrue(stale.version() >= v);

            var fresh = s.commit("{\"preconditions\":[" + pointRead("hello", v) + "]," + "\"operations\":[" + write("hello", "x") + "]}");
            assertEquals(200, fresh.status(), fresh.body());

            var wrongLeader = s.commit("{\"leader_id\":\"nobody\"}");
            assertEquals(409, wrongLeader.status());
            assertEquals("leader_changed", wrongLeader.get("status"));
            assertEquals(c.get("leader_id"), wrongLeader.get("leader_id"));

            var ok = s.get("/ok");
            assertEquals(200, ok.status());
            assertEquals("ok", ok.get("status"));
        }
    }

    @Test
    void badInputGetsTheDocumentedErrorAndTheServerKeepsServing() throws Exception {
        try (LeakWatch leaks = new LeakWatch(); TestServer s = TestServer.start(dir)) {
            String[][] cases = {
                {"{\"operations\": [", "400"},
                {"not json", "400"},
                {"{\"operations\":[{\"type\":\"write\",\"key\":5,\"value\":\"YQ==\"}]}", "400"},
                {"{\"operations\":[{\"type\":\"write\",\"key\":\"@@@@\",\"value\":\"YQ==\"}]}", "400"},
                {"{\"operations\":[{\"type\":\"range_delete\",\"begin\":\"Yg==\",\"end\":\"YQ==\"}]}", "400"},
                {"{\"operations\":[{\"type\":\"upsert\",\"key\":\"YQ==\"}]}", "400"},
                {"{\"read_version\":123456789,\"preconditions\":[{\"type\":\"point_read\",\"key\":\"YQ==\"}]}", "400"},
                {"{\"request_id\":\"too-short\"}", "400"},
            };
            for (String[] c : cases) {
                var r = s.commit(c[0]);
                assertEquals(Integer.parseInt(c[1]), r.status(), c[0] + " -> " + r.body());
                assertEquals("bad_request", r.get("error"));
                assertTrue(((String) r.get("message")).length() > 10, r.body());
            }
            var big = s.commit("{\"operations\":[" + write("k", "x".repeat(2 << 20)) + "]}");
            assertEquals(413, big.status());
            assertEquals("content_too_large", big.get("error"));
            try (RawHttp raw = new RawHttp(s.port())) { // truncated body, then the client vanishes
                raw.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"operations\":[");
            }
            var after = s.commit("{\"operations\":[" + write("still", "works") + "]}");
            assertEquals(200, after.status());
            leaks.assertNoLeaks(() -> s.commit("{\"operations\":[" + write("more", "traffic") + "]}"));
        }
    }

    @ParameterizedTest(name = "fake_transport = {0}")
    @ValueSource(strings = {"direct", "http"})
    void aRestartKeepsEveryAcknowledgedVersionAndContinuesUnderANewLeader(String t) throws Exception {
        long last;
        String leader;
        TestServer s = TestServer.start(dir, transport(t));
        try {
            for (int i = 0; i < 5; i++) {
                s.commit("{\"operations\":[" + write("k" + i, "v" + i) + "]}");
            }
            var c = s.commit("{\"operations\":[" + write("last", "one") + "]}");
            last = c.version();
            leader = (String) c.get("leader_id");
            s = s.restart();
            var v = s.get("/v1/version");
            assertTrue(v.version() >= last);
            assertNotEquals(leader, v.get("leader_id"));
            var next = s.commit("{\"operations\":[" + write("after", "restart") + "]}");
            assertTrue(next.version() > last);
            try (SseClient sub = SseClient.open(s.port(), "/v1/subscribe?after=0")) {
                long prev = -1;
                int seen = 0;
                while (true) {
                    var e = sub.nextTransaction(10_000);
                    assertTrue(e != null && e != SseClient.END, "stream ended early after " + seen);
                    assertEquals(prev, (Long) e.json().get("prev_version"), "prev_version chain");
                    prev = e.version();
                    seen++;
                    if (e.version() == next.version()) {
                        break;
                    }
                }
                assertEquals(7, seen, "every acknowledged transaction, once, in order");
            }
        } finally {
            s.close();
        }
    }

    @Test
    void retriedCommitsAndStatusOverHttp() throws Exception {
        try (TestServer s = TestServer.start(dir)) {
            String id = "client-chosen-request-id-0001";
            var first = s.commit("{\"request_id\":\"" + id + "\",\"operations\":[" + write("a", "1") + "]}");
            var again = s.commit("{\"request_id\":\"" + id + "\",\"operations\":[" + write("a", "1") + "]}");
            assertEquals(200, again.status());
            assertEquals(first.version(), again.version());
            assertEquals(true, again.get("duplicate"));
            var st = s.get("/v1/status?request_id=" + id);
            assertEquals("committed", st.get("status"));
            assertEquals(first.version(), st.version());

            String other = "never-committed-request-id-02";
            var nc = s.get("/v1/status?request_id=" + other + "&min_version=0");
            assertEquals(200, nc.status(), nc.body());
            assertEquals("not_committed", nc.get("status"));
            var refused = s.commit("{\"request_id\":\"" + other + "\",\"operations\":[" + write("b", "2") + "]}");
            assertEquals(400, refused.status(), refused.body());
            assertEquals(400, s.get("/v1/status").status());
        }
    }
}
