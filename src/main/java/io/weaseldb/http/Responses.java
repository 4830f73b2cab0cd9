package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import io.weaseldb.json.JsonWriter;
import io.weaseldb.pipeline.Outcome;

/**
 * Builds responses: JSON bodies written straight into pooled buffers. Every 4xx/5xx has
 * {@code {"error": code, "message": text}} plus the fields the API contract lists for it.
 * Called on event loops; the returned response owns its buffer until written.
 */
public final class Responses {
    static final AsciiString JSON = AsciiString.cached("application/json");
    /** 413 and 414 with the reason phrases of RFC 9110 (Netty's constants carry RFC 2616's). */
    static final HttpResponseStatus CONTENT_TOO_LARGE =
            new HttpResponseStatus(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE.code(), "Content Too Large");
    static final HttpResponseStatus URI_TOO_LONG =
            new HttpResponseStatus(HttpResponseStatus.REQUEST_URI_TOO_LONG.code(), "URI Too Long");

    private Responses() {}

    /** Content-Length values of the sizes most answers have, so setting one allocates nothing. */
    private static final AsciiString[] LENGTHS = new AsciiString[1024];

    static {
        for (int i = 0; i < LENGTHS.length; i++) {
            LENGTHS[i] = AsciiString.cached(Integer.toString(i));
        }
    }

    /**
     * A response with a small header table and no trailer table (answers have no trailers; the
     * two tables Netty makes by default were ~40% of a commit's garbage on the event loop).
     */
    static FullHttpResponse response(HttpResponseStatus status, ByteBuf body) {
        return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body, SmallHeaders.answer(), EmptyHttpHeaders.INSTANCE);
    }

    public static FullHttpResponse json(ByteBufAllocator alloc, HttpResponseStatus status, ByteBuf body) {
        FullHttpResponse r = response(status, body);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, JSON);
        contentLength(r, body.readableBytes());
        return r;
    }

    private static void contentLength(FullHttpResponse r, int length) {
        if (length < LENGTHS.length) {
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, LENGTHS[length]);
        } else {
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, length);
        }
    }

    public static FullHttpResponse error(ByteBufAllocator alloc, HttpResponseStatus status, String code, String message) {
        ByteBuf b = alloc.heapBuffer(64 + message.length());
        new JsonWriter(b).beginObject().field("error", code).field("message", message).endObject();
        return json(alloc, status, b);
    }

    public static FullHttpResponse empty(HttpResponseStatus status) {
        FullHttpResponse r = response(status, io.netty.buffer.Unpooled.EMPTY_BUFFER);
        contentLength(r, 0);
        return r;
    }

    public static FullHttpResponse text(ByteBufAllocator alloc, HttpResponseStatus status, CharSequence contentType, String text) {
        ByteBuf b = alloc.heapBuffer(text.length());
        b.writeCharSequence(text, java.nio.charset.StandardCharsets.UTF_8);
        FullHttpResponse r = response(status, b);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        contentLength(r, b.readableBytes());
        return r;
    }

    /** The status of an outcome's answer. */
    static HttpResponseStatus outcomeStatus(Outcome outcome) {
        return switch (outcome) {
            case Outcome.Committed c -> HttpResponseStatus.OK;
            case Outcome.StatusCommitted c -> HttpResponseStatus.OK;
            case Outcome.StatusNotCommitted c -> HttpResponseStatus.OK;
            case Outcome.Healthy h -> HttpResponseStatus.OK;
            case Outcome.Conflict c -> HttpResponseStatus.CONFLICT;
            case Outcome.TooOld t -> HttpResponseStatus.CONFLICT;
            case Outcome.LeaderChanged l -> HttpResponseStatus.CONFLICT;
            case Outcome.Rejected r -> HttpResponseStatus.BAD_REQUEST;
            case Outcome.Unavailable u -> HttpResponseStatus.SERVICE_UNAVAILABLE;
            case Outcome.Truncated t -> HttpResponseStatus.GONE;
        };
    }

    /** One writer per thread for the outcomes' bodies, written once per commit (a new one was 24 B each). */
    private static final io.netty.util.concurrent.FastThreadLocal<JsonWriter> OUTCOME_WRITER = new io.netty.util.concurrent.FastThreadLocal<>() {
        @Override
        protected JsonWriter initialValue() {
            return new JsonWriter(null);
        }
    };

    /** Writes an outcome's JSON body into {@code b}. */
    private static void writeOutcome(ByteBuf b, Outcome outcome) {
        JsonWriter w = OUTCOME_WRITER.get().reset(b);
        try {
            writeOutcome(w.beginObject(), outcome);
        } finally {
            w.reset(null);
        }
    }

    private static void writeOutcome(JsonWriter w, Outcome outcome) {
        switch (outcome) {
            case Outcome.Committed c -> {
                w.field("status", "committed").field("version", c.version()).field("leader_id", c.leaderId())
                        .field("request_id", c.requestId());
                if (c.duplicate()) {
                    w.field("duplicate", true);
                }
            }
            case Outcome.Conflict c -> {
                w.field("error", "conflict")
                        .field("message", c.conflicts().size() == 1
                                ? "precondition " + c.conflicts().get(0) + " failed: its keys changed after its read version"
                                : c.conflicts().size() + " preconditions failed: their keys changed after the read version")
                        .field("status", "conflict").field("version", c.version()).field("leader_id", c.leaderId())
                        .field("request_id", c.requestId());
                w.beginArray("conflicts");
                for (int i : c.conflicts()) {
                    w.element(i);
                }
                w.endArray();
            }
            case Outcome.TooOld t -> {
                w.field("error", "too_old")
                        .field("message", "a precondition version is older than the conflict window; read again at a newer version")
                        .field("status", "too_old").field("version", t.version()).field("leader_id", t.leaderId())
                        .field("request_id", t.requestId());
            }
            case Outcome.LeaderChanged l -> {
                w.field("error", "leader_changed")
                        .field("message", "the request names a leader that is no longer current")
                        .field("status", "leader_changed").field("version", l.version()).field("leader_id", l.leaderId())
                        .field("request_id", l.requestId());
            }
            case Outcome.Rejected r -> {
                w.field("error", "bad_request").field("message", r.message());
            }
            case Outcome.Unavailable u -> {
                w.field("error", "unavailable").field("message", u.message())
                        .field("outcome", u.outcomeUnknown() ? "unknown" : "not_committed");
                if (u.requestId() != null) {
                    w.field("request_id", u.requestId());
                }
                if (u.leaderId() != null) {
                    w.field("leader_id", u.leaderId());
                }
                if (u.leaderUrl() != null) {
                    w.field("leader_url", u.leaderUrl());
                }
            }
            case Outcome.StatusCommitted sc -> {
                w.field("request_id", sc.requestId()).field("status", "committed").field("version", sc.version())
                        .field("leader_id", sc.leaderId());
            }
            case Outcome.StatusNotCommitted sn -> {
                w.field("request_id", sn.requestId()).field("status", "not_committed").field("version", sn.version());
            }
            case Outcome.Truncated t -> {
                w.field("error", "log_truncated").field("message", t.message()).field("oldest_version", t.oldestVersion());
            }
            case Outcome.Healthy h -> {
                w.field("status", "ok").field("version", h.version()).field("leader_id", h.leaderId());
            }
        }
        w.endObject();
    }

    private static int retryAfter(Outcome outcome) {
        return outcome instanceof Outcome.Unavailable u ? u.retryAfterSeconds() : 0;
    }

    /** The HTTP form of a pipeline outcome. */
    public static FullHttpResponse outcome(ByteBufAllocator alloc, Outcome outcome) {
        ByteBuf b = alloc.heapBuffer(160);
        try {
            writeOutcome(b, outcome);
        } catch (RuntimeException e) {
            b.release();
            throw e;
        }
        FullHttpResponse r = json(alloc, outcomeStatus(outcome), b);
        if (retryAfter(outcome) > 0) {
            r.headers().setInt(HttpHeaderNames.RETRY_AFTER, retryAfter(outcome));
        }
        return r;
    }

    private static final byte[] CRLF = {'\r', '\n'};
    private static final byte[] CONTENT_TYPE_JSON = ascii("content-type: application/json\r\n");
    private static final byte[] CONTENT_LENGTH = ascii("content-length: ");
    private static final byte[] RETRY_AFTER = ascii("retry-after: ");
    private static final byte[] CONNECTION_KEEP_ALIVE = ascii("connection: keep-alive\r\n");
    /** Status lines of the statuses outcomes have, made once. */
    private static final HttpResponseStatus[] OUTCOME_STATUSES = {HttpResponseStatus.OK, HttpResponseStatus.CONFLICT,
        HttpResponseStatus.BAD_REQUEST, HttpResponseStatus.SERVICE_UNAVAILABLE, HttpResponseStatus.GONE};
    private static final byte[][] OUTCOME_STATUS_LINES = new byte[OUTCOME_STATUSES.length][];

    static {
        for (int i = 0; i < OUTCOME_STATUSES.length; i++) {
            OUTCOME_STATUS_LINES[i] = statusLine(OUTCOME_STATUSES[i]);
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    private static byte[] statusLine(HttpResponseStatus status) {
        return ascii(HttpVersion.HTTP_1_1 + " " + status.code() + " " + status.reasonPhrase() + "\r\n");
    }

    /**
     * An outcome's whole answer on a connection that stays open, head and body in one buffer:
     * the bytes {@link #outcome} would become through Netty's encoder, without the response
     * object, its header table and entries, and the encoder's header iterator (~300 bytes per
     * commit). {@code http10} adds {@code connection: keep-alive}; {@code head} leaves the body
     * out (the answer to a HEAD request); {@code date} stamps it. An answer that closes its
     * connection is not made here.
     */
    static ByteBuf encodedOutcome(ByteBufAllocator alloc, Outcome outcome, boolean http10, boolean head, HttpDate date) {
        ByteBuf body = alloc.heapBuffer(160);
        try {
            writeOutcome(body, outcome);
            HttpResponseStatus status = outcomeStatus(outcome);
            int length = body.readableBytes();
            ByteBuf out = alloc.directBuffer(176 + (head ? 0 : length));
            byte[] line = null;
            for (int i = 0; i < OUTCOME_STATUSES.length; i++) {
                if (OUTCOME_STATUSES[i] == status) {
                    line = OUTCOME_STATUS_LINES[i];
                }
            }
            out.writeBytes(line != null ? line : statusLine(status));
            out.writeBytes(CONTENT_TYPE_JSON);
            out.writeBytes(CONTENT_LENGTH);
            writeDigits(out, length);
            out.writeBytes(CRLF);
            int retryAfter = retryAfter(outcome);
            if (retryAfter > 0) {
                out.writeBytes(RETRY_AFTER);
                writeDigits(out, retryAfter);
                out.writeBytes(CRLF);
            }
            if (http10) {
                out.writeBytes(CONNECTION_KEEP_ALIVE);
            }
            date.writeLine(out);
            out.writeBytes(CRLF);
            if (!head) {
                out.writeBytes(body, body.readerIndex(), length);
            }
            return out;
        } finally {
            body.release();
        }
    }

    /** Writes a non-negative number in decimal, a byte at a time (no string, no view). */
    private static void writeDigits(ByteBuf out, int value) {
        int digits = 1;
        for (int v = value; v >= 10; v /= 10) {
            digits++;
        }
        int at = out.writerIndex();
        out.ensureWritable(digits);
        for (int i = digits - 1, v = value; i >= 0; i--, v /= 10) {
            out.setByte(at + i, '0' + v % 10);
        }
        out.writerIndex(at + digits);
    }

    static void keepAlive(FullHttpResponse r, boolean keepAlive, boolean http10) {
        if (!keepAlive) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (http10) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
    }
}
