package io.weaseldb.conflict;

/**
 * The conflict set: for every key written by a committed transaction inside the conflict
 * window, the newest version that wrote it. The sequencer checks a transaction's
 * preconditions against it and then inserts the transaction's writes (see
 * docs/conflict-set.md and design.md, "Conflict set").
 *
 * <p>Keys are byte strings ordered by unsigned lexicographic comparison
 * ({@link java.util.Arrays#compareUnsigned(byte[], byte[])}); ranges are half-open
 * {@code [begin, end)} with {@code begin < end} (the caller validates). Versions are
 * positive. A point write of {@code k} is the range {@code [k, k + "\0")}.
 *
 * <p>Implementations are single-threaded: the object is owned by the sequencer thread
 * (stage 1), which alone calls every method; there is no synchronization. An implementation
 * may keep references to the {@code byte[]} arrays passed in; callers never mutate them.
 *
 * <p>Pruning is split in two so that it never pauses the sequencer: {@link #removeBefore}
 * only raises the horizon, and {@link #prune} does a bounded amount of the reclamation work
 * each time it is called (the sequencer calls it once per batch with a budget proportional
 * to the writes of the batch).
 */
public interface ConflictSet {

    /**
     * Records that {@code key} was written at {@code version}.
     *
     * @param version at least every version added before (writes of one transaction share it)
     */
    void addPointWrite(byte[] key, long version);

    /**
     * Records that every key in {@code [begin, end)} was written at {@code version} (a range
     * delete).
     *
     * @param version at least every version added before
     */
    void addRangeWrite(byte[] begin, byte[] end, long version);

    /** Whether {@code key} was written at a version {@code > readVersion}. */
    boolean pointConflicts(byte[] key, long readVersion);

    /**
     * Whether any key in {@code [begin, end)} was written (by a point or range write) at a
     * version {@code > readVersion}.
     */
    boolean rangeConflicts(byte[] begin, byte[] end, long readVersion);

    /**
     * Raises the horizon: the caller promises never to check with a read version below
     * {@code oldestVersion} again, so writes at versions {@code <= oldestVersion} may be
     * forgotten. O(1); the memory is reclaimed by later {@link #prune} calls.
     */
    void removeBefore(long oldestVersion);

    /**
     * Reclaims entries made redundant by the horizon, visiting at most
     * {@code maxEntriesToVisit} entries from where the previous call stopped (a sweep over the
     * key space that wraps around), so the pause is bounded by the budget.
     *
     * @return entries visited (an implementation may count a group of entries it can judge at
     *     once as one); less than {@code maxEntriesToVisit} means nothing is left to reclaim for
     *     the current horizon (the sweep finished)
     */
    int prune(int maxEntriesToVisit);

    /** The horizon set by {@link #removeBefore} (0 initially). */
    long oldestVersion();

    /** Entries (boundaries of the step function) held, for metrics. */
    long size();

    /** A rough estimate of the heap bytes held, for metrics. */
    long estimatedMemoryBytes();

    /** Forgets everything, including the newest and oldest versions. */
    void clear();
}
