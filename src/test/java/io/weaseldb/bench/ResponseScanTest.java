package io.weaseldb.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ResponseScanTest {
    static ByteBuf body(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    static ResponseScan.Result weasel(int status, String body) {
        return ResponseScan.scan(BenchOptions.Target.WEASELDB, status, body(body));
    }

    @Test
    void weaselOutcomesAndTheVersionTheyName() {
        assertEquals(new ResponseScan.Result(ResponseScan.Outcome.COMMITTED, 12),
                weasel(200, "{\"status\":\"committed\",\"version\":12,\"leader_id\":\"L\",\"request_id\":\"R\"}"));
        assertEquals(new ResponseScan.Result(ResponseScan.Outcome.CONFLICT, 9876543210L),
                weasel(409, "{\"error\":\"conflict\",\"message\":\"m\",\"status\":\"conflict\",\"version\":9876543210,\"conflicts\":[0]}"));
        assertEquals(ResponseScan.Outcome.TOO_OLD,
                weasel(409, "{\"error\":\"too_old\",\"status\":\"too_old\",\"version\":5}").outcome());
        assertEquals(ResponseScan.Outcome.REFUSED,
                weasel(409, "{\"error\":\"leader_changed\",\"status\":\"leader_changed\",\"version\":5}").outcome());
        assertEquals(new ResponseScan.Result(ResponseScan.Outcome.ERROR, -1),
                weasel(503, "{\"error\":\"unavailable\",\"message\":\"full\"}"));
    }

    @Test
    void aDuplicateAnswerIsItsOwnOutcomeNotACommit() {
        // the server's answer to a request id it has committed before: 200, the original's version
        assertEquals(new ResponseScan.Result(ResponseScan.Outcome.DUPLICATE, 12), weasel(200,
                "{\"status\":\"committed\",\"version\":12,\"leader_id\":\"L\",\"request_id\":\"R\",\"duplicate\":true}"));
        LoopStats s = new LoopStats(1);
        s.record(ResponseScan.Outcome.DUPLICATE, 1_000, true, 0);
        assertEquals(0, s.committed);
        assertEquals(1, s.duplicates);
    }

    @Test
    void etcdFailedCompareIsAConflictAndTheRevisionIsItsVersion() {
        String ok = "{\"header\":{\"cluster_id\":\"3\",\"member_id\":\"4\",\"revision\":\"77\",\"raft_term\":\"2\"},"
                + "\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":{\"revision\":\"77\"}}}]}";
        String failed = "{\"header\":{\"cluster_id\":\"3\",\"member_id\":\"4\",\"revision\":\"78\",\"raft_term\":\"2\"}}";
        assertEquals(new ResponseScan.Result(ResponseScan.Outcome.COMMITTED, 77),
                ResponseScan.scan(BenchOptions.Target.ETCD, 200, body(ok)));
        assertEquals(new ResponseScan.Result(ResponseScan.Outcome.CONFLICT, 78),
                ResponseScan.scan(BenchOptions.Target.ETCD, 200, body(failed)));
        assertEquals(ResponseScan.Outcome.ERROR, ResponseScan.scan(BenchOptions.Target.ETCD, 400, body("{}")).outcome());
    }

    @Test
    void numberWithoutDigitsIsAbsent() {
        assertEquals(-1, ResponseScan.number(body("{\"version\":null}"), "\"version\":".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(-1, ResponseScan.number(body("{}"), "\"version\":".getBytes(StandardCharsets.US_ASCII)));
    }
}
