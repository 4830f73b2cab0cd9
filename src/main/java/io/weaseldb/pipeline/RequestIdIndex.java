package io.weaseldb.pipeline;

import java.util.Arrays;

/**
 * The request ids of recent commits (and of ids /v1/status declared never to commit), so a
 * retried commit is answered with its original version instead of applying twice.
 *
 * <p>Memory is fixed per id, whatever the id's length: each id is kept as its 128-bit keyed
 * SipHash (a collision needs 2^64 ids; the key is secret, so none can be crafted). Entries live
 * in a ring in version order (36 bytes each), which is also the expiry order; an open-addressing
 * table of ring positions (4 bytes per slot, at most half full) finds them. Entries expire when
 * older than {@code retentionVersions} versions or {@code retentionMillis}, whichever comes first.
 * {@link #horizon()} is the oldest version whose ids are all still known.
 *
 * <p>Owned by the sequencer thread (and, before it starts, by the startup rebuild).
 */
public final class RequestIdIndex {
    /** Returned by {@link #lookup} for an id not in the index. */
    public static final long UNKNOWN = Long.MIN_VALUE;

    private final SipHash128 hash;
    private final long retentionVersions;
    private final long retentionMillis;
    private final long[] h = new long[2];

    // ring, in insertion (= version) order
    private long[] h0 = new long[1024];
    private long[] h1 = new long[1024];
    private long[] versions = new long[1024]; // >= 0 committed at v; < 0 banned at -(v + 1)
    private int[] times = new int[1024]; // seconds since epochBase
    private int head;
    private int size;
    private final long epochBaseMillis;

    private int[] table = new int[4096]; // ring index + 1; 0 = empty
    private long horizon;
    /** Entries that are bans. */
    private long bans;

    public RequestIdIndex(long k0, long k1, long retentionVersions, long retentionMillis, long startVersion,
                          long nowMillis) {
        this.hash = new SipHash128(k0, k1);
        this.retentionVersions = retentionVersions;
        this.retentionMillis = retentionMillis;
        this.horizon = startVersion;
        this.epochBaseMillis = nowMillis - Math.min(retentionMillis, 1L << 40) - 1000;
    }

    /** Oldest version whose request ids are all known: a commit at or after it would be found. */
    public long horizon() {
        return horizon;
    }

    public int size() {
        return size;
    }

    /** Bans held (ids /v1/status declared never to commit). */
    public long bans() {
        return bans;
    }

    /**
     * Whether another ban may be added. Commits add at most one id per version, so the version
     * limit bounds them; bans share a version (all of a batch's, or a marker's), so they get
     * their own bound: as many as {@code retentionVersions}, which at most doubles the memory.
     * Past it, /v1/status declines to ban until older bans expire (the caller answers 503).
     */
    public boolean canBan() {
        return bans < retentionVersions;
    }

    /** Bytes held, for the metrics and docs. */
    public long memoryBytes() {
        return (long) h0.length * (8 + 8 + 8 + 4) + (long) table.length * 4;
    }

    /** The version an id committed at, {@code -(U + 1)} if banned at U, or {@link #UNKNOWN}. */
    public long lookup(String requestId) {
        hash.hash(requestId, h);
        int mask = table.length - 1;
        for (int slot = (int) h[0] & mask; ; slot = (slot + 1) & mask) {
            int e = table[slot];
            if (e == 0) {
                return UNKNOWN;
            }
            int r = e - 1;
            if (h0[r] == h[0] && h1[r] == h[1]) {
                return versions[r];
            }
        }
    }

    public static boolean isBanned(long entry) {
        return entry != UNKNOWN && entry < 0;
    }

    public static long bannedAt(long entry) {
        return -(entry + 1);
    }

    public void committed(String requestId, long version, long nowMillis) {
        add(requestId, version, nowMillis);
    }

    public void banned(String requestId, long version, long nowMillis) {
        add(requestId, -(version + 1), nowMillis);
        bans++;
    }

    private void add(String requestId, long entry, long nowMillis) {
        if (size == h0.length) {
            grow();
        }
        int r = (head + size) % h0.length;
        hash.hash(requestId, h);
        h0[r] = h[0];
        h1[r] = h[1];
        versions[r] = entry;
        times[r] = (int) Math.min(Integer.MAX_VALUE, (nowMillis - epochBaseMillis) / 1000);
        size++;
        if (size * 2 > table.length) {
            rehash(table.length * 2);
        } else {
            insert(r);
        }
    }

    private void insert(int r) {
        int mask = table.length - 1;
        int slot = (int) h0[r] & mask;
        while (table[slot] != 0) {
            slot = (slot + 1) & mask;
        }
        table[slot] = r + 1;
    }

    /** Forgets entries older than the retention limits; bounded work per call. */
    public int expire(long latestVersion, long nowMillis, int maxEntries) {
        int n = 0;
        long nowSeconds = (nowMillis - epochBaseMillis) / 1000;
        while (size > 0 && n < maxEntries) {
            long e = versions[head];
            long v = e >= 0 ? e : -(e + 1);
            boolean tooOld = latestVersion - v >= retentionVersions || (nowSeconds - times[head]) * 1000 >= retentionMillis;
            if (!tooOld) {
                break;
            }
            remove(head);
            if (e < 0) {
                bans--;
            }
            horizon = Math.max(horizon, v + 1);
            head = (head + 1) % h0.length;
            size--;
            n++;
        }
        return n;
    }

    /** Backward-shift deletion of ring entry r from the linear-probing table. */
    private void remove(int r) {
        int mask = table.length - 1;
        int slot = (int) h0[r] & mask;
        while (table[slot] != r + 1) {
            slot = (slot + 1) & mask;
        }
        int hole = slot;
        for (int next = (hole + 1) & mask; table[next] != 0; next = (next + 1) & mask) {
            int home = (int) h0[table[next] - 1] & mask;
            // move the entry back if its home is not cyclically in (hole, next]
            boolean between = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
            if (!between) {
                table[hole] = table[next];
                hole = next;
            }
        }
        table[hole] = 0;
    }

    private void grow() {
        int cap = h0.length * 2;
        long[] n0 = new long[cap];
        long[] n1 = new long[cap];
        long[] nv = new long[cap];
        int[] nt = new int[cap];
        for (int i = 0; i < size; i++) {
            int r = (head + i) % h0.length;
            n0[i] = h0[r];
            n1[i] = h1[r];
            nv[i] = versions[r];
            nt[i] = times[r];
        }
        h0 = n0;
        h1 = n1;
        versions = nv;
        times = nt;
        head = 0;
        rehash(Math.max(table.length, Integer.highestOneBit(cap) * 2));
    }

    private void rehash(int capacity) {
        table = new int[capacity];
        for (int i = 0; i < size; i++) {
            insert((head + i) % h0.length);
        }
    }

    /** For tests: the table never holds a stale or duplicate position. */
    boolean consistent() {
        int count = 0;
        for (int e : table) {
            if (e != 0) {
                count++;
            }
        }
        return count == size && Arrays.stream(table).filter(e -> e != 0).distinct().count() == size;
    }
}
