package io.weaseldb.subscribe;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The recent transactions of this term as encoded SSE bytes, shared by every subscriber: one
 * chunk per publisher step, each holding consecutive versions. Subscribers keep only a cursor
 * into it, so a thousand subscribers cost one copy of the data, and a slow subscriber's lag is
 * measured here instead of being buffered per connection. Bounded by {@code memory_window_bytes};
 * older history is read from the log in S3.
 *
 * <p>One writer (the publisher thread) appends and evicts; event loops read without locks.
 * Chunks are immutable; a reader that raced with eviction sees {@link #EVICTED} and falls back
 * to S3.
 */
public final class EventCache {
    /** Consecutive transactions {@code firstVersion..lastVersion}; event i spans offsets[i]..offsets[i+1]. */
    public record Chunk(long firstVersion, long lastVersion, byte[] data, int[] offsets, long startByte) {
        int indexOf(long version) {
            return (int) (version - firstVersion);
        }

        int count() {
            return (int) (lastVersion - firstVersion + 1);
        }
    }

    /** Returned by {@link #find} when the version is older than what the cache holds. */
    public static final Chunk EVICTED = new Chunk(-1, -1, new byte[0], new int[] {0}, 0);

    private final AtomicReferenceArray<Chunk> ring;
    private final int mask;
    private final long maxBytes;
    private volatile long head; // chunks ever appended
    private volatile long tail; // index of the oldest retained chunk
    private volatile long floorVersion; // versions <= this are not in the cache
    private volatile long sequencedVersion; // newest version appended
    private volatile long durableVersion; // newest durable version (may be a marker)
    private volatile long totalBytes; // bytes ever appended
    private long retainedBytes; // writer only
    private final long startVersion;

    /** @param startVersion the term start marker's version: the cache holds what comes after it */
    public EventCache(long maxBytes, int maxChunks, long startVersion) {
        int cap = Integer.highestOneBit(Math.max(16, maxChunks - 1)) << 1;
        this.ring = new AtomicReferenceArray<>(cap);
        this.mask = cap - 1;
        this.maxBytes = maxBytes;
        this.startVersion = startVersion;
        this.floorVersion = startVersion;
        this.sequencedVersion = startVersion;
        this.durableVersion = startVersion;
    }

    // ---- writer (publisher thread) ----

    /**
     * Appends the next chunk of consecutive transactions. It may start after a gap: versions
     * between chunks are markers, which hold no transaction.
     */
    void append(long firstVersion, long lastVersion, byte[] data, int[] offsets) {
        if (firstVersion <= sequencedVersion) {
            throw new IllegalStateException("cache chunk " + firstVersion + " does not follow " + sequencedVersion);
        }
        long h = head;
        if (h - tail == ring.length()) {
            if (!oldestIsDurable()) {
                throw new IllegalStateException("cache ring full of non-durable chunks; check canAppend() first");
            }
            evictOne();
        }
        long start = totalBytes;
        ring.set((int) (h & mask), new Chunk(firstVersion, lastVersion, data, offsets, start));
        totalBytes = start + data.length;
        retainedBytes += data.length;
        head = h + 1; // publishes the chunk
        sequencedVersion = lastVersion;
        while (retainedBytes > maxBytes && head - tail > 1 && oldestIsDurable()) {
            evictOne();
        }
    }

    /**
     * Only durable chunks are evicted: a durable=false subscriber must never find a version
     * that is neither in memory nor in S3 yet. The persister's in-flight bound limits how much
     * non-durable data can pile up.
     */
    private boolean oldestIsDurable() {
        return ring.get((int) (tail & mask)).lastVersion() <= durableVersion;
    }

    /** How many chunks the ring holds; only durable ones are evicted to make room. */
    int maxChunks() {
        return ring.length();
    }

    /** Whether the ring has a free slot (or a durable chunk to evict for one). */
    boolean canAppend() {
        return head - tail < ring.length() || oldestIsDurable();
    }

    private void evictOne() {
        long t = tail;
        Chunk c = ring.get((int) (t & mask));
        retainedBytes -= c.data().length;
        floorVersion = c.lastVersion();
        tail = t + 1;
        // Drop the reference so the bytes can be collected; a reader that still searches sees
        // null and treats it as evicted, readers that already hold the chunk keep it alive.
        ring.set((int) (t & mask), null);
    }

    void durable(long version) {
        if (version > durableVersion) {
            durableVersion = version;
        }
        while (retainedBytes > maxBytes && head - tail > 1 && oldestIsDurable()) {
            evictOne();
        }
    }

    // ---- readers (any thread) ----

    /**
     * The chunk holding {@code version}, or the first chunk after it (the versions in between
     * are markers); null if there is none yet; {@link #EVICTED} if it is older than the cache.
     */
    public Chunk find(long version) {
        if (version <= floorVersion) {
            return EVICTED;
        }
        if (version > sequencedVersion) {
            return null;
        }
        long t = tail;
        long lo = t;
        long hi = head - 1;
        long found = -1;
        while (lo <= hi) { // the first chunk whose lastVersion >= version
            long mid = (lo + hi) >>> 1;
            Chunk c = ring.get((int) (mid & mask));
            if (c == null) {
                return EVICTED;
            }
            if (c.lastVersion() >= version) {
                found = mid;
                hi = mid - 1;
            } else {
                lo = mid + 1;
            }
        }
        if (found < 0) {
            return null;
        }
        Chunk c = ring.get((int) (found & mask));
        // the slot may have been reused by a wrap-around while we searched
        return tail <= found && c != null && c.lastVersion() >= version ? c : EVICTED;
    }

    public long sequencedVersion() {
        return sequencedVersion;
    }

    public long durableVersion() {
        return durableVersion;
    }

    /** Versions <= this must be read from S3. */
    public long floorVersion() {
        return floorVersion;
    }

    /**
     * Encoded bytes per version so far in this term (markers count as versions without bytes);
     * 0 before any transaction. Estimates how far behind a subscriber replaying history is.
     */
    public long bytesPerVersion() {
        long versions = sequencedVersion - startVersion;
        return versions <= 0 ? 0 : Math.max(1, totalBytes / versions);
    }

    public long totalBytes() {
        return totalBytes;
    }

    /** Encoded bytes of the transactions after {@code version} up to the newest appended. */
    public long bytesAfter(long version) {
        Chunk c = find(version + 1);
        if (c == null) {
            return 0;
        }
        if (c == EVICTED) {
            return Long.MAX_VALUE;
        }
        return totalBytes - (c.startByte() + c.offsets()[c.indexOf(Math.max(version + 1, c.firstVersion()))]);
    }


    public long retainedBytesApprox() {
        long t = tail;
        if (head == t) {
            return 0;
        }
        Chunk c = ring.get((int) (t & mask));
        return c == null ? 0 : totalBytes - c.startByte();
    }
}
