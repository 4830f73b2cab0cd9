package io.weaseldb.bench;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Classifies a commit answer and pulls out the version it reports, by scanning the body for
 * fixed markers instead of parsing it: the generator must stay cheap per response, and these
 * bodies are produced by the servers under test in a known shape.
 *
 * <p>Stateless and thread-safe.
 */
final class ResponseScan {
    private ResponseScan() {}

    /**
     * What a request achieved. DUPLICATE: the server answered 200 with {@code "duplicate":true},
     * the outcome of an earlier commit with the same request id: not a commit of this request
     * (the generator sends each id once, so one is a generator bug or a retry the run did not
     * mean, and makes the run incomplete).
     */
    enum Outcome { COMMITTED, DUPLICATE, CONFLICT, TOO_OLD, REFUSED, ERROR }

    /** An answer's outcome and the newest committed version (or etcd revision) it names, -1 if none. */
    record Result(Outcome outcome, long version) {}

    private static final byte[] VERSION = bytes("\"version\":");
    private static final byte[] REVISION = bytes("\"revision\":\"");
    private static final byte[] DUPLICATE = bytes("\"duplicate\":true");
    private static final byte[] SUCCEEDED = bytes("\"succeeded\":true");
    private static final byte[] STATUS_CONFLICT = bytes("\"status\":\"conflict\"");
    private static final byte[] STATUS_TOO_OLD = bytes("\"status\":\"too_old\"");

    static Result scan(BenchOptions.Target target, int status, ByteBuf body) {
        return switch (target) {
            case WEASELDB, CEILING -> weasel(status, body);
            case ETCD -> etcd(status, body);
        };
    }

    private static Result weasel(int status, ByteBuf body) {
        long version = number(body, VERSION);
        if (status == 200) {
            return new Result(indexOf(body, DUPLICATE) >= 0 ? Outcome.DUPLICATE : Outcome.COMMITTED, version);
        }
        if (status == 409) {
            if (indexOf(body, STATUS_CONFLICT) >= 0) {
                return new Result(Outcome.CONFLICT, version);
            }
            return new Result(indexOf(body, STATUS_TOO_OLD) >= 0 ? Outcome.TOO_OLD : Outcome.REFUSED, version);
        }
        return new Result(Outcome.ERROR, -1);
    }

    /** etcd answers a failed compare with 200 and no {@code "succeeded":true}. */
    private static Result etcd(int status, ByteBuf body) {
        if (status != 200) {
            return new Result(Outcome.ERROR, -1);
        }
        long revision = number(body, REVISION);
        return new Result(indexOf(body, SUCCEEDED) >= 0 ? Outcome.COMMITTED : Outcome.CONFLICT, revision);
    }

    /** The non-negative decimal right after the first {@code marker}, or -1. */
    static long number(ByteBuf body, byte[] marker) {
        int at = indexOf(body, marker);
        if (at < 0) {
            return -1;
        }
        long v = 0;
        int digits = 0;
        for (int i = at + marker.length; i < body.writerIndex() && digits < 19; i++, digits++) {
            byte b = body.getByte(i);
            if (b < '0' || b > '9') {
                break;
            }
            v = v * 10 + (b - '0');
        }
        return digits == 0 ? -1 : v;
    }

    static int indexOf(ByteBuf body, byte[] marker) {
        int end = body.writerIndex() - marker.length;
        outer:
        for (int i = body.readerIndex(); i <= end; i++) {
            for (int j = 0; j < marker.length; j++) {
                if (body.getByte(i + j) != marker[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
