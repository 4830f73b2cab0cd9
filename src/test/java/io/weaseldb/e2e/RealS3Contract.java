package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.SseClient;
import io.weaseldb.testing.TestServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's storage paths against a real, third-party S3 implementation: persistence with
 * conditional writes, recovery after restart, history replay from S3, status with bans, and
 * retention with truncation. Subclasses provide the server (S3Proxy always; MinIO with Docker).
 */
@Timeout(180)
abstract class RealS3Contract {
    private static final AtomicInteger PREFIXES = new AtomicInteger();

    @TempDir
    Path dir;

    protected abstract URI endpoint();

    protected abstract String accessKey();

    protected abstract String secretKey();

    private String config() {
        return "[s3]\nendpoint = \"" + endpoint() + "\"\naccess_key_id = \"" + accessKey() + "\"\nsecret_access_key = \""
                + secretKey() + "\"\ncreate_bucket = true\nbucket = \"weaseldb-it\"\nprefix = \"run-"
                + ProcessHandle.current().pid() + "-" + PREFIXES.incrementAndGet() + "\"\n"
                + "[persistence]\nleader_heartbeat_ms = 200\nleader_timeout_ms = 1000\n"
                + "[subscription]\nmemory_window_bytes = 2048\n";
    }

    @Test
    void commitsRecoveryHistoryStatusAndRetention() throws Exception {
        String config = config();
        TestServer s = TestServer.start(dir, config);
        try {
            List<Long> versions = new ArrayList<>();
            for (int i = 0; i < 15; i++) {
                var r = s.commit("{\"request_id\":\"real-s3-request-" + String.format("%06d", i) + "\",\"operations\":["
                        + write("k" + i, "value-" + i) + "]}");
                assertEquals(200, r.status(), r.body());
                versions.add(r.version());
            }
            var stale = s.commit("{\"read_version\":" + (versions.get(0) - 1) + ",\"preconditions\":[{\"type\":\"point_read\","
                    + "\"key\":\"" + io.weaseldb.testing.Json.b64("k0") + "\"}]}");
            assertEquals(409, stale.status());
            var nc = s.get("/v1/status?request_id=never-committed-on-real-s3&min_version=0");
            assertEquals("not_committed", nc.get("status"));

            s = s.restart();
            assertTrue(s.server().leading());
            var dup = s.commit("{\"request_id\":\"real-s3-request-000003\",\"operations\":[" + write("k3", "x") + "]}");
            assertEquals(versions.get(3), dup.version(), "request ids survive a restart (rebuilt from the log)");
            assertEquals(true, dup.get("duplicate"));
            var refused = s.commit("{\"request_id\":\"never-committed-on-real-s3\",\"operations\":[]}");
            assertEquals(400, refused.status(), "status bans survive a restart");
            long after = s.commit("{\"operations\":[" + write("after", "restart") + "]}").version();
            assertTrue(after > versions.get(versions.size() - 1));

            try (SseClient sub = SseClient.open(s.port(), "/v1/subscribe?after=" + (versions.get(0) - 1))) {
                for (long v : versions) {
                    assertEquals(v, sub.nextTransaction(10_000).version(), "history replayed from S3");
                }
                assertEquals(after, sub.nextTransaction(10_000).version());
            }

            long pin = versions.get(9);
            // Truncation never cuts into the request-id window (a restart rebuilds it from the log),
            // which by default spans all of this: the same log again with a window of 2 versions.
            s.close();
            s = TestServer.start(dir, config + "[commit]\nrequest_id_retention_versions = 2\n");
            assertEquals(201, s.send(HttpRequest.newBuilder(s.uri("/v1/retention/real-s3"))
                    .PUT(HttpRequest.BodyPublishers.ofString("{\"version\":" + pin + "}")).build()).status());
            assertTrue(s.server().retention().truncateNow().get() > 0);
            long oldest = (Long) s.get("/v1/retention/").get("oldest_version");
            assertTrue(oldest > versions.get(0) && oldest <= pin + 1);
            try (SseClient gone = SseClient.open(s.port(), "/v1/subscribe?after=" + (versions.get(0) - 1))) {
                assertEquals(SseClient.END, gone.next(10_000));
                assertEquals(410, gone.status());
            }
            s = s.restart();
            assertEquals(200, s.get("/v1/retention/real-s3").status(), "policies live in S3");
            assertEquals(oldest, (Long) s.get("/v1/retention/").get("oldest_version"), "recovery after truncation");
        } finally {
            s.close();
        }
    }
}
