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
        s.record(ResponseScan.Outcome.COMMITTED, 2_000_000, true, 0);
        s.record(ResponseScan.Outcome.COMMITTED, 4_000_000, true, 1);
        s.record(ResponseScan.Outcome.CONFLICT, 3_000_000, true, 1);
        BenchReport r = new BenchReport(o, 2.0, 3, s.completed(), s.measuredAnswered, s.committed, s.duplicates, s.conflicts, 0, 0, 0, 0, 0, 0, 0,
                BenchReport.Latency.of(s.latencyMicros), 0, 300, 150, s.completedPerSecond,
                BenchReport.Subscribers.none(),
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
        assertEquals("127.0.0.1", flat.get("options.host"));
        assertEquals("1", flat.get("options.port"));
        assertEquals("5", flat.get("options.drain_seconds"));
        assertEquals("0", flat.get("options.count"));
        assertEquals("true", flat.get("options.durable"));
        assertEquals("0", flat.get("options.server_pid"));
    }

    @Test
    void aJsonFileInAMissingDirectoryFailsNamingIt(@TempDir Path dir) {
        BenchReport r = report(BenchOptions.parse(new String[] {"--port", "1"}), new LoopStats(1));
        Path file = dir.resolve("missing").resolve("r.json");
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> r.writeJson(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("no directory"), e.getMessage());
    }

    @Test
    void idleModeSaysNothingOfAWarmup() {
        BenchOptions o = BenchOptions.parse(new String[] {"--port", "1", "--mode", "idle", "--connections", "10"});
        BenchReport r = new BenchReport(o, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                BenchReport.Latency.of(new LoopStats(1).latencyMicros), 0, 0, 0, new long[0], BenchReport.Subscribers.none(),
                -1, -1, 1 << 20, -1, 1.0, 1.0, 10);
        assertFalse(r.text().contains("warmup"), r.text());
        assertTrue(r.text().contains("held 10 idle keep-alive connections for 20 s"), r.text());
        assertTrue(r.complete());
    }

    @Test
    void aRunWithDuplicateAnswersIsIncomplete() {
        LoopStats s = new LoopStats(1);
        s.record(ResponseScan.Outcome.COMMITTED, 1_000_000, true, 0);
        s.record(ResponseScan.Outcome.DUPLICATE, 1_000_000, true, 0);
        BenchReport r = report(BenchOptions.parse(new String[] {"--port", "1", "--request-ids"}), s);
        assertFalse(r.complete());
        assertTrue(r.text().contains("1 answered as duplicates"), r.text());
        assertEquals(1, r.committed());
    }

    /** 404/5xx/400 answers are faults, not measurements: the run is incomplete and their latencies stay out. */
    @Test
    void errorAnswersMakeARunIncompleteAndStayOutOfTheLatencies() {
        LoopStats s = new LoopStats(1);
        s.record(ResponseScan.Outcome.COMMITTED, 1_000_000, true, 0);
        s.record(ResponseScan.Outcome.CONFLICT, 2_000_000, true, 0); // 409: an outcome, not an error
        s.record(ResponseScan.Outcome.ERROR, 900_000_000, true, 0);
        BenchReport r = report(BenchOptions.parse(new String[] {"--port", "1"}), s);
        assertEquals(1, r.errors());
        assertEquals(2, r.completed(), "answered/s counts no errors");
        assertEquals(2, r.latencyMicros().count());
        assertTrue(r.latencyMicros().max() < 10_000, "the error's 900 ms is not a commit latency: " + r.latencyMicros());
        assertFalse(r.complete());
        assertTrue(r.text().contains("1 error answers"), r.text());

        LoopStats ok = new LoopStats(1);
        ok.record(ResponseScan.Outcome.COMMITTED, 1_000_000, true, 0);
        ok.record(ResponseScan.Outcome.CONFLICT, 2_000_000, true, 0);
        assertTrue(report(BenchOptions.parse(new String[] {"--port", "1"}), ok).complete(), "conflicts leave a run complete");
    }

    @Test
    void aRunWithNothingMeasuredIsIncomplete() {
        BenchReport r = report(BenchOptions.parse(new String[] {"--port", "1"}), new LoopStats(1));
        assertFalse(r.complete());
        assertTrue(r.text().contains("no request in the measured window"), r.text());
    }

    /** A one-second report of {@code s}: every request sent was answered, on connections that stayed up. */
    static BenchReport report(BenchOptions o, LoopStats s) {
        return new BenchReport(o, 1.0, s.completed() + s.errors + s.duplicates, s.completed(), s.measuredAnswered, s.committed,
                s.duplicates, s.conflicts, s.tooOld, s.refused, s.errors, 0, 0, 0, 0,
                BenchReport.Latency.of(s.latencyMicros), 0, 0, 0, s.completedPerSecond,
                BenchReport.Subscribers.none(),
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
