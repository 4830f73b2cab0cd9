package io.weaseldb.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JSON the scripts in docs/bench read: these keys are their contract. */
class BenchReportTest {

    @Test
    void jsonHasTheFieldsTheScriptsRead(@TempDir Path dir) throws Exception {
        BenchOptions o = BenchOptions.parse(new String[] {"--port", "1", "--mode", "open", "--rate", "500"});
        LoopStats s = new LoopStats(3);
        s.record(ResponseScan.Outcome.COMMITTED, 2_000_000, 0);
        s.record(ResponseScan.Outcome.COMMITTED, 4_000_000, 1);
        s.record(ResponseScan.Outcome.CONFLICT, 3_000_000, 1);
        BenchReport r = new BenchReport(o, 2.0, 3, s.completed(), s.committed, s.duplicates, s.conflicts, 0, 0, 0, 0, 0, 0, 0,
                BenchReport.Latency.of(s.latencyMicros), 0, 300, 150, s.completedPerSecond,
                new BenchReport.Subscribers(0, 0, 0, 0, BenchReport.Latency.of(s.subscriberLagMillis), 0),
                0.5, 0.1, 1 << 20, 0.2, 1.0, 1.5, 0);
        Path file = dir.resolve("r.json");
        r.writeJson(file);
        Map<String, String> flat = flatten(file);
        assertEquals("1.0", flat.get("committed_per_second"));
        assertEquals("1.5", flat.get("completed_per_second"));
        assertEquals("500.0", flat.get("options.rate"));
        assertTrue(Long.parseLong(flat.get("latency_us.p99")) >= 3_990, flat.get("latency_us.p99"));
        assertEquals("0.5", flat.get("server_cpu_cores"));
        for (String key : new String[] {"latency_us.p50", "latency_us.p99_9", "conflict_rate", "measured_seconds",
                "request_bytes", "unsent", "complete", "unanswered_in_latency", "subscribers.events", "subscribers.lag_ms.p99", "load_average_start"}) {
            assertTrue(flat.containsKey(key), key + " in " + flat.keySet());
        }
        assertTrue(r.text().contains("committed/s"), r.text());
    }

    @Test
    void aRunWithDuplicateAnswersIsIncomplete() {
        BenchReport r = report(BenchOptions.parse(new String[] {"--port", "1", "--request-ids"}), 0, 1);
        assertFalse(r.complete());
        assertTrue(r.text().contains("1 answered as duplicates"), r.text());
        assertTrue(report(BenchOptions.parse(new String[] {"--port", "1"}), 0, 0).complete());
    }

    /** A closed-loop report with {@code committed} commits and {@code duplicates} duplicate answers, nothing else wrong. */
    static BenchReport report(BenchOptions o, long committed, long duplicates) {
        LoopStats s = new LoopStats(1);
        for (long i = 0; i < committed; i++) {
            s.record(ResponseScan.Outcome.COMMITTED, 1_000_000, 0);
        }
        for (long i = 0; i < duplicates; i++) {
            s.record(ResponseScan.Outcome.DUPLICATE, 1_000_000, 0);
        }
        return new BenchReport(o, 1.0, s.completed(), s.completed(), s.committed, s.duplicates, s.conflicts, 0, 0, 0, 0, 0, 0, 0,
                BenchReport.Latency.of(s.latencyMicros), 0, 0, 0, s.completedPerSecond,
                new BenchReport.Subscribers(0, 0, 0, 0, BenchReport.Latency.of(s.subscriberLagMillis), 0),
                -1, -1, -1, 0.1, 1.0, 1.0, 0);
    }

    /** Scalar fields as dotted paths (arrays skipped). */
    private static Map<String, String> flatten(Path file) throws Exception {
        Map<String, String> out = new HashMap<>();
        try (JsonParser p = new JsonFactory().createParser(Files.readAllBytes(file))) {
            StringBuilder path = new StringBuilder();
            java.util.ArrayDeque<Integer> marks = new java.util.ArrayDeque<>();
            int arrays = 0;
            String field = null;
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                switch (t) {
                    case FIELD_NAME -> field = p.currentName();
                    case START_OBJECT -> {
                        marks.push(path.length());
                        if (field != null && arrays == 0) {
                            path.append(path.length() == 0 ? "" : ".").append(field);
                        }
                        field = null;
                    }
                    case END_OBJECT -> path.setLength(marks.pop());
                    case START_ARRAY -> arrays++;
                    case END_ARRAY -> arrays--;
                    default -> {
                        if (arrays == 0 && field != null) {
                            out.put((path.length() == 0 ? "" : path + ".") + field, p.getText());
                        }
                    }
                }
            }
        }
        return out;
    }
}
