package io.weaseldb.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;

/**
 * One subscriber: {@code GET /v1/subscribe} and read the Server-Sent Events stream, counting
 * transaction events and bytes, and the lag of each event (receive wall time minus the
 * transaction's timestamp, millisecond resolution). Only the start of each line is looked at:
 * the {@code id:} line gives the version, the {@code data:} line's {@code "timestamp"} field
 * (third field, near the start) gives the lag; the rest of a line is counted and skipped.
 *
 * <p>Each transaction event's {@code prev_version} must be the version of the event before it on
 * the stream: one that is not is a gap (an event lost), one whose version is not above the last
 * is a duplicate; both are counted (any makes the run incomplete).
 *
 * <p>Owned by its channel's event loop.
 */
final class SseConnection extends ChannelInboundHandlerAdapter {
    /** Bytes of a line kept for inspection; longer lines are counted, not stored. */
    static final int LINE_PREFIX_BYTES = 512;
    private static final byte[] TIMESTAMP = "\"timestamp\":\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] PREV_VERSION = "\"prev_version\":".getBytes(StandardCharsets.US_ASCII);

    private final LoadGenerator.RunProxy run;
    private final LoopStats stats;
    private final CountDownLatch streaming;
    private final byte[] request;
    private final byte[] line = new byte[LINE_PREFIX_BYTES];
    private int lineLength;
    private boolean transactionEvent;
    /** The version on the current event's {@code id:} line, -1 before one. */
    private long eventVersion = -1;
    private boolean ok;
    /** The server answered the subscribe with something other than 200 (e.g. 503 at its limit). */
    private boolean refused;
    private boolean stopped;
    private ChannelHandlerContext ctx;
    /** The last transaction event's version, -1 before the first; read by the main thread at the end. */
    private volatile long lastVersion = -1;

    SseConnection(BenchOptions o, LoadGenerator.RunProxy run, LoopStats stats, CountDownLatch streaming) {
        this.run = run;
        this.stats = stats;
        this.streaming = streaming;
        this.request = ("GET /v1/subscribe?durable=" + o.subscribersDurable() + " HTTP/1.1\r\nHost: " + o.host() + ":"
                + o.port() + "\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    long lastVersion() {
        return lastVersion;
    }

    /**
     * How many versions this stream is behind {@code newestVersion}, or -1 if it has had no
     * transaction event yet: its lag is unknown, not the whole log.
     */
    long versionLag(long newestVersion) {
        long last = lastVersion;
        return last < 0 ? -1 : Math.max(0, newestVersion - last);
    }

    /** Counts nothing more (call from any thread; returns once done on the loop). */
    void stopOnLoop() {
        ctx.executor().submit(() -> {
            stopped = true;
        }).syncUninterruptibly();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(Unpooled.wrappedBuffer(request));
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof HttpResponse r) {
                ok = r.status().code() == 200;
                streaming.countDown();
                if (ok) {
                    stats.subscriberStreams++;
                } else { // counted once, as a refusal: its close that follows is no disconnect
                    refused = true;
                    stats.subscriberRefusals++;
                }
            }
            if (msg instanceof HttpContent c && ok) {
                consume(c.content());
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void consume(ByteBuf b) {
        boolean measuring = !stopped && run.measuring();
        // lag is recorded until the readers stop: the events delivered during the drain are the
        // most delayed ones; the rates count only the measured window they are divided by
        boolean lagging = !stopped && run.pastWarmup();
        if (measuring) {
            stats.subscriberBytes += b.readableBytes();
        }
        // Find line ends with Netty's vectorized search and copy only each line's prefix: the
        // reader must stay cheap at 100 MB/s of events, or the generator measures itself.
        int i = b.readerIndex();
        int end = b.writerIndex();
        while (i < end) {
            int lf = b.indexOf(i, end, (byte) '\n');
            int stop = lf < 0 ? end : lf;
            int n = Math.min(stop - i, line.length - lineLength);
            if (n > 0) {
                b.getBytes(i, line, lineLength, n);
                lineLength += n;
            }
            if (lf < 0) {
                break;
            }
            line(measuring, lagging);
            lineLength = 0;
            i = lf + 1;
        }
    }

    /** Parses one line (its prefix) of the stream. */
    void line(boolean measuring, boolean lagging) {
        if (startsWith("id: ")) {
            eventVersion = parseLong(4);
        } else if (startsWith("event: ")) {
            transactionEvent = startsWith("event: transaction");
        } else if (startsWith("data: ") && transactionEvent) {
            if (!stopped) {
                checkSequence(eventVersion, prevVersion());
            }
            if (measuring) {
                stats.subscriberEvents++;
            }
            if (lagging) {
                long ts = timestampMillis();
                if (ts > 0) {
                    stats.subscriberLagMillis.recordValue(Math.max(0, Math.min(3_600_000, System.currentTimeMillis() - ts)));
                }
            }
            transactionEvent = false;
        }
    }

    /**
     * Checks a transaction event against the one before it on this stream: a version not above
     * the last is a duplicate; a {@code prev_version} (when in the line's prefix) that is not the
     * last version is a gap. The first event has nothing to be checked against.
     */
    private void checkSequence(long version, long prevVersion) {
        long last = lastVersion;
        if (last >= 0) {
            if (version <= last) {
                stats.subscriberDuplicateEvents++;
                return;
            }
            if (prevVersion >= 0 && prevVersion != last) {
                stats.subscriberGaps++;
            }
        }
        lastVersion = version;
    }

    /** The data line's {@code "prev_version":N}, or -1 if not in the prefix kept. */
    private long prevVersion() {
        int at = indexOf(PREV_VERSION, 0);
        if (at < 0 || at + PREV_VERSION.length >= lineLength) {
            return -1;
        }
        int from = at + PREV_VERSION.length;
        int end = from;
        while (end < lineLength && line[end] >= '0' && line[end] <= '9') {
            end++;
        }
        return end == from || end == lineLength ? -1 : parseLong(from); // cut at the prefix's end: unknown
    }

    private int indexOf(byte[] marker, int extra) {
        outer:
        for (int i = 0; i + marker.length + extra <= lineLength; i++) {
            for (int j = 0; j < marker.length; j++) {
                if (line[i + j] != marker[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private boolean startsWith(String s) {
        if (lineLength < s.length()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (line[i] != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private long parseLong(int from) {
        long v = 0;
        for (int i = from; i < lineLength && line[i] >= '0' && line[i] <= '9'; i++) {
            v = v * 10 + (line[i] - '0');
        }
        return v;
    }

    /** The event's {@code "timestamp":"2026-11-22T20:27:42.555Z"} as epoch milliseconds, or -1. */
    private long timestampMillis() {
        int at = indexOf(TIMESTAMP, 24);
        return at < 0 ? -1 : IsoMillis.parse(line, at + TIMESTAMP.length);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!stopped && !refused) {
            stats.subscriberDisconnects++;
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
