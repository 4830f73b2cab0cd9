package io.weaseldb.bench;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.SplittableRandom;

/**
 * Writes whole HTTP/1.1 requests (head and JSON body) for one transaction of the workload,
 * straight into a buffer: the generator builds no request objects, so its own cost per request
 * stays a few hundred nanoseconds and it is not what the benchmark measures.
 *
 * <p>WeaselDB and the HTTP ceiling get the {@code POST /v1/commit} body of the API contract. etcd
 * gets the equivalent {@code POST /v3/kv/txn} of its HTTP/JSON gateway: each point read becomes
 * a compare {@code mod_revision(key) < readRevision + 1} (etcd's form of "not written after the
 * read revision"; an absent key has mod_revision 0 and passes), a range read the same compare
 * with {@code range_end}, and each write a {@code request_put} in {@code success}.
 *
 * <p>Keys are {@code keyBytes} bytes: a fixed filler, then the key index big-endian in the last 8
 * bytes, so keys order like their indexes and a range of consecutive indexes is a key range.
 *
 * <p>Owned by one event loop (scratch buffers, the request counter); one instance per generator
 * thread.
 */
final class RequestWriter {
    private static final byte[] CRLF = {'\r', '\n'};
    private static final Base64.Encoder B64 = Base64.getEncoder();

    private final BenchOptions.Target target;
    private final Workload.Reads reads;
    private final int keys;
    private final int opsPerTxn;
    private final int rangeKeys;
    private final boolean requestIds;
    private final byte[] head;
    private final byte[] valueB64;
    private final byte[] key;
    private final byte[] keyB64;
    private final byte[] endB64;
    private final byte[] digits = new byte[20];
    /** The request ids' prefix: the run's id and this writer's event loop, so no two loops' ids meet. */
    private final String idPrefix;
    private long requestCounter;

    /**
     * @param loop index of the event loop that owns this writer: each loop counts its requests
     *             from 0, and a server that dedupes by request id would answer a second loop's
     *             request as a duplicate of the first's without it
     */
    RequestWriter(BenchOptions o, String runId, int loop) {
        this.target = o.target();
        this.reads = o.workload().reads();
        this.keys = o.keys();
        this.opsPerTxn = o.opsPerTxn();
        this.rangeKeys = o.rangeKeys();
        this.requestIds = o.requestIds() && target != BenchOptions.Target.ETCD;
        String path = target == BenchOptions.Target.ETCD ? "/v3/kv/txn" : "/v1/commit";
        this.head = ("POST " + path + " HTTP/1.1\r\nHost: " + o.host() + ":" + o.port()
                + "\r\nContent-Type: application/json\r\nContent-Length: ").getBytes(StandardCharsets.US_ASCII);
        byte[] value = new byte[o.valueBytes()];
        new SplittableRandom(o.seed()).nextBytes(value); // incompressible, like real payloads
        this.valueB64 = B64.encode(value);
        this.key = new byte[o.keyBytes()];
        Arrays.fill(key, 0, key.length - 8, (byte) 'k');
        this.keyB64 = new byte[(key.length + 2) / 3 * 4];
        this.endB64 = new byte[keyB64.length];
        this.idPrefix = runId + "-" + loop + "-";
    }

    /**
     * Appends one request to {@code out}.
     *
     * @param readVersion the read version for the preconditions (ignored without reads)
     * @return bytes written
     */
    int write(ByteBuf out, SplittableRandom random, long readVersion) {
        int start = out.writerIndex();
        out.writeBytes(head);
        int lengthAt = out.writerIndex();
        out.writeBytes(PLACEHOLDER);
        out.writeBytes(CRLF).writeBytes(CRLF);
        int bodyStart = out.writerIndex();
        long first = random.nextInt(keys);
        if (target == BenchOptions.Target.ETCD) {
            etcdBody(out, random, first, readVersion);
        } else {
            commitBody(out, random, first, readVersion);
        }
        int bodyLength = out.writerIndex() - bodyStart;
        // Content-Length is right-aligned in a fixed field of spaces (optional whitespace before
        // the value is allowed by RFC 9110), so the body is written once, in place.
        int n = decimal(bodyLength);
        int pad = PLACEHOLDER.length - n;
        out.setBytes(lengthAt + pad, digits, digits.length - n, n);
        return out.writerIndex() - start;
    }

    /** Room for a 9-digit length; the spaces are optional whitespace before the field value. */
    private static final byte[] PLACEHOLDER = "         ".getBytes(StandardCharsets.US_ASCII);

    private void commitBody(ByteBuf out, SplittableRandom random, long first, long readVersion) {
        out.writeByte('{');
        if (requestIds) {
            ascii(out, "\"request_id\":\"");
            ascii(out, idPrefix);
            writeLong(out, requestCounter++);
            ascii(out, "\",");
        }
        if (reads != Workload.Reads.NONE) {
            ascii(out, "\"read_version\":");
            writeLong(out, readVersion);
            ascii(out, ",\"preconditions\":[");
            if (reads == Workload.Reads.POINT) {
                ascii(out, "{\"type\":\"point_read\",\"key\":\"");
                keyB64(out, first);
            } else {
                ascii(out, "{\"type\":\"range_read\",\"begin\":\"");
                keyB64(out, first);
                ascii(out, "\",\"end\":\"");
                keyB64(out, first + rangeKeys);
            }
            ascii(out, "\"}],");
        }
        ascii(out, "\"operations\":[");
        for (int i = 0; i < opsPerTxn; i++) {
            if (i > 0) {
                out.writeByte(',');
            }
            ascii(out, "{\"type\":\"write\",\"key\":\"");
            keyB64(out, i == 0 ? first : random.nextInt(keys));
            ascii(out, "\",\"value\":\"");
            out.writeBytes(valueB64);
            ascii(out, "\"}");
        }
        ascii(out, "]}");
    }

    private void etcdBody(ByteBuf out, SplittableRandom random, long first, long readRevision) {
        out.writeByte('{');
        if (reads != Workload.Reads.NONE) {
            ascii(out, "\"compare\":[{\"target\":\"MOD\",\"result\":\"LESS\",\"mod_revision\":\"");
            writeLong(out, readRevision + 1);
            ascii(out, "\",\"key\":\"");
            keyB64(out, first);
            if (reads == Workload.Reads.RANGE) {
                ascii(out, "\",\"range_end\":\"");
                keyB64(out, first + rangeKeys);
            }
            ascii(out, "\"}],");
        }
        ascii(out, "\"success\":[");
        for (int i = 0; i < opsPerTxn; i++) {
            if (i > 0) {
                out.writeByte(',');
            }
            ascii(out, "{\"request_put\":{\"key\":\"");
            keyB64(out, i == 0 ? first : random.nextInt(keys));
            ascii(out, "\",\"value\":\"");
            out.writeBytes(valueB64);
            ascii(out, "\"}}");
        }
        ascii(out, "]}");
    }

    /** The key with index {@code index} (may be {@code keys} or above for a range end). */
    byte[] key(long index) {
        int n = key.length;
        for (int i = 0; i < 8; i++) {
            key[n - 1 - i] = (byte) (index >>> (8 * i));
        }
        return key;
    }

    private void keyB64(ByteBuf out, long index) {
        int n = B64.encode(key(index), keyB64);
        out.writeBytes(keyB64, 0, n);
    }

    private static void ascii(ByteBuf out, String s) {
        out.writeCharSequence(s, StandardCharsets.US_ASCII);
    }

    private void writeLong(ByteBuf out, long v) {
        int n = decimal(v);
        out.writeBytes(digits, digits.length - n, n);
    }

    /** Writes {@code v >= 0} right-aligned into {@link #digits}; returns its length. */
    private int decimal(long v) {
        if (v < 0) {
            throw new IllegalArgumentException("negative: " + v);
        }
        int i = digits.length;
        do {
            digits[--i] = (byte) ('0' + v % 10);
            v /= 10;
        } while (v != 0);
        return digits.length - i;
    }

    /** The GET /v1/version (WeaselDB) or range (etcd) request whose answer carries the newest version. */
    static byte[] versionProbe(BenchOptions o) {
        String hostHeader = "Host: " + o.host() + ":" + o.port() + "\r\n";
        String req = switch (o.target()) {
            case WEASELDB, CEILING -> "GET /v1/version HTTP/1.1\r\n" + hostHeader + "\r\n";
            case ETCD -> {
                String body = "{\"key\":\"AA==\"}";
                yield "POST /v3/kv/range HTTP/1.1\r\n" + hostHeader + "Content-Type: application/json\r\nContent-Length: "
                        + body.length() + "\r\n\r\n" + body;
            }
        };
        return req.getBytes(StandardCharsets.US_ASCII);
    }
}
