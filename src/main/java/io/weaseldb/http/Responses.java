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

    /** The HTTP form of a pipeline outcome. */
    public static FullHttpResponse outcome(ByteBufAllocator alloc, Outcome outcome) {
        ByteBuf b = alloc.heapBuffer(160);
        JsonWriter w = new JsonWriter(b).beginObject();
        HttpResponseStatus status;
        switch (outcome) {
            case Outcome.Committed c -> {
                status = HttpResponseStatus.OK;
                w.field("status", "committed").field("version", c.version()).field("leader_id", c.leaderId())
                        .field("request_id", c.requestId());
                if (c.duplicate()) {
                    w.field("duplicate", true);
                }
            }
            case Outcome.Conflict c -> {
                status = HttpResponseStatus.CONFLICT;
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
                status = HttpResponseStatus.CONFLICT;
                w.field("error", "too_old")
                        .field("message", "a precondition version is older than the conflict window; read again at a newer version")
                        .field("status", "too_old").field("version", t.version()).field("leader_id", t.leaderId())
                        .field("request_id", t.requestId());
            }
            case Outcome.LeaderChanged l -> {
                status = HttpResponseStatus.CONFLICT;
                w.field("error", "leader_changed")
                        .field("message", "the request names a leader that is no longer current")
                        .field("status", "leader_changed").field("version", l.version()).field("leader_id", l.leaderId())
                        .field("request_id", l.requestId());
            }
            case Outcome.Rejected r -> {
                status = HttpResponseStatus.BAD_REQUEST;
                w.field("error", "bad_request").field("message", r.message());
            }
            case Outcome.Unavailable u -> {
                status = HttpResponseStatus.SERVICE_UNAVAILABLE;
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
                status = HttpResponseStatus.OK;
                w.field("request_id", sc.requestId()).field("status", "committed").field("version", sc.version())
                        .field("leader_id", sc.leaderId());
            }
            case Outcome.StatusNotCommitted sn -> {
                status = HttpResponseStatus.OK;
                w.field("request_id", sn.requestId()).field("status", "not_committed").field("version", sn.version());
            }
            case Outcome.Truncated t -> {
                status = HttpResponseStatus.GONE;
                w.field("error", "log_truncated").field("message", t.message()).field("oldest_version", t.oldestVersion());
            }
            case Outcome.Healthy h -> {
                status = HttpResponseStatus.OK;
                w.field("status", "ok").field("version", h.version()).field("leader_id", h.leaderId());
            }
        }
        w.endObject();
        FullHttpResponse r = json(alloc, status, b);
        if (outcome instanceof Outcome.Unavailable u && u.retryAfterSeconds() > 0) {
            r.headers().setInt(HttpHeaderNames.RETRY_AFTER, u.retryAfterSeconds());
        }
        return r;
    }

    static void keepAlive(FullHttpResponse r, boolean keepAlive, boolean http10) {
        if (!keepAlive) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (http10) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
    }
}
