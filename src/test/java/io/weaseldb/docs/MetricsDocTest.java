package io.weaseldb.docs;

import static io.weaseldb.testing.Json.b64;
import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.Json;
import io.weaseldb.testing.SseClient;
import io.weaseldb.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keeps {@code docs/metrics.md} and {@code docs/grafana-dashboard.json} honest against the
 * server: a real server (embedded fake S3, tokens on) runs a short workload that touches every
 * path — commits of every outcome, a 413, 401 and 403, status, live and history subscriptions, a
 * subscriber dropped by a storage fault, log writes retried after injected S3 errors, retention
 * with truncation — and its {@code /metrics} scrape must contain every metric the document's
 * table lists (with the documented type and label names), while every {@code weaseldb_*} family
 * in the scrape must be in the table. The dashboard must parse and query only documented metrics.
 */
@Timeout(180)
class MetricsDocTest {
    private static final String ALL = "metrics-doc-all-roles-token-0001";
    private static final String READER = "metrics-doc-subscribe-only-0001";
    private static final Set<String> HISTOGRAM_SUFFIXES = Set.of("_bucket", "_count", "_sum");

    @TempDir
    Path dir;

    private static String metricsMd;

    @BeforeAll
    static void load() throws IOException {
        metricsMd = Files.readString(Path.of("docs/metrics.md"));
    }

    /** One row of a metrics table: the family as exposed, its Prometheus type, label names, when present. */
    record Documented(String name, String type, Set<String> labels, String present) {}

    /** The rows between {@code <!-- MARKER:begin -->} and {@code <!-- MARKER:end -->}. */
    static Map<String, Documented> table(String markdown, String marker) {
        int begin = markdown.indexOf("<!-- " + marker + ":begin -->");
        int end = markdown.indexOf("<!-- " + marker + ":end -->");
        assertTrue(begin >= 0 && end > begin, "docs/metrics.md lacks the delimited table " + marker);
        Map<String, Documented> rows = new LinkedHashMap<>();
        for (String line : markdown.substring(begin, end).split("\n")) {
            if (!line.startsWith("| `")) {
                continue; // header, separator, marker
            }
            String[] cells = line.split("\\|", -1);
            String name = cells[1].trim().replace("`", "");
            String type = cells[2].trim().split(" ")[0];
            Set<String> labels = new TreeSet<>();
            Matcher m = Pattern.compile("`([a-z_]+)`").matcher(cells[3]);
            while (m.find()) {
                labels.add(m.group(1));
            }
            assertTrue(name.matches("[a-z][a-z0-9_]*"), "not a metric name in " + marker + ": " + line);
            assertTrue(Set.of("histogram", "counter", "gauge", "summary").contains(type), "unknown type in: " + line);
            assertTrue(rows.put(name, new Documented(name, type, labels, cells[4].trim())) == null,
                    "listed twice: " + name);
        }
        return rows;
    }

    /** A metric family of a scrape: its type (from {@code # TYPE}) and the label names of its samples. */
    record Family(String type, Set<String> labels) {}

    // name, optional {labels} (values may hold '}' and escaped quotes), value, optional timestamp
    private static final Pattern SAMPLE = Pattern.compile(
            "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{((?:[^\"}]|\"(?:[^\"\\\\]|\\\\.)*\")*)\\})? (\\S+)( -?\\d+)?$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"(?:[^\"\\\\]|\\\\.)*\"");

    /** Parses the Prometheus text format into families; samples must belong to a declared family. */
    static Map<String, Family> families(String scrape) {
        Map<String, String> types = new TreeMap<>();
        Map<String, Set<String>> labels = new TreeMap<>();
        for (String line : scrape.split("\n")) {
            if (line.startsWith("# TYPE ")) {
                String[] p = line.split(" ");
                types.put(p[2], p[3]);
                labels.putIfAbsent(p[2], new TreeSet<>());
            } else if (!line.isEmpty() && !line.startsWith("#")) {
                Matcher m = SAMPLE.matcher(line);
                assertTrue(m.matches(), "not a sample line: " + line);
                String family = familyOf(m.group(1), types);
                assertNotNull(family, "sample without # TYPE: " + line);
                if (m.group(3) != null) {
                    Matcher l = LABEL.matcher(m.group(3));
                    while (l.find()) {
                        if (!l.group(1).equals("le") && !l.group(1).equals("quantile")) {
                            labels.get(family).add(l.group(1));
                        }
                    }
                }
            }
        }
        Map<String, Family> out = new TreeMap<>();
        types.forEach((name, type) -> out.put(name, new Family(type, labels.get(name))));
        return out;
    }

    private static String familyOf(String sample, Map<String, String> types) {
        if (types.containsKey(sample)) {
            return sample;
        }
        for (String suffix : HISTOGRAM_SUFFIXES) {
            if (sample.endsWith(suffix) && types.containsKey(sample.substring(0, sample.length() - suffix.length()))) {
                return sample.substring(0, sample.length() - suffix.length());
            }
        }
        return null;
    }

    /**
     * What is wrong between a document's table and a scrape: documented families missing from the
     * scrape or exposed with another type or other label names, and {@code weaseldb_*} families
     * the document does not list ({@code NAME_max}, Micrometer's gauge beside a histogram, is
     * covered by the histogram's row).
     */
    static List<String> compare(Map<String, Documented> documented, Map<String, Family> scraped) {
        List<String> problems = new ArrayList<>();
        for (Documented d : documented.values()) {
            Family f = scraped.get(d.name());
            if (f == null) {
                problems.add("documented but not exposed: " + d.name());
            } else if (!f.type().equals(d.type())) {
                problems.add(d.name() + " is documented as " + d.type() + " but exposed as " + f.type());
            } else if (!f.labels().equals(d.labels())) {
                problems.add(d.name() + " is documented with labels " + d.labels() + " but exposed with " + f.labels());
            }
        }
        for (String name : scraped.keySet()) {
            if (!name.startsWith("weaseldb_") || documented.containsKey(name)) {
                continue;
            }
            String base = name.endsWith("_max") ? name.substring(0, name.length() - 4) : null;
            boolean maxOfDocumented = base != null && documented.containsKey(base)
                    && Set.of("histogram", "summary").contains(documented.get(base).type());
            if (!maxOfDocumented) {
                problems.add("exposed but not documented in docs/metrics.md: " + name);
            }
        }
        return problems;
    }

    @Test
    void theComparisonCatchesMissingMislabelledAndUndocumentedMetrics() {
        Map<String, Documented> doc = table("""
                <!-- t:begin -->
                | metric | type | labels | unit | meaning |
                |---|---|---|---|---|
                | `weaseldb_a_total` | counter | `reason` | x | y |
                | `weaseldb_b_seconds` | histogram | | s | y |
                | `weaseldb_gone` | gauge | | x | y |
                <!-- t:end -->
                """, "t");
        Map<String, Family> scraped = families("""
                # TYPE weaseldb_a_total counter
                weaseldb_a_total{outcome="x"} 1.0
                # TYPE weaseldb_b_seconds histogram
                weaseldb_b_seconds_bucket{le="+Inf"} 1
                weaseldb_b_seconds_count 1
                weaseldb_b_seconds_sum 0.1
                # TYPE weaseldb_b_seconds_max gauge
                weaseldb_b_seconds_max 0.1
                # TYPE weaseldb_new gauge
                weaseldb_new 1.0
                # TYPE jvm_other gauge
                jvm_other 1.0
                """);
        assertEquals(List.of(
                "weaseldb_a_total is documented with labels [reason] but exposed with [outcome]",
                "documented but not exposed: weaseldb_gone",
                "exposed but not documented in docs/metrics.md: weaseldb_new"), compare(doc, scraped));
    }

    private static String tokensToml() {
        return "[[security.tokens]]\nname = \"all\"\ntoken = \"" + ALL + "\"\nroles = [\"commit\", \"subscribe\", \"admin\"]\n"
                + "[[security.tokens]]\nname = \"reader\"\ntoken = \"" + READER + "\"\nroles = [\"subscribe\"]\n";
    }

    private static TestServer.Response commit(TestServer s, String body) throws IOException, InterruptedException {
        return s.call("POST", "/v1/commit", body, ALL);
    }

    @Test
    void everyDocumentedMetricIsExposedAndEveryExposedMetricIsDocumented() throws Exception {
        Map<String, Documented> documented = table(metricsMd, "metrics-table");
        Map<String, Documented> jvm = table(metricsMd, "jvm-metrics-table");
        assertTrue(documented.size() >= 25, "the table lists " + documented.size() + " metrics");
        String config = "[server]\nport = 0\nmax_request_size_bytes = 65536\n"
                + "[commit]\nconflict_window_ms = 100\n"
                // A request-id window of 2 versions, so retention may truncate below the last few.
                + "request_id_retention_versions = 2\n"
                // A small in-memory window: a subscriber from version 0 replays history from S3.
                + "[subscription]\nmemory_window_bytes = 2048\n"
                // Storage faults are injected at the fake S3's HTTP endpoint.
                + "[s3]\nfake_transport = \"http\"\n"
                + "[security]\n" + tokensToml();
        String scrape;
        try (TestServer s = TestServer.start(dir, config)) {
            workload(s);
            var r = s.call("GET", "/metrics", null, ALL);
            assertEquals(200, r.status());
            scrape = r.body();
        }
        Map<String, Family> scraped = families(scrape);
        List<String> problems = compare(documented, scraped);
        for (Documented d : jvm.values()) {
            if (d.present().equals("always") && !scraped.containsKey(d.name())) {
                problems.add("JVM family documented as always present but not exposed: " + d.name());
            }
        }
        assertEquals(List.of(), problems, "docs/metrics.md and the scrape disagree");
        assertTrue(scrape.contains("\nweaseldb_leader 1.0\n"), "this server leads");
    }

    /** Touches every path that creates a metric series. */
    private void workload(TestServer s) throws Exception {
        String value = "v".repeat(1000);
        var first = commit(s, "{\"request_id\":\"metrics-doc-request-000001\",\"operations\":[" + write("k1", value) + "]}");
        assertEquals(200, first.status(), first.body());
        long v1 = first.version();
        var dup = commit(s, "{\"request_id\":\"metrics-doc-request-000001\",\"operations\":[" + write("k1", value) + "]}");
        assertEquals(true, dup.get("duplicate"));
        for (int i = 2; i <= 4; i++) { // more than memory_window_bytes of history
            assertEquals(200, commit(s, "{\"operations\":[" + write("k" + i, value) + "]}").status());
        }
        assertEquals(409, commit(s, "{\"read_version\":" + (v1 - 1) + ",\"preconditions\":["
                + "{\"type\":\"point_read\",\"key\":\"" + b64("k1") + "\"}]}").status(), "conflict");
        assertEquals("leader_changed", commit(s, "{\"leader_id\":\"someone-else\"}").get("error"));
        assertEquals(400, commit(s, "{not json").status());
        assertEquals(413, commit(s, "{\"operations\":[" + write("big", "x".repeat(70_000)) + "]}").status());
        assertEquals(401, s.call("GET", "/v1/version", null, null).status());
        assertEquals(403, s.call("POST", "/v1/commit", "{}", READER).status());
        long statusFrom = s.call("GET", "/v1/version", null, ALL).version(); // within the 2-version id window
        assertEquals("not_committed", s.call("GET", "/v1/status?request_id=metrics-doc-never-sent-0001&min_version=" + statusFrom,
                null, ALL).get("status"));
        assertEquals(200, s.call("GET", "/ok", null, null).status());
        assertEquals(404, s.call("GET", "/nothing-here", null, ALL).status());

        // Storage errors: the first two attempts of the next log write fail; it is retried and commits.
        s.server().embeddedS3().faults().add("op=PUT,prefix=log/,kind=error,status=503,count=2");
        assertEquals(200, commit(s, "{\"operations\":[" + write("after-faults", "x") + "]}").status());

        // too_old: a read version that has left the 100 ms conflict window (polled, bounded).
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String stale = "{\"read_version\":" + v1 + ",\"preconditions\":[{\"type\":\"point_read\",\"key\":\""
                + b64("never-written") + "\"}]}";
        while (!"too_old".equals(commit(s, stale).get("status"))) {
            assertTrue(System.nanoTime() < deadline, "no too_old within 10 s of a 100 ms conflict window");
            Thread.sleep(20);
        }

        // Subscribers: one live, one replaying history from S3, one dropped by a storage fault.
        long now = s.call("GET", "/v1/version", null, ALL).version();
        String auth = "Authorization: Bearer " + ALL;
        try (SseClient live = SseClient.open(s.port(), "/v1/subscribe?after=" + now, auth);
             SseClient history = SseClient.open(s.port(), "/v1/subscribe?after=0", auth)) {
            long v = commit(s, "{\"operations\":[" + write("live", "x") + "]}").version();
            assertEquals(v, live.nextTransaction(10_000).version());
            assertEquals(v1, history.nextTransaction(10_000).version(), "history replayed from S3");
            var rule = s.server().embeddedS3().faults().add("op=GET,prefix=log/,kind=error,status=500");
            try (SseClient broken = SseClient.open(s.port(), "/v1/subscribe?after=0", auth)) {
                SseClient.Event e;
                do {
                    e = broken.next(20_000);
                    assertNotNull(e, "a stream whose history cannot be read is ended");
                } while (e != SseClient.END);
                assertEquals(200, broken.status());
            } finally {
                s.server().embeddedS3().faults().remove(rule);
            }

            // Retention: pin at v1, truncate everything below it.
            assertEquals(201, s.call("PUT", "/v1/retention/metrics-doc", "{\"version\":" + v1 + "}", ALL).status());
            assertTrue(s.server().retention().truncateNow().get() > 0, "the term start marker below v1 is deleted");
            assertEquals(200, s.call("GET", "/v1/retention/", null, ALL).status());
        }
    }

    /** Metric names a PromQL expression uses (identifiers of our, JVM and process families). */
    static Set<String> metricNames(String expr) {
        Set<String> names = new TreeSet<>();
        Matcher m = Pattern.compile("\\b((?:weaseldb|jvm|process|system)_[a-z0-9_]+)").matcher(expr);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    private static void collect(Object node, String key, List<Object> out) {
        if (node instanceof Map<?, ?> map) {
            map.forEach((k, v) -> {
                if (key.equals(k)) {
                    out.add(v);
                }
                collect(v, key, out);
            });
        } else if (node instanceof List<?> list) {
            list.forEach(v -> collect(v, key, out));
        }
    }

    @Test
    void theGrafanaDashboardParsesAndQueriesOnlyDocumentedMetrics() throws Exception {
        Map<String, Documented> documented = new LinkedHashMap<>(table(metricsMd, "metrics-table"));
        documented.putAll(table(metricsMd, "jvm-metrics-table"));
        Object dashboard = Json.parse(Files.readString(Path.of("docs/grafana-dashboard.json")));
        assertTrue(dashboard instanceof Map<?, ?>, "the dashboard is a JSON object");
        Map<?, ?> root = (Map<?, ?>) dashboard;

        // A Prometheus datasource variable that every panel and query uses.
        List<Object> variables = new ArrayList<>();
        collect(root.get("templating"), "list", variables);
        boolean datasourceVariable = variables.stream().flatMap(l -> ((List<?>) l).stream())
                .map(v -> (Map<?, ?>) v)
                .anyMatch(v -> "datasource".equals(v.get("type")) && "prometheus".equals(v.get("query"))
                        && "datasource".equals(v.get("name")));
        assertTrue(datasourceVariable, "templating needs a variable named datasource of type datasource (prometheus)");
        List<Object> datasources = new ArrayList<>();
        collect(root.get("panels"), "datasource", datasources);
        assertFalse(datasources.isEmpty());
        for (Object ds : datasources) {
            assertEquals("${datasource}", ((Map<?, ?>) ds).get("uid"), "every panel and query uses the variable: " + ds);
        }

        List<Object> exprs = new ArrayList<>();
        collect(root.get("panels"), "expr", exprs);
        assertTrue(exprs.size() >= 20, "the dashboard has " + exprs.size() + " queries");
        List<String> unknown = new ArrayList<>();
        Set<String> used = new TreeSet<>();
        for (Object e : exprs) {
            for (String name : metricNames((String) e)) {
                String family = name;
                for (String suffix : List.of("_bucket", "_count", "_sum", "_max")) {
                    if (!documented.containsKey(family) && name.endsWith(suffix)) {
                        family = name.substring(0, name.length() - suffix.length());
                    }
                }
                if (!documented.containsKey(family)) {
                    unknown.add(name + " in " + e);
                }
                used.add(family);
            }
        }
        assertEquals(List.of(), unknown, "the dashboard queries metrics docs/metrics.md does not list");
        for (String needed : List.of("weaseldb_commits_total", "weaseldb_http_requests_seconds", "weaseldb_batch_size_bytes",
                "weaseldb_batch_transactions", "weaseldb_batch_age_seconds", "weaseldb_s3_request_seconds",
                "weaseldb_s3_errors_total", "weaseldb_pipeline_queue_depth", "weaseldb_batches_in_flight",
                "weaseldb_subscribers", "weaseldb_subscribe_lag_bytes", "weaseldb_subscribers_dropped_total",
                "weaseldb_version_committed", "weaseldb_version_oldest", "weaseldb_leader", "jvm_memory_used_bytes",
                "jvm_gc_pause_seconds")) {
            assertTrue(used.contains(needed), "the dashboard shows " + needed);
        }
        List<String> ids = ((List<?>) root.get("panels")).stream().map(p -> String.valueOf(((Map<?, ?>) p).get("id"))).toList();
        assertEquals(ids.size(), new TreeSet<>(ids).size(), "panel ids are unique: " + ids);
    }
}
