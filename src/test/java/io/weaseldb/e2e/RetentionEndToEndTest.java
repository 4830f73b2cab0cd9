package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.SseClient;
import io.weaseldb.testing.TestServer;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Retention over HTTP: CRUD, truncation, the 410 horizon for subscribers, persistence across restart. */
@Timeout(120)
class RetentionEndToEndTest {
    @TempDir
    Path dir;

    static TestServer.Response put(TestServer s, String id, String body) throws Exception {
        return s.send(HttpRequest.newBuilder(s.uri("/v1/retention/" + id)).PUT(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    /** A request-id window of 2 versions, so that truncation is not held back by it. */
    static final String SHORT_ID_WINDOW = "[commit]\nrequest_id_retention_versions = 2\n";

    @Test
    void truncationHonoursPoliciesAndSubscribersSeeTheHorizon() throws Exception {
        TestServer s = TestServer.start(dir, SHORT_ID_WINDOW);
        try {
            long last = 0;
            for (int i = 0; i < 10; i++) {
                last = s.commit("{\"operations\":[" + write("k" + i, "v") + "]}").version();
            }
            long pin = last - 3;
            var created = put(s, "reader", "{\"version\":" + pin + "}");
            assertEquals(201, created.status(), created.body());
            assertEquals(pin, created.version());
            int deleted = s.server().retention().truncateNow().get();
            assertTrue(deleted > 0);
            var list = s.get("/v1/retention/");
            long oldest = (Long) list.get("oldest_version");
            assertTrue(oldest > 0 && oldest <= pin + 1, "oldest " + oldest + " pin " + pin);
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> policies = (List<Map<String, Object>>) list.get("policies");
            assertEquals("reader", policies.get(0).get("policy_id"));

            try (SseClient below = SseClient.open(s.port(), "/v1/subscribe?after=" + (oldest - 2))) {
                assertEquals(SseClient.END, below.next(5000));
                assertEquals(410, below.status());
                assertTrue(below.statusBody().contains("\"oldest_version\":" + oldest), below.statusBody());
            }
            try (SseClient at = SseClient.open(s.port(), "/v1/subscribe?after=" + pin)) {
                for (long v = pin + 1; v <= last; v++) {
                    assertEquals(v, at.nextTransaction(5000).version(), "the retained history, exactly");
                }
            }
            assertEquals(410, put(s, "late", "{\"version\":0}").status());

            s = s.restart();
            var again = s.get("/v1/retention/reader");
            assertEquals(200, again.status(), "policies survive restarts");
            assertEquals(pin, again.version());
            assertEquals(204, s.send(HttpRequest.newBuilder(s.uri("/v1/retention/reader")).DELETE().build()).status());
            assertEquals(404, s.get("/v1/retention/reader").status());
            assertEquals(400, put(s, "bad%20id!", "{\"version\":1}").status());
            assertEquals(400, put(s, "ok-id", "{\"version\":\"1\"}").status());
        } finally {
            s.close();
        }
    }

    /**
     * Truncation never deletes the log objects of request ids still in the window: a restart
     * rebuilds the window from them, so a commit retried after it is still a duplicate. (Before,
     * a policy let truncation delete them, and a retry after a restart committed a second time.)
     */
    @Test
    void aCommitRetriedAfterTruncationAndARestartIsStillADuplicate() throws Exception {
        TestServer s = TestServer.start(dir);
        try {
            String body = "{\"request_id\":\"retried-after-restart-0001\",\"operations\":[" + write("r", "1") + "]}";
            long original = s.commit(body).version();
            long last = original;
            for (int i = 0; i < 5; i++) {
                last = s.commit("{\"operations\":[" + write("k" + i, "v") + "]}").version();
            }
            assertEquals(201, put(s, "everything-below", "{\"version\":" + last + "}").status());
            assertEquals(0, s.server().retention().truncateNow().get(),
                    "every object holds ids inside the request-id window (1,000,000 versions, 24 h)");
            s = s.restart();
            var retried = s.commit(body);
            assertEquals(200, retried.status(), retried.body());
            assertEquals(original, retried.version(), retried.body());
            assertEquals(Boolean.TRUE, retried.get("duplicate"), retried.body());
        } finally {
            s.close();
        }
        // and with a window of 2 versions, the same policy does truncate
        TestServer t = TestServer.start(dir.resolve("short"), SHORT_ID_WINDOW);
        try {
            long last = 0;
            for (int i = 0; i < 6; i++) {
                last = t.commit("{\"operations\":[" + write("k" + i, "v") + "]}").version();
            }
            assertEquals(201, put(t, "everything-below", "{\"version\":" + last + "}").status());
            assertTrue(t.server().retention().truncateNow().get() > 0);
        } finally {
            t.close();
        }
    }

    /**
     * A retention body is aggregated before it is parsed: in hundreds of tiny chunks it arrives
     * whole (the aggregation copies each chunk once), and past 64 KiB it is 413.
     */
    @Test
    void aPolicyBodyInManyTinyChunksArrivesWholeAndAnOversizedOneIs413() throws Exception {
        TestServer s = TestServer.start(dir);
        try {
            long version = s.commit("{\"operations\":[" + write("k", "v") + "]}").version();
            String body = "{" + " ".repeat(600) + "\"version\": " + version + "}";
            try (io.weaseldb.testing.RawHttp c = new io.weaseldb.testing.RawHttp(s.port())) {
                c.send("PUT /v1/retention/tiny-chunks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n");
                StringBuilder chunks = new StringBuilder();
                for (int i = 0; i < body.length(); i += 3) {
                    String piece = body.substring(i, Math.min(body.length(), i + 3));
                    chunks.append(Integer.toHexString(piece.length())).append("\r\n").append(piece).append("\r\n");
                }
                c.send(chunks.append("0\r\n\r\n").toString());
                var r = c.read();
                assertEquals(201, r.status(), r.body());
            }
            var read = s.get("/v1/retention/tiny-chunks");
            assertEquals(200, read.status());
            assertEquals(version, read.version());

            try (io.weaseldb.testing.RawHttp c = new io.weaseldb.testing.RawHttp(s.port())) {
                c.send("PUT /v1/retention/too-big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
                String piece = " ".repeat(4096);
                for (int i = 0; i < 17; i++) {
                    c.send(Integer.toHexString(piece.length()) + "\r\n" + piece + "\r\n");
                }
                assertEquals(413, c.read().status());
            }
            assertEquals(404, s.get("/v1/retention/too-big").status());
        } finally {
            s.close();
        }
    }

    /**
     * A retention PUT with Expect: 100-continue gets 100 Continue before it sends its body; one
     * whose declared Content-Length is over the 64 KiB limit gets 413 at once instead.
     */
    @Test
    void aRetentionPutExpecting100ContinueGetsItUnlessItsBodyIsTooLarge() throws Exception {
        try (TestServer s = TestServer.start(dir)) {
            String body = "{\"version\":0}";
            try (io.weaseldb.testing.RawHttp c = new io.weaseldb.testing.RawHttp(s.port())) {
                c.send("PUT /v1/retention/p1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
                        + body.length() + "\r\n\r\n");
                assertEquals(100, c.readAny().status(), "100 Continue before the body is sent");
                c.send(body);
                var r = c.readAny();
                assertEquals(201, r.status(), r.body());
                assertTrue(r.body().startsWith("{\"policy_id\":\"p1\",\"version\":0,"), r.body());
            }
            try (io.weaseldb.testing.RawHttp c = new io.weaseldb.testing.RawHttp(s.port())) {
                c.send("PUT /v1/retention/p2 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 70000\r\n\r\n");
                var r = c.readAny();
                assertEquals(413, r.status(), "refused at once, without 100 Continue: " + r.body());
                assertTrue(r.body().startsWith("{\"error\":\"content_too_large\""), r.body());
                assertEquals("close", r.header("connection"));
            }
        }
    }

    /**
     * A known field given twice is a 400 in a retention PUT, as in a commit, rather than the last
     * value winning; unknown fields may repeat in both.
     */
    @Test
    void aKnownFieldGivenTwiceIsA400AndUnknownOnesMayRepeat() throws Exception {
        try (TestServer s = TestServer.start(dir);
             io.weaseldb.testing.RawHttp c = new io.weaseldb.testing.RawHttp(s.port())) {
            String[][] cases = {
                    {"/v1/retention/p1", "{\"version\":1,\"version\":0}", "400", "duplicate field \\\"version\\\""},
                    {"/v1/retention/p1", "{\"version\":0,\"ttl_seconds\":null,\"ttl_seconds\":60}", "400",
                            "duplicate field \\\"ttl_seconds\\\""},
                    {"/v1/commit", "{\"operations\":[],\"operations\":[]}", "400", "duplicate field \\\"operations\\\""},
                    {"/v1/retention/p1", "{\"zzz\":1,\"version\":0,\"zzz\":2}", "201", "\"policy_id\":\"p1\",\"version\":0,"},
                    {"/v1/commit", "{\"zzz\":1,\"zzz\":2}", "200", "\"status\":\"committed\""}};
            for (String[] k : cases) {
                String method = k[0].startsWith("/v1/commit") ? "POST " : "PUT ";
                c.send(io.weaseldb.testing.RawHttp.post(k[0], k[1]).replaceFirst("^POST ", method));
                var r = c.read();
                assertEquals(Integer.parseInt(k[2]), r.status(), k[1] + ": " + r.body());
                assertTrue(r.body().contains(k[3]), k[1] + ": " + r.body());
            }
            c.send(io.weaseldb.testing.RawHttp.get("/v1/retention/p1"));
            assertTrue(c.read().body().contains("\"version\":0,\"ttl_seconds\":null"), "only the valid PUT was applied");
        }
    }
}
