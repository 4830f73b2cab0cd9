package io.weaseldb.subscribe;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.weaseldb.json.JsonWriter;
import io.weaseldb.time.Timestamps;
import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Transaction;
import java.nio.charset.StandardCharsets;

/**
 * Server-Sent Events framing of the stream: {@code transaction} events (with {@code id:} so
 * EventSource reconnects resume), {@code checkpoint} events and keepalive comments. Each
 * transaction is encoded once and the bytes shared by every subscriber.
 *
 * <p>Holds a reusable scratch buffer, a JSON writer and the last timestamp it formatted (the
 * transactions of a batch mostly share their millisecond): one instance per thread.
 */
public final class SseEncoder {
    public static final byte[] KEEPALIVE = ": keepalive\n\n".getBytes(StandardCharsets.US_ASCII);
    private final ByteBuf scratch = Unpooled.buffer(64 << 10);
    /** Writes each event's JSON, one at a time (a new writer per event was 24 B per transaction). */
    private final JsonWriter writer = new JsonWriter(null);
    private long isoMillis = Long.MIN_VALUE;
    private String iso;

    /**
     * Encodes transactions into one byte array; {@code offsets[i]} is where transaction i's
     * event starts and {@code offsets[n]} the total length, so any suffix can be sent alone.
     */
    public byte[] encode(java.util.List<Transaction> txns, String leaderId, int[] offsets) {
        scratch.clear();
        for (int i = 0; i < txns.size(); i++) {
            offsets[i] = scratch.writerIndex();
            writeTransaction(scratch, txns.get(i), leaderId, iso(txns.get(i).timestampMillis()));
        }
        offsets[txns.size()] = scratch.writerIndex();
        byte[] out = new byte[scratch.writerIndex()];
        scratch.getBytes(0, out);
        if (scratch.capacity() > (4 << 20)) {
            scratch.capacity(64 << 10);
        }
        return out;
    }

    private String iso(long millis) {
        if (millis != isoMillis) {
            iso = Timestamps.iso(millis);
            isoMillis = millis;
        }
        return iso;
    }

    private void writeTransaction(ByteBuf out, Transaction t, String leaderId, String timestamp) {
        out.writeCharSequence("id: ", StandardCharsets.US_ASCII);
        JsonWriter.writeLong(out, t.version());
        out.writeCharSequence("\nevent: transaction\ndata: ", StandardCharsets.US_ASCII);
        JsonWriter w = writer.reset(out).beginObject()
                .field("request_id", t.requestId())
                .field("version", t.version())
                .field("prev_version", t.prevVersion())
                .field("timestamp", timestamp)
                .field("leader_id", leaderId)
                .beginArray("operations");
        java.util.List<Operation> ops = t.operations();
        for (int i = 0; i < ops.size(); i++) { // by index: the iterator was not elided here (32 B per event)
            Operation op = ops.get(i);
            w.beginElementObject();
            switch (op) {
                case Operation.Write wr -> w.field("type", "write").fieldBase64("key", wr.key()).fieldBase64("value", wr.value());
                case Operation.Delete d -> w.field("type", "delete").fieldBase64("key", d.key());
                case Operation.RangeDelete r -> w.field("type", "range_delete").fieldBase64("begin", r.begin())
                        .fieldBase64("end", r.end());
            }
            w.endObject();
        }
        w.endArray().endObject();
        w.reset(null);
        out.writeCharSequence("\n\n", StandardCharsets.US_ASCII);
    }

    public static byte[] checkpoint(long committedVersion, String leaderId) {
        ByteBuf b = Unpooled.buffer(96);
        b.writeCharSequence("event: checkpoint\ndata: ", StandardCharsets.US_ASCII);
        new JsonWriter(b).beginObject().field("committed_version", committedVersion).field("leader_id", leaderId).endObject();
        b.writeCharSequence("\n\n", StandardCharsets.US_ASCII);
        byte[] out = new byte[b.readableBytes()];
        b.readBytes(out);
        return out;
    }
}
