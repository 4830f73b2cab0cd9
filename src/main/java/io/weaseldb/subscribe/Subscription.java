package io.weaseldb.subscribe;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.weaseldb.log.Batch;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.CorruptBatchException;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SSE stream. Its state is a cursor: every transaction at or below {@code cursor} has been
 * written. While the cursor is older than the shared cache it replays log objects from S3 (read
 * ahead, validated as a chain, encoded off the event loop, written in 64 KiB slices; what they
 * hold counts against the hub's {@code history_memory_bytes} until written); then it copies
 * slices of the cache. It writes only while the channel is writable, so memory per subscriber
 * stays at Netty's write buffer; how far it is behind is measured in the cache and bounded by
 * {@code max_buffer_size_bytes}.
 *
 * <p>Owned by its channel's event loop.
 */
public final class Subscription {
    private static final Logger log = LoggerFactory.getLogger(Subscription.class);
    /** A subscriber replaying history whose socket accepts nothing for this long is dropped. */
    static final long HISTORY_STALL_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final ThreadLocal<SseEncoder> ENCODER = ThreadLocal.withInitial(SseEncoder::new);

    final SubscriberHub hub;
    final Channel channel;
    private final boolean durable;
    private final String leaderId;
    private long cursor;
    /**
     * What the truncator must keep for this stream (any thread reads it): not the cursor, but
     * the cursor as it was {@code max_buffer_size_bytes} plus the sockets' buffers
     * ({@code inFlightBytes}) of this stream ago; or, while the connection has taken everything
     * written, as it was {@link #FLOOR_SETTLE_NANOS} ago, if that is later. What was written but
     * is still in buffers between here and the client is lost if the connection breaks, and the
     * client resumes from the last event it received.
     */
    private volatile long publishedCursor;
    /** After this long, what was written has had time to reach a client that reads (a quiet stream's floor follows it this far behind). */
    static final long FLOOR_SETTLE_NANOS = TimeUnit.SECONDS.toNanos(15);
    /** An ended stream whose client does not take its last bytes is closed after this long. */
    static final long CLOSE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** A quiet stream (markers, heartbeats) is marked at most this often. */
    private static final long FLOOR_MARK_NANOS = TimeUnit.SECONDS.toNanos(3);
    /**
     * A stream is quiet once it has written less than this for {@link #FLOOR_SETTLE_NANOS}: only
     * then does the time rule apply. A stream that writes more is paced by its client, whose
     * socket buffers may hold minutes of its reading (tens of MiB for a slow reader).
     */
    static final long QUIET_BYTES = 64 << 10;
    /** History is handed to the connection in pieces of about this size, while it is writable. */
    static final int HISTORY_SLICE_BYTES = 64 << 10;
    private long bytesWritten;
    /** bytesWritten when the stream last wrote QUIET_BYTES since the previous such time, and when. */
    private long quietBytes;
    private long quietSinceNanos;
    /**
     * Positions in the stream (bytes written, cursor, when), oldest first: taken when an eighth
     * of the byte margin was written since the last one, or {@link #FLOOR_MARK_NANOS} passed.
     */
    private final long[] markBytes = new long[16];
    private final long[] markNanos = new long[16];
    private final long[] markCursor = new long[16];
    private int markFirst;
    private int markCount;
    /** A replaying subscriber's distance behind the tail in versions, and when it was sampled; -1: none yet. */
    private long historyLagMark = -1;
    private long historyLagMarkNanos;
    private long lastTxnSent;
    private long lastCheckpoint;
    private long lastWriteNanos;
    private long lastLag = Long.MAX_VALUE; // at the previous tick
    private long cursorAtLastTick = -1;
    private long stalledSinceNanos; // 0: not stalled
    private boolean closed;
    /** In the hub's queue for history reads (at most once); written under the hub's history lock. */
    volatile boolean queuedForRead;
    /**
     * Taken off that queue by a release, to ask again; written under the hub's history lock. The
     * woken pump passes it on if it does not ask ({@link #pumpWoken}).
     */
    volatile boolean wokenForRead;
    /** Whether it held history when it last asked for a read (the hub's history lock only). */
    boolean waitsHolding;
    private History history;
    private boolean pumping;
    private boolean pumpAgain;

    Subscription(SubscriberHub hub, Channel channel, long after, boolean durable, String leaderId) {
        this.hub = hub;
        this.channel = channel;
        this.durable = durable;
        this.leaderId = leaderId;
        this.cursor = after;
        this.publishedCursor = after;
        this.markCursor[0] = after; // the stream's start: nothing written yet
        this.markNanos[0] = hub.clock.nanoTime();
        this.markCount = 1;
        this.quietSinceNanos = hub.clock.nanoTime();
        this.lastTxnSent = after;
        this.lastCheckpoint = after;
        this.lastWriteNanos = hub.clock.nanoTime();
    }

    /**
     * Writes whatever this subscriber is missing, as far as the channel accepts it. Never
     * re-entered: a write that crosses Netty's high-water mark fires channelWritabilityChanged
     * synchronously, which pumps again; that nested call only asks for another round.
     */
    public void pump() {
        if (pumping) {
            pumpAgain = true;
            return;
        }
        pumping = true;
        try {
            do {
                pumpAgain = false;
                pumpOnce();
            } while (pumpAgain && !closed);
        } finally {
            pumping = false;
        }
    }

    /**
     * The pump a freed history read slot wakes ({@link SubscriberHub#wakeReadWaiter}): one that
     * does not ask for a read (its connection filled up meanwhile, it is midway through writing
     * an object, it caught up) passes the wake-up on. Only this one: a pump already running when
     * the wake-up came may be past its last ask, and passing it on then would cost the stream its
     * place in the queue (review 42).
     */
    void pumpWoken() {
        pump();
        if (wokenForRead) {
            hub.passOnWakeUp(this);
        }
    }

    private void pumpOnce() {
        if (closed) {
            return;
        }
        if (!channel.isActive()) {
            end(null);
            return;
        }
        boolean wrote = false;
        if (history == null) {
            wrote = pumpLive();
        }
        if (history != null && !closed) {
            wrote |= pumpHistory();
            if (history == null && !closed) {
                wrote |= pumpLive();
            }
        }
        if (!closed) {
            wrote |= maybeCheckpoint();
        }
        if (wrote && !closed) {
            channel.flush();
        }
        advanceFloor();
    }

    /** See {@link #publishedCursor}. */
    private void advanceFloor() {
        long now = hub.clock.nanoTime();
        long max = hub.settings.maxBufferBytes();
        long margin = Math.max(1, max > Long.MAX_VALUE - hub.settings.inFlightBytes() ? Long.MAX_VALUE
                : max + hub.settings.inFlightBytes());
        int last = (markFirst + markCount - 1) & 15;
        if (markCount == 0 || (markCount < 16 && cursor != markCursor[last]
                && (bytesWritten - markBytes[last] >= margin / 8 || now - markNanos[last] >= FLOOR_MARK_NANOS))) {
            int i = (markFirst + markCount) & 15;
            markBytes[i] = bytesWritten;
            markNanos[i] = now;
            markCursor[i] = cursor;
            markCount++;
        }
        // The time rule is for quiet streams (heartbeats, few bytes) whose byte margin would take
        // for ever to fill; it applies only while the connection has taken everything written
        // (nothing queued in Netty): a client that stopped reading keeps its hold by bytes alone.
        // Nor does it apply to a stream that writes more than a trickle: that one is paced by its
        // client, and an empty Netty buffer says only that the kernel took the bytes; a slow
        // reader's socket buffers can hold minutes of what it has not read yet.
        if (bytesWritten - quietBytes > QUIET_BYTES) {
            quietBytes = bytesWritten;
            quietSinceNanos = now;
        }
        ChannelOutboundBuffer out = channel.unsafe().outboundBuffer();
        boolean drained = channel.isWritable() && (out == null || out.totalPendingWriteBytes() == 0);
        boolean quiet = drained && now - quietSinceNanos >= FLOOR_SETTLE_NANOS;
        long floor = -1;
        while (markCount > 0 && (bytesWritten - markBytes[markFirst] >= margin
                || (quiet && now - markNanos[markFirst] >= FLOOR_SETTLE_NANOS))) {
            floor = markCursor[markFirst];
            markFirst = (markFirst + 1) & 15;
            markCount--;
        }
        if (floor >= 0) {
            publishedCursor = floor;
        }
    }

    long publishedCursor() {
        return publishedCursor;
    }

    private boolean pumpLive() {
        EventCache cache = hub.cache;
        boolean wrote = false;
        while (channel.isWritable()) {
            long limit = durable ? cache.durableVersion() : Math.max(cache.sequencedVersion(), cache.durableVersion());
            if (cursor >= limit) {
                break;
            }
            EventCache.Chunk c = cache.find(cursor + 1);
            if (c == EventCache.EVICTED) {
                startHistory();
                break;
            }
            if (c == null || c.firstVersion() > limit) {
                // No transaction up to the limit, only markers (a transaction is always in the
                // cache before its version counts as durable): caught up through the limit.
                cursor = limit;
                break;
            }
            long last = Math.min(limit, c.lastVersion());
            int from = c.indexOf(Math.max(cursor + 1, c.firstVersion()));
            int to = c.indexOf(last) + 1;
            write(c.data(), c.offsets()[from], c.offsets()[to] - c.offsets()[from], to - from);
            cursor = last;
            lastTxnSent = last;
            wrote = true;
        }
        return wrote;
    }

    private boolean maybeCheckpoint() {
        long cp = durable ? cursor : Math.min(cursor, hub.cache.durableVersion());
        if (cp > lastCheckpoint && (!durable || cursor > lastTxnSent)) {
            byte[] b = SseEncoder.checkpoint(cp, leaderId);
            write(b, 0, b.length, 0);
            lastCheckpoint = cp;
            return true;
        }
        return false;
    }

    private void write(byte[] data, int offset, int length, int events) {
        channel.write(new DefaultHttpContent(Unpooled.wrappedBuffer(data, offset, length)), channel.voidPromise());
        bytesWritten += length;
        lastWriteNanos = hub.clock.nanoTime();
        hub.metrics.sent(events, length);
    }

    /**
     * Bytes this subscriber has not taken yet (still in the cache, or queued in Netty). Past the
     * bound it is disconnected, unless it is catching up: a resumed subscriber far behind that
     * reads steadily shrinks its lag every tick and is left alone; one whose lag does not shrink
     * will never catch up.
     */
    private void checkLag() {
        long lag = hub.cache.bytesAfter(cursor);
        ChannelOutboundBuffer out = channel.unsafe().outboundBuffer();
        if (out != null && lag != Long.MAX_VALUE) {
            lag += out.totalPendingWriteBytes();
        }
        long previous = lastLag;
        lastLag = lag;
        if (lag > hub.settings.maxBufferBytes() && lag >= previous) {
            log.info("subscriber {} is {} bytes behind (limit {}): disconnecting it; it can resume after version {}",
                    channel.remoteAddress(), lag, hub.settings.maxBufferBytes(), cursor);
            end("slow");
        }
    }

    /**
     * A subscriber replaying history is behind by design, and reads are slower than the cache,
     * so it is judged over {@link #HISTORY_STALL_NANOS}, not per tick: if it is more than
     * {@code max_buffer_size_bytes} behind the tail (estimated from this term's bytes per
     * version) and no closer than it was that long ago, it reads slower than the log grows and
     * will never catch up; meanwhile it holds back truncation. It is disconnected as slow.
     */
    private void checkHistoryLag(long nowNanos) {
        long tail = durable ? hub.cache.durableVersion() : Math.max(hub.cache.sequencedVersion(), hub.cache.durableVersion());
        long perVersion = hub.cache.bytesPerVersion();
        if (perVersion == 0) {
            historyLagMark = -1; // nothing to estimate bytes with yet (a new term, markers only): judged from later
            return;
        }
        // Progress is judged in versions; bytes per version (an average that moves as the term
        // goes on) only turns the distance into bytes for the bound.
        long behind = Math.max(0, tail - cursor);
        long lag = behind > Long.MAX_VALUE / perVersion ? Long.MAX_VALUE : behind * perVersion;
        if (historyLagMark < 0) {
            historyLagMark = behind;
            historyLagMarkNanos = nowNanos;
            return;
        }
        if (nowNanos - historyLagMarkNanos < HISTORY_STALL_NANOS) {
            return;
        }
        if (lag > hub.settings.maxBufferBytes() && behind >= historyLagMark) {
            log.info("subscriber {} replaying history is about {} bytes behind (limit {}) and not catching up: "
                    + "disconnecting it; it can resume after version {}", channel.remoteAddress(), lag,
                    hub.settings.maxBufferBytes(), cursor);
            end("slow");
            return;
        }
        historyLagMark = behind;
        historyLagMarkNanos = nowNanos;
    }

    /** Keepalives and a lag sample; also catches up if a wake-up was missed. */
    void tick(long nowNanos) {
        if (closed) {
            return;
        }
        pump();
        if (closed) {
            return;
        }
        if (history == null && hub.cache.bytesAfter(cursor) == Long.MAX_VALUE) {
            // Fell behind the in-memory window while its socket was full (pump only notices when
            // it can write): from here it replays from S3 at its own pace, judged by the rule below.
            startHistory();
            if (closed) {
                return;
            }
        }
        if (history == null) {
            // Judged once a tick, not right after a write: a subscriber that keeps up still holds
            // a freshly written chunk for a moment. Memory meanwhile stays bounded: the cache is
            // shared and nothing more is written to a channel that is not writable.
            hub.metrics.lag(Math.max(0, hub.cache.bytesAfter(cursor)));
            checkLag();
            if (closed) {
                return;
            }
        } else {
            if (!channel.isWritable() && cursor == cursorAtLastTick) {
                // A client that takes nothing at all for a while has stopped reading; it would
                // hold its read-ahead and a connection forever.
                if (stalledSinceNanos == 0) {
                    stalledSinceNanos = nowNanos;
                } else if (nowNanos - stalledSinceNanos >= HISTORY_STALL_NANOS) {
                    log.info("subscriber {} replaying history took nothing for {} s: disconnecting it; it can resume after version {}",
                            channel.remoteAddress(), TimeUnit.NANOSECONDS.toSeconds(HISTORY_STALL_NANOS), cursor);
                    end("slow");
                    return;
                }
            } else {
                stalledSinceNanos = 0;
            }
            if (queuedForRead && !history.holding()) {
                // Waiting for its turn at history_memory_bytes, with nothing of its own to send:
                // it is not the client that is slow. Judged afresh once it reads again.
                historyLagMark = -1;
            }
            checkHistoryLag(nowNanos);
            if (closed) {
                return;
            }
        }
        cursorAtLastTick = cursor;
        // Half a tick of slack: the last keepalive was written just after its tick's now, so an
        // exact comparison missed every other tick (keepalives came every interval + 1 s).
        if (nowNanos - lastWriteNanos >= hub.settings.keepaliveNanos() - hub.settings.tickNanos() / 2
                && channel.isWritable()) {
            write(SseEncoder.KEEPALIVE, 0, SseEncoder.KEEPALIVE.length, 0);
            channel.flush();
        }
    }

    /** Ends the stream (reason null when the client went away) and closes the connection. */
    public void end(String reason) {
        if (closed) {
            return;
        }
        closed = true;
        if (history != null) {
            dropHistory();
        }
        if (reason != null) {
            hub.metrics.dropped(reason);
        }
        hub.closed(this);
        if (channel.isActive()) {
            channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
            // The close waits for the client to take what is queued; one that has stopped reading
            // would hold the connection (and its hold on the log) for good.
            Channel ch = channel; // the task holds the channel only, not this stream or its hub
            var force = ch.eventLoop().schedule(() -> {
                if (ch.isOpen()) {
                    ch.close();
                }
            }, CLOSE_GRACE_NANOS, TimeUnit.NANOSECONDS);
            ch.closeFuture().addListener(f -> force.cancel(false));
        }
    }

    public long cursor() {
        return cursor;
    }

    /** A one-line account of this stream's state, for logs and diagnostics. */
    public String describe() {
        History h = history;
        return "cursor " + cursor + (closed ? " closed" : "") + (durable ? " durable" : " non-durable")
                + (h == null ? " live" : " replaying (next object " + h.nextObject + ", last requested "
                + h.lastRequested + ", " + h.reads.size() + " reads pending, first "
                + (h.reads.isEmpty() ? "-" : h.reads.peekFirst().isDone() ? "done" : "waiting")
                + (h.current == null ? "" : ", writing " + h.current.header().firstVersion() + " from event " + h.from)
                + ", history reads in flight " + hub.readsInFlight() + ", history bytes held " + hub.historyHeld() + ")")
                + "; cache floor " + hub.cache.floorVersion() + " durable " + hub.cache.durableVersion()
                + " sequenced " + hub.cache.sequencedVersion();
    }

    // ---- history from S3 ----

    /** A log object read and encoded off the event loop; it counts {@link #holds} bytes against history_memory_bytes. */
    private record Decoded(BatchHeader header, byte[] events, int[] offsets, long[] versions) {
        long holds() {
            return events.length + 4L * offsets.length + 8L * versions.length + 64;
        }
    }

    private final class History {
        long nextObject;
        long lastRequested = -1;
        BatchHeader last;
        /** Reads in order; each holds its reservation of history bytes until it is written or dropped. */
        final ArrayDeque<CompletableFuture<Decoded>> reads = new ArrayDeque<>();
        /** The object being written (its bytes still reserved), and its next event. */
        Decoded current;
        int from;

        boolean holding() {
            return current != null || !reads.isEmpty();
        }
    }

    private void startHistory() {
        historyLagMark = -1; // judged afresh from here
        long first = hub.index.floor(cursor + 1);
        if (first < 0) {
            // older than the oldest object: truncated while we streamed; the client resumes and gets 410
            end("truncated");
            return;
        }
        history = new History();
        history.nextObject = first;
        hub.metrics.replaying.incrementAndGet();
    }

    /** Leaves history replay (caught up, or ended), giving back what its objects hold, now or once read. */
    private void dropHistory() {
        History h = history;
        history = null;
        hub.leaveReadQueue(this);
        hub.metrics.replaying.decrementAndGet();
        if (h.current != null) {
            hub.releaseHistory(h.current.holds());
            h.current = null;
        }
        for (CompletableFuture<Decoded> f : h.reads) {
            // (a read that fails gave its reservation back already, in fill)
            f.thenAccept(d -> hub.releaseHistory(d.holds()));
        }
        h.reads.clear();
    }

    private boolean pumpHistory() {
        History h = history;
        boolean wrote = false;
        while (!closed && history == h) {
            if (h.current == null) {
                fill(h);
                CompletableFuture<Decoded> f = h.reads.peekFirst();
                if (f == null || !f.isDone() || !channel.isWritable()) {
                    // (a client that does not read gets nothing more queued: memory stays bounded by
                    // the read-ahead and history_memory_bytes, whatever wakes this stream up)
                    break;
                }
                h.reads.pollFirst();
                Decoded d;
                try {
                    d = f.join();
                } catch (CompletionException e) {
                    log.error("subscriber {}: cannot read log history: {}", channel.remoteAddress(), e.getCause().toString());
                    end("error");
                    return wrote;
                }
                hub.metrics.historyObject();
                BatchHeader bh = d.header();
                if (h.last != null && !h.last.isFollowedBy(bh)) {
                    hub.releaseHistory(d.holds());
                    if (bh.term() < h.last.term() || bh.lastVersion() <= cursor) {
                        continue; // an orphan of an older term, never part of the log
                    }
                    log.error("subscriber {}: log chain broken at {} (after {}..{})", channel.remoteAddress(),
                            bh.firstVersion(), h.last.firstVersion(), h.last.lastVersion());
                    end("error");
                    return wrote;
                }
                h.last = bh;
                // Position of the first transaction after the cursor. Not version - first: an
                // object may hold markers (versions without a transaction) anywhere in its range.
                long[] versions = d.versions();
                int from = 0;
                while (from < versions.length && versions[from] <= cursor) {
                    from++;
                }
                h.current = d;
                h.from = from;
            }
            // In slices, while the connection takes them: a whole object (up to batch_max_bytes
            // and more once encoded) queued at once would sit in Netty's buffer, copied, for a
            // client that reads slowly; and the cursor moves as the client reads.
            Decoded d = h.current;
            long[] versions = d.versions();
            int[] o = d.offsets();
            while (h.from < versions.length && channel.isWritable()) {
                int to = h.from + 1;
                while (to < versions.length && o[to + 1] - o[h.from] <= HISTORY_SLICE_BYTES) {
                    to++;
                }
                write(d.events(), o[h.from], o[to] - o[h.from], to - h.from);
                cursor = versions[to - 1];
                lastTxnSent = cursor;
                h.from = to;
                wrote = true;
                // each slice goes to the socket now: writability then says whether the client
                // takes them, not that unflushed slices passed the high-water mark
                channel.flush();
            }
            if (h.from < versions.length) {
                break; // the rest when the connection is writable again
            }
            h.current = null;
            hub.releaseHistory(d.holds()); // handed to the connection (copied to its own buffers)
            if (d.header().lastVersion() > cursor) {
                cursor = d.header().lastVersion();
                wrote = true;
            }
            if (cursor >= hub.cache.floorVersion()) {
                dropHistory(); // caught up with memory: the rest comes from the cache
                break;
            }
        }
        return wrote;
    }

    private void fill(History h) {
        while (channel.isWritable() && h.reads.size() < hub.settings.readAheadObjects()) {
            if (h.nextObject < 0) {
                h.nextObject = h.lastRequested < 0 ? -1 : hub.index.next(h.lastRequested);
                if (h.nextObject < 0) {
                    return; // not durable yet: the next pump or tick tries again
                }
            }
            long reserved = hub.acquireRead(this, h.holding());
            if (reserved < 0) {
                return; // the server-wide bounds on history reads and bytes: woken when they free up
            }
            long first = h.nextObject;
            String key = hub.layout.objectKey(first);
            CompletableFuture<Decoded> f = hub.store.get(key).thenApplyAsync(bytes -> {
                Decoded d = decode(key, bytes);
                hub.decoded(reserved, d.holds(), bytes.length);
                return d;
            }, hub.decodeExecutor);
            f.whenComplete((x, t) -> {
                hub.readDone();
                if (t != null) {
                    hub.releaseHistory(reserved);
                }
                try {
                    channel.eventLoop().execute(this::pump);
                } catch (java.util.concurrent.RejectedExecutionException stopped) {
                    // its event loop is gone, and the connection with it
                }
            });
            h.reads.addLast(f);
            h.lastRequested = first;
            h.nextObject = hub.index.next(first);
        }
    }

    private static Decoded decode(String key, byte[] bytes) {
        Batch b;
        try {
            b = BatchCodec.decode(key, bytes);
        } catch (CorruptBatchException e) {
            throw new CompletionException(e);
        }
        int[] offsets = new int[b.transactions().size() + 1];
        byte[] events = b.transactions().isEmpty() ? new byte[0]
                : ENCODER.get().encode(b.transactions(), b.header().leaderId(), offsets);
        long[] versions = new long[b.transactions().size()];
        for (int i = 0; i < versions.length; i++) {
            versions[i] = b.transactions().get(i).version();
        }
        return new Decoded(b.header(), events, offsets, versions);
    }
}
