package io.weaseldb.log;

import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Transaction;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Binary format of log objects, big-endian (layout in {@code docs/log-format.md}):
 *
 * <pre>
 * header   magic "WSLB", format, kind, term, first/last/prev/prevTxn/lastTxn versions, timestamp,
 *          count, banCount, idsLength, bodyLength, body CRC32C, leader id, header CRC32C
 * ids      per transaction: version, timestamp, request id; then the banned request ids
 * ops      per transaction: its operations
 * </pre>
 *
 * The request ids come first so the request-id index can be rebuilt from a ranged read of each
 * object's first bytes. Encoding is incremental: the persister appends each transaction as it
 * arrives (knowing the batch size exactly) and seals the object once.
 */
public final class BatchCodec {
    static final int MAGIC = 0x57534c42; // "WSLB"
    static final int FORMAT = 1;
    /** Fixed header bytes before the leader id. */
    static final int FIXED_HEADER = 86;
    public static final int MAX_LEADER_ID_BYTES = 255;
    /** Enough bytes to hold any header: a ranged GET of this many bytes reads it. */
    public static final int MAX_HEADER_BYTES = FIXED_HEADER + MAX_LEADER_ID_BYTES + 4;

    static final byte OP_WRITE = 1;
    static final byte OP_DELETE = 2;
    static final byte OP_RANGE_DELETE = 3;

    private BatchCodec() {}

    /** Bytes a transaction takes in an object; used for batch size accounting before encoding. */
    public static int encodedSize(Transaction t) {
        int n = 8 + 8 + 2 + utf8Length(t.requestId()) + 4;
        for (Operation op : t.operations()) {
            n += 1 + switch (op) {
                case Operation.Write w -> 4 + w.key().length + 4 + w.value().length;
                case Operation.Delete d -> 4 + d.key().length;
                case Operation.RangeDelete r -> 4 + r.begin().length + 4 + r.end().length;
            };
        }
        return n;
    }

    /** A growable big-endian buffer. */
    private static final class Buf {
        byte[] bytes;
        ByteBuffer out;

        Buf(int initial) {
            bytes = new byte[initial];
            out = ByteBuffer.wrap(bytes);
        }

        void ensure(int extra) {
            if (out.remaining() >= extra) {
                return;
            }
            int need = out.position() + extra;
            int cap = bytes.length;
            while (cap < need) {
                cap = Math.max(cap * 2, need);
            }
            int pos = out.position();
            bytes = Arrays.copyOf(bytes, cap);
            out = ByteBuffer.wrap(bytes);
            out.position(pos);
        }

        void putBytes(byte[] b) {
            out.putInt(b.length);
            out.put(b);
        }

        /**
         * Room for the string must be {@link #ensure}d first (2 + its UTF-8 length);
         * {@code utf8Length} is {@link BatchCodec#utf8Length} of it, which the caller sized that by.
         */
        void putShortString(String s, int utf8Length) {
            int n = s.length();
            if (n <= 0xffff && utf8Length == n) {
                // ASCII (generated ids always are): written as is, without an encoded copy per string
                out.putShort((short) n);
                for (int i = 0; i < n; i++) {
                    out.put((byte) s.charAt(i));
                }
                return;
            }
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            if (b.length > 0xffff) {
                throw new IllegalArgumentException("string too long for the log: " + b.length + " bytes");
            }
            out.putShort((short) b.length);
            out.put(b);
        }

        void reset(int keepAtMost) {
            out.clear();
            if (bytes.length > keepAtMost) {
                bytes = new byte[64 << 10];
                out = ByteBuffer.wrap(bytes);
            }
        }
    }

    /**
     * Accumulates one batch's transactions and bans and seals them into an object. Reusable:
     * after {@link #seal} or {@link #reset} it starts empty. Owned by the persister thread.
     */
    public static final class Encoder {
        private final Buf ids = new Buf(16 << 10);
        private final Buf ops = new Buf(64 << 10);
        private int count;
        private int bans;

        public int bodyBytes() {
            return ids.out.position() + ops.out.position();
        }

        public int count() {
            return count;
        }

        public void append(Transaction t) {
            if (bans > 0) {
                throw new IllegalStateException("transactions must be appended before bans");
            }
            int idLength = utf8Length(t.requestId());
            ids.ensure(18 + idLength * 2);
            ids.out.putLong(t.version());
            ids.out.putLong(t.timestampMillis());
            ids.putShortString(t.requestId(), idLength);
            ops.ensure(encodedSize(t));
            ops.out.putInt(t.operations().size());
            for (Operation op : t.operations()) {
                switch (op) {
                    case Operation.Write w -> {
                        ops.out.put(OP_WRITE);
                        ops.putBytes(w.key());
                        ops.putBytes(w.value());
                    }
                    case Operation.Delete d -> {
                        ops.out.put(OP_DELETE);
                        ops.putBytes(d.key());
                    }
                    case Operation.RangeDelete r -> {
                        ops.out.put(OP_RANGE_DELETE);
                        ops.putBytes(r.begin());
                        ops.putBytes(r.end());
                    }
                }
            }
            count++;
        }

        public void appendBan(String requestId) {
            int idLength = utf8Length(requestId);
            ids.ensure(2 + idLength * 2);
            ids.putShortString(requestId, idLength);
            bans++;
        }

        /** The whole object for {@code header}, whose counts must match what was appended. */
        public byte[] seal(BatchHeader header) {
            if (header.count() != count || header.banCount() != bans) {
                throw new IllegalStateException("header counts " + header.count() + "/" + header.banCount()
                        + " but appended " + count + "/" + bans);
            }
            byte[] object = encodeObject(header, ids.bytes, ids.out.position(), ops.bytes, ops.out.position());
            reset();
            return object;
        }

        /** Drops what was appended. */
        public void reset() {
            ids.reset(4 << 20);
            ops.reset(8 << 20);
            count = 0;
            bans = 0;
        }
    }

    static byte[] encodeObject(BatchHeader h, byte[] ids, int idsLength, byte[] ops, int opsLength) {
        byte[] leader = h.leaderId().getBytes(StandardCharsets.UTF_8);
        if (leader.length > MAX_LEADER_ID_BYTES) {
            throw new IllegalArgumentException("leader id longer than " + MAX_LEADER_ID_BYTES + " bytes");
        }
        int headerLength = FIXED_HEADER + leader.length + 4;
        int bodyLength = idsLength + opsLength;
        byte[] object = new byte[headerLength + bodyLength];
        System.arraycopy(ids, 0, object, headerLength, idsLength);
        System.arraycopy(ops, 0, object, headerLength + idsLength, opsLength);
        CRC32C bodyCrc = new CRC32C();
        bodyCrc.update(object, headerLength, bodyLength);
        ByteBuffer b = ByteBuffer.wrap(object);
        b.putInt(MAGIC);
        b.putShort((short) FORMAT);
        b.putShort((short) h.kind());
        b.putLong(h.term());
        b.putLong(h.firstVersion());
        b.putLong(h.lastVersion());
        b.putLong(h.prevVersion());
        b.putLong(h.prevTxnVersion());
        b.putLong(h.lastTxnVersion());
        b.putLong(h.timestampMillis());
        b.putInt(h.count());
        b.putInt(h.banCount());
        b.putInt(idsLength);
        b.putInt(bodyLength);
        b.putInt((int) bodyCrc.getValue());
        b.putShort((short) leader.length);
        b.put(leader);
        CRC32C headerCrc = new CRC32C();
        headerCrc.update(object, 0, b.position());
        b.putInt((int) headerCrc.getValue());
        assert b.position() == headerLength;
        return object;
    }

    /** Bytes of a leader id as this server generates them (a UUID string). */
    static final int UUID_LEADER_ID_BYTES = 36;

    /**
     * Whether an object of {@code size} bytes, written by a leader with a UUID id (every leader),
     * is a bare marker: a term start, term end or heartbeat, with no transaction and no ban.
     * Such an object is exactly its header; one with a transaction or a ban is always larger.
     * Lets recovery skip reading markers, which an idle leader writes once per heartbeat.
     */
    public static boolean isBareMarkerSize(long size) {
        return size == FIXED_HEADER + UUID_LEADER_ID_BYTES + 4;
    }

    /** An object with no transaction and no ban (a term start or a heartbeat). */
    public static byte[] encodeEmpty(BatchHeader header) {
        if (header.count() != 0 || header.banCount() != 0) {
            throw new IllegalArgumentException("not an empty batch");
        }
        return encodeObject(header, new byte[0], 0, new byte[0], 0);
    }

    private record Parsed(BatchHeader header, int idsLength, int bodyLength, int bodyCrc, int bodyOffset) {}

    private static Parsed readHeader(String key, byte[] data) throws CorruptBatchException {
        ByteBuffer b = ByteBuffer.wrap(data);
        if (b.remaining() < FIXED_HEADER + 4) {
            throw new CorruptBatchException(key, "object too short for a header (" + b.remaining() + " bytes)");
        }
        if (b.getInt() != MAGIC) {
            throw new CorruptBatchException(key, "not a WeaselDB log object (bad magic)");
        }
        int format = b.getShort() & 0xffff;
        if (format != FORMAT) {
            throw new CorruptBatchException(key, "unsupported log format " + format + " (this server reads format " + FORMAT + ")");
        }
        int kind = b.getShort() & 0xffff;
        long term = b.getLong();
        long first = b.getLong();
        long last = b.getLong();
        long prev = b.getLong();
        long prevTxn = b.getLong();
        long lastTxn = b.getLong();
        long ts = b.getLong();
        int count = b.getInt();
        int banCount = b.getInt();
        int idsLength = b.getInt();
        int bodyLength = b.getInt();
        int bodyCrc = b.getInt();
        int leaderLength = b.getShort() & 0xffff;
        if (leaderLength > MAX_LEADER_ID_BYTES || b.remaining() < leaderLength + 4) {
            throw new CorruptBatchException(key, "truncated header");
        }
        byte[] leader = new byte[leaderLength];
        b.get(leader);
        CRC32C crc = new CRC32C();
        crc.update(data, 0, b.position());
        if ((int) crc.getValue() != b.getInt()) {
            throw new CorruptBatchException(key, "header checksum mismatch");
        }
        if (idsLength < 0 || bodyLength < idsLength) {
            throw new CorruptBatchException(key, "invalid section lengths");
        }
        BatchHeader h;
        try {
            h = new BatchHeader(kind, term, new String(leader, StandardCharsets.UTF_8), first, last, prev, prevTxn, lastTxn,
                    ts, count, banCount);
        } catch (IllegalArgumentException e) {
            throw new CorruptBatchException(key, "invalid header: " + e.getMessage());
        }
        return new Parsed(h, idsLength, bodyLength, bodyCrc, b.position());
    }

    /** Decodes and validates the header from the first bytes of an object. */
    public static BatchHeader decodeHeader(String objectKey, byte[] data) throws CorruptBatchException {
        return readHeader(objectKey, data).header;
    }

    /** Bytes from the start of the object through the request-id section, known once the header is read. */
    public static int requestIdsEnd(String objectKey, byte[] prefix) throws CorruptBatchException {
        Parsed p = readHeader(objectKey, prefix);
        return p.bodyOffset + p.idsLength;
    }

    /**
     * Decodes the request-id section from the object's first bytes (at least
     * {@link #requestIdsEnd}). The body checksum cannot be checked on a prefix; the section is
     * validated structurally instead.
     */
    public static RequestIds decodeRequestIds(String objectKey, byte[] prefix) throws CorruptBatchException {
        Parsed p = readHeader(objectKey, prefix);
        if (prefix.length < p.bodyOffset + p.idsLength) {
            throw new CorruptBatchException(objectKey, "request-id section truncated");
        }
        ByteBuffer b = ByteBuffer.wrap(prefix, p.bodyOffset, p.idsLength);
        try {
            IdSection s = readIds(objectKey, b, p.header);
            if (b.hasRemaining()) {
                throw new CorruptBatchException(objectKey, "unexpected bytes in the request-id section");
            }
            return new RequestIds(p.header, s.versions, s.timestamps, s.ids, s.bans);
        } catch (java.nio.BufferUnderflowException e) {
            throw new CorruptBatchException(objectKey, "request-id section truncated");
        }
    }

    private record IdSection(long[] versions, long[] timestamps, List<String> ids, List<String> bans) {}

    private static IdSection readIds(String key, ByteBuffer b, BatchHeader h) throws CorruptBatchException {
        int n = h.count();
        long[] versions = new long[n];
        long[] timestamps = new long[n];
        List<String> ids = new ArrayList<>(n);
        long prev = h.firstVersion() - 1;
        for (int i = 0; i < n; i++) {
            long v = b.getLong();
            if (v <= prev || v > h.lastVersion()) {
                throw new CorruptBatchException(key, "transaction " + i + " has version " + v + " outside "
                        + h.firstVersion() + ".." + h.lastVersion() + " or out of order");
            }
            prev = v;
            versions[i] = v;
            timestamps[i] = b.getLong();
            ids.add(shortString(b));
        }
        if (n > 0 && prev != h.lastTxnVersion()) {
            throw new CorruptBatchException(key, "last transaction is " + prev + ", header says " + h.lastTxnVersion());
        }
        List<String> bans = new ArrayList<>(h.banCount());
        for (int i = 0; i < h.banCount(); i++) {
            bans.add(shortString(b));
        }
        return new IdSection(versions, timestamps, ids, bans);
    }

    /** Decodes and validates a whole object. */
    public static Batch decode(String objectKey, byte[] data) throws CorruptBatchException {
        Parsed p = readHeader(objectKey, data);
        BatchHeader h = p.header;
        if (data.length - p.bodyOffset != p.bodyLength) {
            throw new CorruptBatchException(objectKey, "body is " + (data.length - p.bodyOffset) + " bytes, header says " + p.bodyLength);
        }
        CRC32C crc = new CRC32C();
        crc.update(data, p.bodyOffset, p.bodyLength);
        if ((int) crc.getValue() != p.bodyCrc) {
            throw new CorruptBatchException(objectKey, "body checksum mismatch");
        }
        try {
            IdSection s = readIds(objectKey, ByteBuffer.wrap(data, p.bodyOffset, p.idsLength), h);
            ByteBuffer b = ByteBuffer.wrap(data, p.bodyOffset + p.idsLength, p.bodyLength - p.idsLength);
            List<Transaction> txns = new ArrayList<>(h.count());
            long prevTxn = h.prevTxnVersion();
            for (int i = 0; i < h.count(); i++) {
                int opCount = b.getInt();
                if (opCount < 0 || opCount > b.remaining()) {
                    throw new CorruptBatchException(objectKey, "invalid operation count " + opCount);
                }
                List<Operation> list = new ArrayList<>(opCount);
                for (int j = 0; j < opCount; j++) {
                    byte type = b.get();
                    list.add(switch (type) {
                        case OP_WRITE -> new Operation.Write(bytes(b, objectKey), bytes(b, objectKey));
                        case OP_DELETE -> new Operation.Delete(bytes(b, objectKey));
                        case OP_RANGE_DELETE -> new Operation.RangeDelete(bytes(b, objectKey), bytes(b, objectKey));
                        default -> throw new CorruptBatchException(objectKey, "unknown operation type " + type);
                    });
                }
                txns.add(new Transaction(s.ids.get(i), s.versions[i], prevTxn, s.timestamps[i], list));
                prevTxn = s.versions[i];
            }
            if (b.hasRemaining()) {
                throw new CorruptBatchException(objectKey, b.remaining() + " unexpected bytes after the last transaction");
            }
            return new Batch(h, txns, s.bans);
        } catch (java.nio.BufferUnderflowException e) {
            throw new CorruptBatchException(objectKey, "truncated body");
        }
    }

    private static String shortString(ByteBuffer b) {
        byte[] s = new byte[b.getShort() & 0xffff];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static byte[] bytes(ByteBuffer b, String key) throws CorruptBatchException {
        int n = b.getInt();
        if (n < 0 || n > b.remaining()) {
            throw new CorruptBatchException(key, "invalid length " + n);
        }
        byte[] out = new byte[n];
        b.get(out);
        return out;
    }

    static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n++;
            } else if (c < 0x800) {
                n += 2;
            } else {
                n += 3; // surrogate pairs count 3 + 3 >= 4: an over-estimate is fine for sizing
            }
        }
        return n;
    }
}
