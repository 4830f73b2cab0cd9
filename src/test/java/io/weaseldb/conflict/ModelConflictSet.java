package io.weaseldb.conflict;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The brute-force reference: every write as a (begin, end, version) range, checked by a linear
 * scan. Obviously correct, so the tests compare every answer of the real sets to it.
 */
final class ModelConflictSet implements ConflictSet {

    record Write(byte[] begin, byte[] end, long version) { }

    private final List<Write> writes = new ArrayList<>();
    private long oldestVersion;

    static byte[] successor(byte[] key) {
        return Arrays.copyOf(key, key.length + 1);
    }

    @Override
    public void addPointWrite(byte[] key, long version) {
        writes.add(new Write(key, successor(key), version));
    }

    @Override
    public void addRangeWrite(byte[] begin, byte[] end, long version) {
        writes.add(new Write(begin, end, version));
    }

    @Override
    public boolean pointConflicts(byte[] key, long readVersion) {
        for (Write w : writes) {
            if (w.version > readVersion && Arrays.compareUnsigned(w.begin, key) <= 0
                    && Arrays.compareUnsigned(key, w.end) < 0) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean rangeConflicts(byte[] begin, byte[] end, long readVersion) {
        for (Write w : writes) {
            if (w.version > readVersion && Arrays.compareUnsigned(w.begin, end) < 0
                    && Arrays.compareUnsigned(begin, w.end) < 0) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void removeBefore(long oldestVersion) {
        this.oldestVersion = Math.max(this.oldestVersion, oldestVersion);
        writes.removeIf(w -> w.version <= this.oldestVersion);
    }

    @Override
    public int prune(int maxEntriesToVisit) {
        return 0;
    }

    @Override
    public long oldestVersion() {
        return oldestVersion;
    }

    @Override
    public long size() {
        return writes.size();
    }

    @Override
    public long estimatedMemoryBytes() {
        return 0;
    }

    @Override
    public void clear() {
        writes.clear();
        oldestVersion = 0;
    }
}
