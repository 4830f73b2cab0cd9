package io.weaseldb.conflict;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/** PLACEHOLDER until the purpose-built structure lands (branch conflict). Owned by the sequencer thread. */
public final class ConflictSet {
    private final TreeMap<byte[], Long> bounds = new TreeMap<>(Arrays::compareUnsigned);

    public boolean pointConflicts(byte[] key, long readVersion) {
        Map.Entry<byte[], Long> e = bounds.floorEntry(key);
        return e != null && e.getValue() > readVersion;
    }

    public boolean rangeConflicts(byte[] begin, byte[] end, long readVersion) {
        Map.Entry<byte[], Long> e = bounds.floorEntry(begin);
        if (e != null && e.getValue() > readVersion) {
            return true;
        }
        for (long v : bounds.subMap(begin, false, end, false).values()) {
            if (v > readVersion) {
                return true;
            }
        }
        return false;
    }

    public void addPointWrite(byte[] key, long version) {
        byte[] end = Arrays.copyOf(key, key.length + 1);
        addRangeWrite(key, end, version);
    }

    public void addRangeWrite(byte[] begin, byte[] end, long version) {
        Map.Entry<byte[], Long> atEnd = bounds.floorEntry(end);
        long endVersion = atEnd == null ? 0 : atEnd.getValue();
        bounds.subMap(begin, true, end, true).clear();
        bounds.put(begin, version);
        bounds.put(end, endVersion);
    }

    public void removeBefore(long oldestVersion) {
        // placeholder: no pruning
    }

    public long size() {
        return bounds.size();
    }
}
