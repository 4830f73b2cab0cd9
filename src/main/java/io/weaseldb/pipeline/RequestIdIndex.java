package io.weaseldb.pipeline;

/**
 * The request ids of recent commits (and of ids /v1/status declared never to commit), so a
 * retried commit is answered with its original version instead of applying twice.
 *
 * <p>Memory is fixed per id, whatever the id's length: each id is kept as its 128-bit keyed
 * SipHash (a collision needs 2^64 ids; the key is secret, so none can be crafted). Entries live
 * in a ring in version order (28 bytes each: the hash and the version side by side, and a
 * timestamp), which is also the expiry order; an open-addressing table (8 bytes per slot, at
 * most half full) finds them: each slot holds a ring position and the low 32 bits of the hash,
 * so probing, moving and deleting read the table alone, and the ring only on a likely match.
 * Entries expire when older than {@code retentionVersions} versions or {@code retentionMillis},
 * whichever comes first. {@link #horizon()} is the oldest version whose ids are all still known.
 *
 * <p>Every call does bounded work, so the sequencer never stalls on the index's growth: the
 * ring is a queue of fixed-size segments (it grows by adding one, and gives emptied ones back),
 * and when the table doubles its entries move to the new table a few slots per {@link #committed}
 * or {@link #banned} call rather than all at once. While they move, a lookup that misses the new
 * table also probes the old one. (Copying a ring of 524,288 entries and rehashing it all at once
 * took the sequencer up to 38 ms; see docs/performance.md, finding 16.)
 *
 * <p>Owned by the sequencer thread (and, before it starts, by the startup rebuild).
 */
public final class RequestIdIndex {
    /** Returned by {@link #lookup} for an id not in the index. */
    public static final long UNKNOWN = Long.MIN_VALUE;

    private static final int SEGMENT_SHIFT = 10;
    private static final int SEGMENT = 1 << SEGMENT_SHIFT;
    /** A slot's low 32 bits: a ring position modulo 2^31, plus one (0 = empty); its high 32 bits: the hash's low 32. */
    private static final long POSITION_MASK = Integer.MAX_VALUE;
    /**
     * Old-table slots moved per insert while the table doubles. A doubling starts with the table
     * just over half full and the new one a quarter full; moving 8 slots per insert empties the
     * old table in an eighth of its length, long before the new one is half full.
     */
    private static final int MOVE_PER_INSERT = 8;

    /** {@code SEGMENT} entries: h0, h1 and the version of each side by side (usually one cache line), and times. */
    private static final class Segment {
        final long[] entries = new long[3 * SEGMENT]; // version >= 0 committed at v; < 0 banned at -(v + 1)
        final int[] times = new int[SEGMENT]; // seconds since epochBase
    }

    private final SipHash128 hash;
    private final long retentionVersions;
    private final long retentionMillis;
    private final long[] h = new long[2];
    private final long epochBaseMillis;

    // The ring: positions [head, tail) in insertion (= version) order. segments[firstSegment + k]
    // (circularly) holds the positions of segment number (head >> SEGMENT_SHIFT) + k.
    private Segment[] segments = new Segment[4];
    private int firstSegment;
    private int segmentCount;
    private Segment spare; // one emptied segment, kept so a ring at a segment boundary does not churn
    private long head;
    private long tail;

    private long[] table = new long[2048];
    /** While the table doubles: the previous table, read-only; null otherwise. */
    private long[] oldTable;
    private int moved; // slots of oldTable moved so far

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
        return (int) (tail - head);
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
        long segmentBytes = (long) SEGMENT * (3 * 8 + 4);
        return (segmentCount + (spare != null ? 1 : 0)) * segmentBytes + (long) table.length * 8
                + (oldTable != null ? (long) oldTable.length * 8 : 0);
    }

    /**
     * The version an id committed at, {@code -(U + 1)} if banned at U, or {@link #UNKNOWN}. An id
     * can be held twice only after a rebuild from the log (which records a ban at its object's last
     * version, later than it was made, so it may outlive the ban the leader forgot before the id
     * committed): then the commit is the answer. A live leader never holds both, since it refuses
     * a banned id's commit and answers a committed id's status from the commit.
     */
    public long lookup(String requestId) {
        hash.hash(requestId, h);
        long found = find(table, h[0], h[1]);
        if (oldTable != null && (found == UNKNOWN || isBanned(found))) {
            long old = find(oldTable, h[0], h[1]);
            if (old != UNKNOWN && (found == UNKNOWN || !isBanned(old))) {
                found = old;
            }
        }
        return found;
    }

    /** The id's commit if {@code t} holds one, else its ban, else {@link #UNKNOWN}. */
    private long find(long[] t, long a, long b) {
        int mask = t.length - 1;
        int tag = (int) a;
        long ban = UNKNOWN;
        for (int slot = tag & mask; ; slot = (slot + 1) & mask) {
            long e = t[slot];
            if (e == 0) {
                return ban;
            }
            if ((int) (e >>> 32) == tag) {
                long p = position(e);
                if (p < tail) { // the old table keeps entries that expired while it was read-only
                    long[] s = segment(p).entries;
                    int i = 3 * ((int) p & (SEGMENT - 1));
                    if (s[i] == a && s[i + 1] == b) {
                        if (s[i + 2] >= 0) {
                            return s[i + 2];
                        }
                        ban = s[i + 2];
                    }
                }
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
        // Table slots name positions modulo 2^31, and the table (twice the ids, at most) must stay
        // an array: 2^29 ids is far past any heap the config's 2^31-version limit could fill.
        if (tail - head >= 1L << 29) {
            throw new IllegalStateException("request-id index full");
        }
        // allocations first: should one fail, the index is as it was
        long[] doubled = (tail - head + 1) * 2 > table.length ? new long[table.length * 2] : null;
        if ((tail & (SEGMENT - 1)) == 0) {
            appendSegment();
        }
        long p = tail;
        Segment s = segment(p);
        int i = (int) p & (SEGMENT - 1);
        hash.hash(requestId, h);
        s.entries[3 * i] = h[0];
        s.entries[3 * i + 1] = h[1];
        s.entries[3 * i + 2] = entry;
        s.times[i] = (int) Math.min(Integer.MAX_VALUE, (nowMillis - epochBaseMillis) / 1000);
        tail++;
        if (doubled != null) {
            if (oldTable != null) {
                move(Integer.MAX_VALUE); // not reached at MOVE_PER_INSERT; kept so a doubling never meets another
            }
            oldTable = table;
            moved = 0;
            table = doubled;
        }
        insert(table, slotValue(p, h[0]));
        if (oldTable != null) {
            move(MOVE_PER_INSERT);
        }
    }

    private static long slotValue(long p, long h0) {
        return (h0 << 32) | ((p & POSITION_MASK) + 1);
    }

    /** Moves up to {@code n} slots of the old table into the new one; drops the old table when done. */
    private void move(int n) {
        long[] old = oldTable;
        int end = (int) Math.min(old.length, (long) moved + n);
        for (int slot = moved; slot < end; slot++) {
            long e = old[slot];
            if (e != 0 && position(e) < tail) {
                insert(table, e);
            }
        }
        moved = end;
        if (moved == old.length) {
            oldTable = null;
        }
    }

    private static void insert(long[] t, long e) {
        int mask = t.length - 1;
        int slot = (int) (e >>> 32) & mask;
        while (t[slot] != 0) {
            slot = (slot + 1) & mask;
        }
        t[slot] = e;
    }

    /**
     * The ring position a slot names: the one in [head, head + 2^31) with those low bits. Live
     * positions are below {@code tail}; one that has expired maps to tail or beyond.
     */
    private long position(long e) {
        long low = ((int) e - 1) & POSITION_MASK;
        return head + ((low - head) & POSITION_MASK);
    }

    private Segment segment(long p) {
        int k = (int) ((p >> SEGMENT_SHIFT) - (head >> SEGMENT_SHIFT));
        return segments[(firstSegment + k) & (segments.length - 1)];
    }

    private void appendSegment() {
        if (segmentCount == segments.length) {
            Segment[] grown = new Segment[segments.length * 2];
            for (int k = 0; k < segmentCount; k++) {
                grown[k] = segments[(firstSegment + k) & (segments.length - 1)];
            }
            segments = grown;
            firstSegment = 0;
        }
        Segment s = spare != null ? spare : new Segment();
        spare = null;
        segments[(firstSegment + segmentCount) & (segments.length - 1)] = s;
        segmentCount++;
    }

    /** Forgets entries older than the retention limits; bounded work per call. */
    public int expire(long latestVersion, long nowMillis, int maxEntries) {
        int n = 0;
        long nowSeconds = (nowMillis - epochBaseMillis) / 1000;
        while (head < tail && n < maxEntries) {
            Segment s = segment(head);
            int i = (int) head & (SEGMENT - 1);
            long e = s.entries[3 * i + 2];
            long v = e >= 0 ? e : -(e + 1);
            boolean tooOld = latestVersion - v >= retentionVersions || (nowSeconds - s.times[i]) * 1000 >= retentionMillis;
            if (!tooOld) {
                break;
            }
            remove(slotValue(head, s.entries[3 * i]));
            if (e < 0) {
                bans--;
            }
            horizon = Math.max(horizon, v + 1);
            head++;
            if ((head & (SEGMENT - 1)) == 0) {
                // head has passed the first segment's last position: give the segment back
                spare = segments[firstSegment];
                segments[firstSegment] = null;
                firstSegment = (firstSegment + 1) & (segments.length - 1);
                segmentCount--;
            }
            n++;
        }
        return n;
    }

    /**
     * Backward-shift deletion of a slot value from the table. While the table doubles, an entry
     * not moved yet is only in the old table, which stays as it is: the entry's expiry is what
     * marks it there (its position is then no longer live).
     */
    private void remove(long value) {
        long[] t = table;
        int mask = t.length - 1;
        int slot = (int) (value >>> 32) & mask;
        while (t[slot] != value) {
            if (t[slot] == 0) {
                return;
            }
            slot = (slot + 1) & mask;
        }
        int hole = slot;
        for (int next = (hole + 1) & mask; t[next] != 0; next = (next + 1) & mask) {
            int home = (int) (t[next] >>> 32) & mask;
            // move the entry back if its home is not cyclically in (hole, next]
            boolean between = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
            if (!between) {
                t[hole] = t[next];
                hole = next;
            }
        }
        t[hole] = 0;
    }

    /** Whether the table is doubling (for tests). */
    boolean moving() {
        return oldTable != null;
    }

    /**
     * For tests: the table holds only live positions, each once and tagged with its own hash,
     * and every live position is found by its hash (in the table, or while doubling in the old one).
     */
    boolean consistent() {
        java.util.BitSet seen = new java.util.BitSet();
        int count = 0;
        for (long e : table) {
            if (e != 0) {
                long p = position(e);
                if (p >= tail || seen.get((int) (p - head)) || e != slotValue(p, segment(p).entries[3 * ((int) p & (SEGMENT - 1))])) {
                    return false;
                }
                seen.set((int) (p - head));
                count++;
            }
        }
        if (oldTable == null && count != tail - head) {
            return false;
        }
        for (long p = head; p < tail; p++) {
            long[] s = segment(p).entries;
            int i = 3 * ((int) p & (SEGMENT - 1));
            long found = find(table, s[i], s[i + 1]);
            if (found == UNKNOWN && oldTable != null) {
                found = find(oldTable, s[i], s[i + 1]);
            }
            // a ban may be shadowed by a commit of the same id (lookup), or found as another ban
            // of it (an id asked about again once its first ban expired, both rebuilt from the log)
            if (found != s[i + 2] && !(s[i + 2] < 0 && found != UNKNOWN)) {
                return false;
            }
        }
        return true;
    }
}
