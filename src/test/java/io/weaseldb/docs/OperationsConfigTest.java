package io.weaseldb.docs;

import static io.weaseldb.testing.Json.b64;
import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weaseldb.config.ConfigLoader;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.s3.SdkObjectStore;
import io.weaseldb.testing.S3ProxyServer;
import io.weaseldb.testing.SseClient;
import io.weaseldb.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The production configuration that {@code docs/operations.md} presents, {@code config/s3.toml},
 * run as written against S3Proxy (a third-party S3 server): the test replaces only the values the
 * file marks {@code # SET:} (endpoint, region, bucket, credentials, token hashes, advertise_url)
 * and, for the sandbox, {@code host}/{@code port}; every other key keeps its documented value
 * (checked on the parsed configuration). Then: tokens and roles, commits, status, subscriptions
 * live and from history, a standby naming the leader, a clean handover, a restart, retention with
 * truncation — the operations guide's procedures on the documented configuration.
 */
@Timeout(240)
class OperationsConfigTest {
    private static final String WRITER = "ops-test-writer-token-000000001";
    private static final String READER = "ops-test-reader-token-000000001";
    private static final String OPS = "ops-test-operator-token-0000001";
    private static final Pattern SET_LINE = Pattern.compile("^([a-z_0-9]+) = (\"[^\"]*\"|\\S+) # SET: .*$");

    @TempDir
    Path dir;

    private static String sha256(String token) {
        return HexFormat.of().formatHex(ConfigLoader.sha256(token));
    }

    /**
     * config/s3.toml with the SET: values (and host/port) replaced. Fails if the file marks a key
     * this test does not know how to fill, or a replacement does not happen, so the test follows
     * the document.
     */
    static String substitute(String documented, Map<String, String> values, List<String> tokenHashes) {
        StringBuilder out = new StringBuilder();
        Map<String, Integer> replaced = new TreeMap<>();
        int token = 0;
        for (String line : documented.split("\n", -1)) {
            Matcher m = SET_LINE.matcher(line);
            String key = m.matches() ? m.group(1) : null;
            if (key == null && (line.startsWith("host = ") || line.startsWith("port = "))) {
                key = line.substring(0, 4);
            }
            if (key == null) {
                out.append(line).append('\n');
                continue;
            }
            String value;
            if (key.equals("token_sha256")) {
                assertTrue(token < tokenHashes.size(), "more tokens in config/s3.toml than the test knows");
                value = toml(tokenHashes.get(token++));
            } else {
                value = values.get(key);
                assertNotNull(value, "config/s3.toml asks to SET " + key + ", which this test does not fill in");
            }
            out.append(key).append(" = ").append(value).append('\n');
            replaced.merge(key, 1, Integer::sum);
        }
        assertEquals(tokenHashes.size(), token, "tokens in config/s3.toml");
        replaced.remove("token_sha256");
        assertEquals(new java.util.TreeSet<>(values.keySet()), replaced.keySet(),
                "the keys config/s3.toml marks SET (plus host and port)");
        return out.toString();
    }

    private static String toml(String s) {
        return "\"" + s + "\"";
    }

    private static TestServer.Response commit(TestServer s, String body) throws IOException, InterruptedException {
        return s.call("POST", "/v1/commit", body, WRITER);
    }

    @Test
    void theDocumentedS3ConfigurationRunsAgainstAThirdPartyS3Server() throws Exception {
        Assumptions.assumeTrue(S3ProxyServer.available(), "S3Proxy jar not fetched (./mvnw generate-test-resources)");
        String documented = Files.readString(Path.of("config/s3.toml"));
        WeaselConfig asDocumented = ConfigLoader.parse(documented, "config/s3.toml");
        List<String> hashes = List.of(sha256(WRITER), sha256(READER), sha256(OPS));

        try (S3ProxyServer proxy = S3ProxyServer.start()) {
            String bucket = "weaseldb-ops-test";
            Map<String, String> common = Map.of(
                    "host", toml("127.0.0.1"),
                    "port", "0",
                    "endpoint", toml(proxy.endpoint().toString()),
                    "region", toml("us-east-1"),
                    "bucket", toml(bucket),
                    "access_key_id", toml(S3ProxyServer.ACCESS_KEY),
                    "secret_access_key", toml(S3ProxyServer.SECRET_KEY));
            Map<String, String> a = new TreeMap<>(common);
            a.put("advertise_url", toml("http://weaseldb-a.test:8080"));
            Map<String, String> b = new TreeMap<>(common);
            b.put("advertise_url", toml("http://weaseldb-b.test:8080"));
            String configA = substitute(documented, a, hashes);
            String configB = substitute(documented, b, hashes);

            // Everything not marked SET keeps its documented value.
            WeaselConfig run = ConfigLoader.parse(configA, "substituted");
            assertEquals(asDocumented.commit(), run.commit());
            assertEquals(asDocumented.persistence(), run.persistence());
            assertEquals(asDocumented.subscription(), run.subscription());
            assertEquals(asDocumented.retention(), run.retention());
            assertEquals(asDocumented.s3().prefix(), run.s3().prefix());
            assertEquals(asDocumented.s3().createBucket(), run.s3().createBucket());
            assertEquals(asDocumented.s3().requestTimeoutMs(), run.s3().requestTimeoutMs());
            assertEquals(asDocumented.s3().maxConnections(), run.s3().maxConnections());
            assertEquals(asDocumented.server().accessLog(), run.server().accessLog());
            assertEquals(asDocumented.server().shutdownGraceMs(), run.server().shutdownGraceMs());
            assertEquals(3, run.security().tokens().size());
            assertTrue(!run.s3().embedded() && run.persistence().leaderHeartbeatMs() == 1000);

            // The operations guide: the bucket exists before the servers start (create_bucket = false).
            try (SdkObjectStore store = new SdkObjectStore(new SdkObjectStore.Settings(proxy.endpoint(), "us-east-1", bucket,
                    S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY, Duration.ofSeconds(10), 4), new SimpleMeterRegistry())) {
                store.ensureBucket(true).get(30, TimeUnit.SECONDS);
            }
            exercise(configA, configB);
        }
    }

    private void exercise(String configA, String configB) throws Exception {
        Path dirA = Files.createDirectories(dir.resolve("a"));
        Path dirB = Files.createDirectories(dir.resolve("b"));
        TestServer leader = TestServer.start(dirA, configA);
        TestServer standby = null;
        try {
            assertTrue(leader.server().leading());
            // Tokens and roles, as shipped in the file.
            assertEquals(401, leader.call("POST", "/v1/commit", "{}", null).status());
            assertEquals(403, leader.call("GET", "/metrics", null, READER).status());
            assertEquals(200, leader.call("GET", "/ok", null, null).status(), "/ok needs no token (load balancers)");

            List<Long> versions = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                var r = commit(leader, "{\"request_id\":\"ops-config-request-" + String.format("%06d", i)
                        + "\",\"operations\":[" + write("k" + i, "v" + i) + "]}");
                assertEquals(200, r.status(), r.body());
                versions.add(r.version());
            }
            var conflict = commit(leader, "{\"read_version\":" + (versions.get(0) - 1) + ",\"preconditions\":["
                    + "{\"type\":\"point_read\",\"key\":\"" + b64("k0") + "\"}]}");
            assertEquals(409, conflict.status(), conflict.body());
            assertEquals("not_committed", leader.call("GET",
                    "/v1/status?request_id=ops-config-never-sent-001&min_version=0", null, WRITER).get("status"));
            String metrics = leader.call("GET", "/metrics", null, OPS).body();
            assertTrue(metrics.contains("weaseldb_leader 1.0"), metrics);

            // A second server on the same bucket and prefix stands by and names the leader.
            standby = TestServer.start(dirB, configB);
            assertTrue(!standby.server().leading(), "the second server stands by");
            var refused = commit(standby, "{\"operations\":[]}");
            assertEquals(503, refused.status(), refused.body());
            assertEquals("http://weaseldb-a.test:8080", refused.get("leader_url"), refused.body());
            assertEquals(200, standby.call("GET", "/v1/version", null, READER).status(), "a standby serves /v1/version");

            // Live subscription on the leader.
            String auth = "Authorization: Bearer " + READER;
            try (SseClient live = SseClient.open(leader.port(), "/v1/subscribe?after=" + versions.get(5), auth)) {
                long v = commit(leader, "{\"operations\":[" + write("live", "x") + "]}").version();
                versions.add(v);
                assertEquals(v, live.nextTransaction(10_000).version());
            }

            // Clean stop: the term-end marker lets the standby take over at once (no leader_timeout_ms wait).
            long stopped = System.nanoTime();
            leader.close();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!standby.server().leading()) {
                assertTrue(System.nanoTime() < deadline, "the standby did not take over after a clean stop");
                Thread.sleep(50);
            }
            long takeoverMs = (System.nanoTime() - stopped) / 1_000_000;
            assertTrue(takeoverMs < 5_000, "handover after a clean stop took " + takeoverMs + " ms (leader_timeout_ms is 5000)");
            var dup = commit(standby, "{\"request_id\":\"ops-config-request-000003\",\"operations\":[" + write("k3", "v3") + "]}");
            assertEquals(true, dup.get("duplicate"), "request ids survive the handover: " + dup.body());
            assertEquals(versions.get(3), dup.version());

            // Restart of the new leader (same configuration): history replayed from S3 across terms.
            standby = standby.restart();
            assertTrue(standby.server().leading());
            long after = commit(standby, "{\"operations\":[" + write("after", "restart") + "]}").version();
            try (SseClient history = SseClient.open(standby.port(), "/v1/subscribe?after=" + (versions.get(0) - 1), auth)) {
                for (long v : versions) {
                    assertEquals(v, history.nextTransaction(10_000).version(), "history from S3");
                }
                assertEquals(after, history.nextTransaction(10_000).version());
            }

            // Retention: one policy per reader at its consumed version. Truncation never cuts into
            // the request-id window (24 h as documented), so these minutes-old objects all stay.
            long pin = versions.get(4);
            long oldestBefore = (Long) standby.call("GET", "/v1/retention/", null, OPS).get("oldest_version");
            assertEquals(201, standby.call("PUT", "/v1/retention/reader-1", "{\"version\":" + pin + "}", OPS).status());
            assertEquals(0, standby.server().retention().truncateNow().get(30, TimeUnit.SECONDS));
            assertEquals(oldestBefore, standby.call("GET", "/v1/retention/", null, OPS).get("oldest_version"));
            try (SseClient all = SseClient.open(standby.port(), "/v1/subscribe?after=" + (versions.get(0) - 1), auth)) {
                assertEquals(versions.get(0), all.nextTransaction(10_000).version(), "nothing in the window was deleted");
            }
            standby = standby.restart();
            assertEquals(200, standby.call("GET", "/v1/retention/reader-1", null, OPS).status(), "policies live in S3");
        } finally {
            leader.close();
            if (standby != null) {
                standby.close();
            }
        }
    }
}
