package io.weaseldb.subscribe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Transaction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The SSE framing of the stream, byte for byte as docs/api.md shows it. */
class SseEncoderTest {
    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void transactionsAreFramedWithTheirIdAndEachTimestampAndTheirOffsetsSplitThem() {
        // 2026-11-22T19:00:12.605Z and .788Z: two transactions of one batch in different milliseconds
        long t1 = 1_795_374_012_605L;
        long t2 = 1_795_374_012_788L;
        List<Transaction> txns = List.of(
                new Transaction("req-1", 7, 3, t1, List.of(new Operation.Write(b("hello"), b("world")))),
                new Transaction("req-2", 9, 7, t2, List.of(new Operation.Delete(b("hello")),
                        new Operation.RangeDelete(b("a"), b("z")))),
                new Transaction("req-3", 10, 9, t2, List.of()));
        int[] offsets = new int[4];
        String out = new String(new SseEncoder().encode(txns, "L1", offsets), StandardCharsets.UTF_8);
        String first = "id: 7\nevent: transaction\ndata: {\"request_id\":\"req-1\",\"version\":7,\"prev_version\":3,"
                + "\"timestamp\":\"2026-11-22T19:00:12.605Z\",\"leader_id\":\"L1\",\"operations\":[{\"type\":\"write\","
                + "\"key\":\"aGVsbG8=\",\"value\":\"d29ybGQ=\"}]}\n\n";
        String second = "id: 9\nevent: transaction\ndata: {\"request_id\":\"req-2\",\"version\":9,\"prev_version\":7,"
                + "\"timestamp\":\"2026-11-22T19:00:12.788Z\",\"leader_id\":\"L1\",\"operations\":[{\"type\":\"delete\","
                + "\"key\":\"aGVsbG8=\"},{\"type\":\"range_delete\",\"begin\":\"YQ==\",\"end\":\"eg==\"}]}\n\n";
        String third = "id: 10\nevent: transaction\ndata: {\"request_id\":\"req-3\",\"version\":10,\"prev_version\":9,"
                + "\"timestamp\":\"2026-11-22T19:00:12.788Z\",\"leader_id\":\"L1\",\"operations\":[]}\n\n";
        assertEquals(first + second + third, out);
        int a = b(first).length;
        int c = a + b(second).length;
        assertArrayEquals(new int[] {0, a, c, c + b(third).length}, offsets);
    }

    @Test
    void checkpointsAndKeepalivesAreFramedWithoutAnId() {
        assertEquals("event: checkpoint\ndata: {\"committed_version\":6,\"leader_id\":\"L1\"}\n\n",
                new String(SseEncoder.checkpoint(6, "L1"), StandardCharsets.UTF_8));
        assertEquals(": keepalive\n\n", new String(SseEncoder.KEEPALIVE, StandardCharsets.US_ASCII));
    }
}
