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
    static Batch roundTrip(BatchHeader h, List<Transaction> txns, List<String> bans) throws CorruptBatchException {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        for (Transaction t : txns) {
            e.append(t);
        }
        for (String ban : bans) {
            e.appendBan(ban);
        }
        return BatchCodec.decode("k", e.seal(h));
    }

    /** Empty keys, values and range begins are valid commits ("" is the first key): the log must read them back. */
    @Test
    void emptyKeysAndValuesRoundTrip() throws Exception {
        Batch batch = roundTrip(new BatchHeader(BatchHeader.DATA, 1, "l", 3, 3, 2, 2, 3, 0, 1, 0),
                List.of(new Transaction("r", 3, 2, 0, List.of(new Operation.Write(new byte[0], new byte[0]),
                        new Operation.Delete(new byte[0]), new Operation.RangeDelete(new byte[0], b("z")),
                        new Operation.Write(b("k"), new byte[0])))), List.of());
        List<Operation> ops = batch.transactions().get(0).operations();
        assertEquals(4, ops.size());
        assertArrayEquals(new byte[0], ((Operation.Write) ops.get(0)).key());
        assertArrayEquals(new byte[0], ((Operation.Write) ops.get(0)).value());
        assertArrayEquals(new byte[0], ((Operation.Delete) ops.get(1)).key());
        assertArrayEquals(new byte[0], ((Operation.RangeDelete) ops.get(2)).begin());
        assertArrayEquals(new byte[0], ((Operation.Write) ops.get(3)).value());
    }

    /**
     * Objects without transactions (term starts, heartbeats, ban-only batches) decode whatever
     * version the last transaction before them had.
     */
    @Test
    void objectsWithoutTransactionsDecode() throws Exception {
        BatchHeader marker = BatchHeader.termStart(3, "leader", 10, 9, 4, 77);
        Batch batch = BatchCodec.decode("k", BatchCodec.encodeEmpty(marker));
        assertEquals(marker, batch.header());
        assertTrue(batch.transactions().isEmpty());
        BatchHeader bansOnly = new BatchHeader(BatchHeader.DATA, 3, "leader", 11, 12, 10, 4, 4, 0, 0, 2);
        batch = roundTrip(bansOnly, List.of(), List.of("banned-1", "banned-2"));
        assertEquals(List.of("banned-1", "banned-2"), batch.bans());
        RequestIds ids = BatchCodec.decodeRequestIds("k", BatchCodec.encodeEmpty(marker));
        assertEquals(0, ids.versions().length);
    }

    /** A header whose last transaction version disagrees with the transactions, or versions that repeat, are corrupt. */
    @Test
    void transactionVersionsMustMatchTheHeader() {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        e.append(new Transaction("a", 5, 4, 0, List.of()));
        e.append(new Transaction("b", 6, 5, 0, List.of()));
        byte[] wrongLast = e.seal(new BatchHeader(BatchHeader.DATA, 1, "l", 5, 7, 4, 4, 7, 0, 2, 0));
        var x = assertThrows(CorruptBatchException.class, () -> BatchCodec.decode("k", wrongLast));
        assertTrue(x.getMessage().contains("last transaction is 6, header says 7"), x.getMessage());
        assertThrows(CorruptBatchException.class, () -> BatchCodec.decodeRequestIds("k", wrongLast));

        e.append(new Transaction("a", 5, 4, 0, List.of()));
        e.append(new Transaction("b", 5, 4, 0, List.of()));
        byte[] repeated = e.seal(new BatchHeader(BatchHeader.DATA, 1, "l", 5, 6, 4, 4, 5, 0, 2, 0));
        x = assertThrows(CorruptBatchException.class, () -> BatchCodec.decode("k", repeated));
        assertTrue(x.getMessage().contains("transaction 1 has version 5 outside 5..6 or out of order"), x.getMessage());
    }

    /** Leader ids of 0 to 255 UTF-8 bytes fit the header; a longer one is refused when writing. */
    @Test
    void leaderIdsUpTo255BytesRoundTrip() throws Exception {
        for (String leader : new String[] {"", "x".repeat(BatchCodec.MAX_LEADER_ID_BYTES), "\u00e9".repeat(127) + "x"}) {
            BatchHeader h = BatchHeader.termStart(1, leader, 0, -1, -1, 5);
            byte[] object = BatchCodec.encodeEmpty(h);
            assertEquals(h, BatchCodec.decode("k", object).header());
            assertEquals(h, BatchCodec.decodeHeader("k", object));
        }
        assertThrows(IllegalArgumentException.class,
                () -> BatchCodec.encodeEmpty(BatchHeader.termStart(1, "x".repeat(256), 0, -1, -1, 5)));
    }

    /** A header with a valid checksum but a kind this server does not know is corrupt, not misread. */
    @Test
    void anUnknownKindIsCorrupt() {
        byte[] object = BatchCodec.encodeEmpty(BatchHeader.termStart(1, "l", 0, -1, -1, 5));
        object[7] = 3; // kind, after the magic and the format
        int crcAt = BatchCodec.FIXED_HEADER + 1;
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(object, 0, crcAt);
        java.nio.ByteBuffer.wrap(object).putInt(crcAt, (int) crc.getValue());
        var x = assertThrows(CorruptBatchException.class, () -> BatchCodec.decodeHeader("k", object));
        assertTrue(x.getMessage().contains("invalid header: unknown batch kind 3"), x.getMessage());
    }

    /**
     * encodedSize is what a transaction adds to the object, for every kind of operation and
     * request ids of 1-, 2- and 3-byte characters (batch sizes are accounted by it).
     */
    @Test
    void encodedSizeIsExactForEveryOperationAndCharacterWidth() throws Exception {
        List<Operation> ops = List.of(new Operation.Write(b("key"), b("value!")), new Operation.Delete(b("deleted-key")),
                new Operation.RangeDelete(b("begin"), b("the-end")));
        String[] ids = {"ascii", "\u0080", "\u07ff-\u00e9", "\u0800", "\u20ac\uffff", "mixed-\u00e9\u20ac-x"};
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        int total = 0;
        int version = 1;
        for (String id : ids) {
            for (int n = 0; n <= ops.size(); n++) {
                Transaction t = new Transaction(id, version, version - 1, 0, ops.subList(0, n));
                int before = e.bodyBytes();
                e.append(t);
                assertEquals(BatchCodec.encodedSize(t), e.bodyBytes() - before, id + " with " + n + " operations");
                total += BatchCodec.encodedSize(t);
                version++;
            }
        }
        assertEquals(total, e.bodyBytes());
        assertEquals(ids.length * 4, e.count());
        int count = e.count();
        Batch batch = BatchCodec.decode("k", e.seal(new BatchHeader(BatchHeader.DATA, 1, "l", 1, version - 1, 0, 0,
                version - 1, 0, count, 0)));
        for (int i = 0; i < count; i++) {
            assertEquals(ids[i / 4], batch.transactions().get(i).requestId(), "request ids read back as written");
        }
    }

    /** Batches whose request ids and bans outgrow the encoder's first buffers encode whole. */
    @Test
    void manyTransactionsAndBansOutgrowTheFirstBuffers() throws Exception {
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        var random = new java.util.SplittableRandom(3);
        int n = 3000;
        String[] ids = new String[n];
        for (int i = 0; i < n; i++) {
            ids[i] = "r".repeat(random.nextInt(1, 300)) + (random.nextInt(4) == 0 ? "\u00e9\u20ac" : "") + i;
            e.append(new Transaction(ids[i], i + 1, i, i, List.of(new Operation.Write(b("k" + i), new byte[random.nextInt(0, 50)]))));
        }
        String[] bans = new String[n];
        for (int i = 0; i < n; i++) {
            bans[i] = "b".repeat(random.nextInt(1, 300)) + (random.nextInt(4) == 0 ? "\u00e9" : "") + i;
            e.appendBan(bans[i]);
        }
        Batch batch = BatchCodec.decode("k", e.seal(new BatchHeader(BatchHeader.DATA, 1, "l", 1, n, 0, 0, n, 0, n, n)));
        for (int i = 0; i < n; i++) {
            assertEquals(ids[i], batch.transactions().get(i).requestId());
        }
        assertEquals(List.of(bans), batch.bans());
    }

    /** Object names are the storage format: an upgraded server must find what an older one wrote. */
    @Test
    void objectNamesAreStable() {
        LogLayout l = new LogLayout("p/");
        assertEquals("p/log/", l.logPrefix());
        assertEquals("p/truncated/", l.floorPrefix());
        assertEquals("p/truncated/00000000000000000007", l.floorKey(7));
        assertEquals(7, l.floorOf("p/truncated/00000000000000000007"));
        assertEquals(-1, l.floorOf("p/log/00000000000000000007"));
        assertEquals("p/leader/", l.leaderPrefix());
        assertEquals("p/leader/00000000000000000003", l.leaderKey(3));
        assertEquals("p/retention/", l.retentionPrefix());
        assertThrows(IllegalArgumentException.class, () -> l.objectKey(-1));
    }

    /** A name under log/ that is not 20 decimal digits of a version is no log object. */
    @Test
    void onlyTwentyDigitNamesAreLogObjects() {
        LogLayout l = new LogLayout("p/");
        assertEquals(-1, l.versionOf("p/log/0000000000000000004x"));
        assertEquals(-1, l.versionOf("p/log/-0000000000000000042"));
        assertEquals(-1, l.versionOf("p/log/0000000000000000004/"));
        assertEquals(-1, l.versionOf("p/log/99999999999999999999"), "past Long.MAX_VALUE");
        assertEquals(-1, l.versionOf("p/log/09223372036854775808"), "Long.MAX_VALUE + 1");
        assertEquals(-1, l.versionOf("p/log/18446744073709551617"), "2^64 + 1, which wraps around to 1");
        assertEquals(-1, l.floorOf("p/truncated/18446744073709551617"));
        assertEquals(-1, l.versionOf("p/log/000000000000000000042"));
        assertEquals(0, l.versionOf("p/log/00000000000000000000"));
    }
}
