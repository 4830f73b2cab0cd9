package io.weaseldb.conflict;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Baseline for the benchmarks: the same step function (boundary key -> version of the
 * segment it starts) on a {@link ConcurrentSkipListMap}, written the straightforward way
 * (floorEntry, subMap().clear(), an incremental prune sweep over tailMap). Checked against the
 * brute-force model by ConflictSetModelTest so the benchmark compares correct implementations.
 *
 * <p>Owned by one thread, like {@link BTreeConflictSet}; the concurrent map is only the
 * readily available sorted map with floor/ceiling navigation and O(log n) expected cost.
 */
public final class SkipListConflictSet implements ConflictSet {

    private final ConcurrentSkipListMap<byte[], Long> boundaries =
            new ConcurrentSkipListMap<>(Arrays::compareUnsigned);
    private long newestVersion;
    private long oldestVersion;
    /** Next boundary the prune sweep visits; null: start of a sweep. */
    private byte[] pruneCursor;
    /** Horizon when the current sweep started. */
    private long sweepHorizon;
    private boolean sweptOnce;

    @Override
    public void addPointWrite(byte[] key, long version) {
        addRangeWrite(key, Arrays.copyOf(key, key.length + 1), version);
    }

    @Override
    public void addRangeWrite(byte[] begin, byte[] end, long version) {
        assert Arrays.compareUnsigned(begin, end) < 0 : "empty range";
        assert version >= newestVersion : "version went backwards";
        newestVersion = version;
        if (version <= oldestVersion) {
            sweptOnce = false; // may leave boundaries prunable at this horizon behind the sweep
        }
        Map.Entry<byte[], Long> atEnd = boundaries.floorEntry(end);
        long endVersion = atEnd == null ? 0 : atEnd.getValue();
        boolean endIsBoundary = atEnd != null && Arrays.equals(atEnd.getKey(), end);
        boundaries.subMap(begin, true, end, false).clear();
        boundaries.put(begin, version);
        if (!endIsBoundary && endVersion != version) {
            boundaries.put(end, endVersion);
        }
    }

    @Override
    public boolean pointConflicts(byte[] key, long readVersion) {
        Map.Entry<byte[], Long> floor = boundaries.floorEntry(key);
        return floor != null && floor.getValue() > readVersion;
    }

    @Override
    public boolean rangeConflicts(byte[] begin, byte[] end, long readVersion) {
        Map.Entry<byte[], Long> floor = boundaries.floorEntry(begin);
        if (floor != null && floor.getValue() > readVersion) {
            return true;
        }
        for (long version : boundaries.subMap(begin, false, end, false).values()) {
            if (version > readVersion) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void removeBefore(long oldestVersion) {
        this.oldestVersion = Math.max(this.oldestVersion, oldestVersion);
    }

    @Override
    public int prune(int maxEntriesToVisit) {
        int visited = 0;
        while (visited < maxEntriesToVisit) {
            if (pruneCursor == null) {
                if (sweepHorizon == oldestVersion && sweptOnce) {
                    break; // the last full sweep ran at this horizon: nothing left
                }
                sweepHorizon = oldestVersion;
            }
            NavigableMap<byte[], Long> view = pruneCursor == null ? boundaries : boundaries.tailMap(pruneCursor, true);
            Map.Entry<byte[], Long> before = pruneCursor == null ? null : boundaries.lowerEntry(pruneCursor);
            long carry = before == null ? 0 : before.getValue();
            pruneCursor = null;
            for (Iterator<Map.Entry<byte[], Long>> it = view.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<byte[], Long> entry = it.next();
                if (visited == maxEntriesToVisit) {
                    pruneCursor = entry.getKey();
                    return visited;
                }
                visited++;
                long version = entry.getValue();
                if (version <= oldestVersion && carry <= oldestVersion) {
                    it.remove();
                } else {
                    carry = version;
                }
            }
            sweptOnce = true;
        }
        return visited;
    }

    @Override
    public long oldestVersion() {
        return oldestVersion;
    }

    @Override
    public long size() {
        return boundaries.size(); // O(n) on this map; metrics only
    }

    @Override
    public long estimatedMemoryBytes() {
        // Node 24 + Long 16 + key ~32 + index nodes (~1/4 of entries x 24).
        return size() * 78;
    }

    @Override
    public void clear() {
        boundaries.clear();
        newestVersion = 0;
        oldestVersion = 0;
        pruneCursor = null;
        sweptOnce = false;
    }
}
