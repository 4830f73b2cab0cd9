package io.weaseldb.log;

import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Transaction;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Binary format of log objects: a header (magic, format, kind, term, versions, count, body length
 * and CRC32C, leader id, header CRC32C) followed by the transactions. Big-endian. Layout in
 * {@code docs/log-format.md}.
 *
 * <p>Encoding is incremental: the persister appends each transaction as it arrives (so it knows
 * the batch size exactly) and seals the object once. One {@link Encoder} per persister thread.
 */
public final class BatchCodec {
    static final int MAGIC = 0x57534c42; // "WSLB"
    static final int FORMAT = 1;
    /** Fixed header bytes before the leader id. */
    static final int FIXED_HEADER = 70;
    public static final int MAX_LEADER_ID_BYTES = 255;
    /** Enough bytes to hold any header: a ranged GET of this many bytes reads it. */
    public static final int MAX_HEADER_BYTES = FIXED_HEADER + MAX_LEADER_ID_BYTES + 4;

    static final byte OP_WRITE = 1;
    static final byte OP_DELETE = 2;
    static final byte OP_RANGE_DELETE = 3;

    private BatchCodec() {}

    /** Bytes a transaction takes in the body; used for batch size accounting before encoding. */
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

    /**
     * Accumulates transactions for one batch and seals them into an object body. Reusable: after
     * {@link #seal} it starts empty. Owned by the persister thread.
     */
    public static final class Encoder {
        private byte[] body = new byte[64 << 10];
        private ByteBuffer out = ByteBuffer.wrap(body);
        private int count;

        public int bodyBytes() {
            return out.position();
        }

        public int count() {
            return count;
        }

        public void append(Transaction t) {
            ensure(encodedSize(t));
            out.putLong(t.version());
            out.putLong(t.timestampMillis());
            byte[] rid = t.requestId().getBytes(StandardCharsets.UTF_8);
            out.putShort((short) rid.length);
            out.put(rid);
            out.putInt(t.operations().size());
            for (Operation op : t.operations()) {
                switch (op) {
                    case Operation.Write w -> {
                        out.put(OP_WRITE);
                        putBytes(w.key());
                        putBytes(w.value());
                    }
                    case Operation.Delete d -> {
                        out.put(OP_DELETE);
                        putBytes(d.key());
                    }
                    case Operation.RangeDelete r -> {
                        out.put(OP_RANGE_DELETE);
                        putBytes(r.begin());
                        putBytes(r.end());
                    }
                }
            }
            count++;
        }

        /** Drops what was appended (the batch will not be written). */
        public void reset() {
            out.clear();
            count = 0;
        }

        /** The whole object for {@code header} (whose count must match) over the appended body. */
        public byte[] seal(BatchHeader header) {
            if (header.count() != count) {
                throw new IllegalStateException("header count " + header.count() + " but " + count + " transactions appended");
            }
            byte[] object = encodeObject(header, body, out.position());
            out.clear();
            count = 0;
            if (body.length > (8 << 20)) { // do not keep a huge buffer after an outsized batch
                body = new byte[64 << 10];
                out = ByteBuffer.wrap(body);
            }
            return object;
        }

        private void putBytes(byte[] b) {
            out.putInt(b.length);
            out.put(b);
        }

        private void ensure(int extra) {
            if (out.remaining() >= extra) {
                return;
            }
            int need = out.position() + extra;
            int cap = body.length;
            while (cap < need) {
                cap = Math.max(cap * 2, need);
            }
            byte[] bigger = java.util.Arrays.copyOf(body, cap);
            int pos = out.position();
            body = bigger;
            out = ByteBuffer.wrap(body);
            out.position(pos);
        }
    }

    /** Encodes a whole object (header + body bytes [0, bodyLength)). */
    static byte[] encodeObject(BatchHeader h, byte[] body, int bodyLength) {
        byte[] leader = h.leaderId().getBytes(StandardCharsets.UTF_8);
        if (leader.length > MAX_LEADER_ID_BYTES) {
            throw new IllegalArgumentException("leader id longer than " + MAX_LEADER_ID_BYTES + " bytes");
        }
        int headerLength = FIXED_HEADER + leader.length + 4;
        byte[] object = new byte[headerLength + bodyLength];
        ByteBuffer b = ByteBuffer.wrap(object);
        CRC32C bodyCrc = new CRC32C();
        bodyCrc.update(body, 0, bodyLength);
        b.putInt(MAGIC);
        b.putShort((short) FORMAT);
        b.putShort((short) h.kind());
        b.putLong(h.term());
        b.putLong(h.firstVersion());
        b.putLong(h.lastVersion());
        b.putLong(h.prevVersion());
        b.putLong(h.prevTxnVersion());
        b.putLong(h.timestampMillis());
        b.putInt(h.count());
        b.putInt(bodyLength);
        b.putInt((int) bodyCrc.getValue());
        b.putShort((short) leader.length);
        b.put(leader);
        CRC32C headerCrc = new CRC32C();
        headerCrc.update(object, 0, b.position());
        b.putInt((int) headerCrc.getValue());
        b.put(body, 0, bodyLength);
        return object;
    }

    /** An object with no transactions (a term start). */
    public static byte[] encodeEmpty(BatchHeader header) {
        if (header.count() != 0) {
            throw new IllegalArgumentException("not an empty batch");
        }
        return encodeObject(header, new byte[0], 0);
    }

    /** Decodes and validates the header from the first bytes of an object (at least the header). */
    public static BatchHeader decodeHeader(String objectKey, byte[] data) throws CorruptBatchException {
        return readHeader(objectKey, ByteBuffer.wrap(data)).header;
    }

    private record HeaderAndBody(BatchHeader header, int bodyLength, int bodyCrc, int bodyOffset) {}

    private static HeaderAndBody readHeader(String key, ByteBuffer b) throws CorruptBatchException {
        if (b.remaining() < FIXED_HEADER + 4) {
            throw new CorruptBatchException(key, "object too short for a header (" + b.remaining() + " bytes)");
        }
        int start = b.position();
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
        long ts = b.getLong();
        int count = b.getInt();
        int bodyLength = b.getInt();
        int bodyCrc = b.getInt();
        int leaderLength = b.getShort() & 0xffff;
        if (leaderLength > MAX_LEADER_ID_BYTES || b.remaining() < leaderLength + 4) {
            throw new CorruptBatchException(key, "truncated header");
        }
        byte[] leader = new byte[leaderLength];
        b.get(leader);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), b.arrayOffset() + start, b.position() - start);
        if ((int) crc.getValue() != b.getInt()) {
            throw new CorruptBatchException(key, "header checksum mismatch");
        }
        BatchHeader h;
        try {
            h = new BatchHeader(kind, term, new String(leader, StandardCharsets.UTF_8), first, last, prev, prevTxn, ts, count);
        } catch (IllegalArgumentException e) {
            throw new CorruptBatchException(key, "invalid header: " + e.getMessage());
        }
        return new HeaderAndBody(h, bodyLength, bodyCrc, b.position());
    }

    /** Decodes and validates a whole object. */
    public static Batch decode(String objectKey, byte[] data) throws CorruptBatchException {
        ByteBuffer b = ByteBuffer.wrap(data);
        HeaderAndBody hb = readHeader(objectKey, b);
        BatchHeader h = hb.header;
        if (data.length - hb.bodyOffset != hb.bodyLength) {
            throw new CorruptBatchException(objectKey, "body is " + (data.length - hb.bodyOffset) + " bytes, header says " + hb.bodyLength);
        }
        CRC32C crc = new CRC32C();
        crc.update(data, hb.bodyOffset, hb.bodyLength);
        if ((int) crc.getValue() != hb.bodyCrc) {
            throw new CorruptBatchException(objectKey, "body checksum mismatch");
        }
        List<Transaction> txns = new ArrayList<>(h.count());
        long prevTxn = h.prevTxnVersion();
        try {
            for (int i = 0; i < h.count(); i++) {
                long version = b.getLong();
                if (version != h.firstVersion() + i) {
                    throw new CorruptBatchException(objectKey, "transaction " + i + " has version " + version
                            + ", expected " + (h.firstVersion() + i));
                }
                long ts = b.getLong();
                byte[] rid = new byte[b.getShort() & 0xffff];
                b.get(rid);
                int ops = b.getInt();
                if (ops < 0 || ops > b.remaining()) {
                    throw new CorruptBatchException(objectKey, "invalid operation count " + ops);
                }
                List<Operation> list = new ArrayList<>(ops);
                for (int j = 0; j < ops; j++) {
                    byte type = b.get();
                    list.add(switch (type) {
                        case OP_WRITE -> new Operation.Write(bytes(b, objectKey), bytes(b, objectKey));
                        case OP_DELETE -> new Operation.Delete(bytes(b, objectKey));
                        case OP_RANGE_DELETE -> new Operation.RangeDelete(bytes(b, objectKey), bytes(b, objectKey));
                        default -> throw new CorruptBatchException(objectKey, "unknown operation type " + type);
                    });
                }
                txns.add(new Transaction(new String(rid, StandardCharsets.UTF_8), version, prevTxn, ts, list));
                prevTxn = version;
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw new CorruptBatchException(objectKey, "truncated body");
        }
        if (b.hasRemaining()) {
            throw new CorruptBatchException(objectKey, b.remaining() + " unexpected bytes after the last transaction");
        }
        return new Batch(h, txns);
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

    private static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n++;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c)) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }
}
