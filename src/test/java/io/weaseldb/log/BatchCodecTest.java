package io.weaseldb.log;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Transaction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchCodecTest {
    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] sample() {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        e.append(new Transaction("r1", 5, 3, 1000, List.of(new Operation.Write(b("k"), b("v")), new Operation.Delete(b("d")))));
        e.append(new Transaction("r2-é", 6, 5, 1001, List.of(new Operation.RangeDelete(b("a"), b("b")))));
        e.appendBan("banned-request-id-0001");
        return e.seal(new BatchHeader(BatchHeader.DATA, 2, "leader", 5, 7, 4, 3, 6, 999, 2, 1));
    }

    @Test
    void roundTripsHeaderAndTransactions() throws Exception {
        Batch batch = BatchCodec.decode("k", sample());
        assertEquals(new BatchHeader(BatchHeader.DATA, 2, "leader", 5, 7, 4, 3, 6, 999, 2, 1), batch.header());
        assertEquals(List.of("banned-request-id-0001"), batch.bans());
        Transaction t1 = batch.transactions().get(0);
        assertEquals("r1", t1.requestId());
        assertEquals(5, t1.version());
        assertEquals(3, t1.prevVersion());
        assertEquals(1000, t1.timestampMillis());
        assertArrayEquals(b("v"), ((Operation.Write) t1.operations().get(0)).value());
        Transaction t2 = batch.transactions().get(1);
        assertEquals("r2-é", t2.requestId());
        assertEquals(5, t2.prevVersion());
        assertArrayEquals(b("b"), ((Operation.RangeDelete) t2.operations().get(0)).end());
        assertEquals(batch.header(), BatchCodec.decodeHeader("k", sample()));
    }

    @Test
    void theRequestIdSectionDecodesFromAPrefixOfTheObject() throws Exception {
        byte[] whole = sample();
        int end = BatchCodec.requestIdsEnd("k", whole);
        assertTrue(end < whole.length);
        RequestIds ids = BatchCodec.decodeRequestIds("k", java.util.Arrays.copyOf(whole, end));
        assertArrayEquals(new long[] {5, 6}, ids.versions());
        assertEquals(List.of("r1", "r2-é"), ids.requestIds());
        assertEquals(List.of("banned-request-id-0001"), ids.bans());
        assertThrows(CorruptBatchException.class, () -> BatchCodec.decodeRequestIds("k", java.util.Arrays.copyOf(whole, end - 1)));
    }

    @Test
    void detectsEverySingleByteCorruption() {
        byte[] good = sample();
        for (int i = 0; i < good.length; i++) {
            byte[] bad = good.clone();
            bad[i] ^= 0x40;
            assertThrows(CorruptBatchException.class, () -> BatchCodec.decode("k", bad), "flip at byte " + i);
        }
    }

    @Test
    void detectsTruncation() {
        byte[] good = sample();
        for (int n = 0; n < good.length; n++) {
            byte[] cut = java.util.Arrays.copyOf(good, n);
            assertThrows(CorruptBatchException.class, () -> BatchCodec.decode("k", cut), "cut at " + n);
        }
    }

    @Test
    void encoderIsReusableAndSizesAreExact() throws Exception {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        Transaction t = new Transaction("x", 1, 0, 1, List.of(new Operation.Write(new byte[100_000], new byte[200_000])));
        e.append(t);
        assertEquals(BatchCodec.encodedSize(t), e.bodyBytes());
        e.seal(new BatchHeader(BatchHeader.DATA, 1, "l", 1, 1, 0, 0, 1, 0, 1, 0));
        assertEquals(0, e.bodyBytes());
        Transaction t2 = new Transaction("y", 2, 1, 1, List.of());
        e.append(t2);
        byte[] obj = e.seal(new BatchHeader(BatchHeader.DATA, 1, "l", 2, 2, 1, 1, 2, 0, 1, 0));
        assertEquals("y", BatchCodec.decode("k", obj).transactions().get(0).requestId());
    }

    @Test
    void layoutNamesSortInVersionOrder() {
        LogLayout l = new LogLayout("p/");
        assertEquals("p/log/00000000000000000042", l.objectKey(42));
        assertEquals(42, l.versionOf("p/log/00000000000000000042"));
        assertEquals(-1, l.versionOf("p/log/42"));
        assertEquals(-1, l.versionOf("p/retention/x"));
        assertEquals(Long.MAX_VALUE, l.versionOf(l.objectKey(Long.MAX_VALUE)));
        assert l.objectKey(9).compareTo(l.objectKey(10)) < 0;
    }
}
