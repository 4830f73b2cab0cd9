package io.weaseldb.pipeline;

/**
 * Maps "conflict_window_ms ago" to a version: samples of (time, latest version) at a bounded
 * rate, so the sequencer knows the oldest version whose reads it can still check. Reads at a
 * version older than {@link #oldestVersion()} get {@code too_old}; the conflict set may forget
 * writes at or below it.
 *
 * <p>Owned by the sequencer thread.
 */
final class VersionWindow {
    private final long windowNanos;
    private final long granularityNanos;
    private final long[] times;
    private final long[] versions;
    private int head; // oldest sample
    private int size;
    private long oldest;
    private long lastSampleNanos;

    VersionWindow(long windowNanos, long initialOldestVersion) {
        this.windowNanos = windowNanos;
        // ~4096 samples per window, never finer than 1 ms
        this.granularityNanos = Math.max(1_000_000L, windowNanos / 4096);
        int capacity = (int) Math.min(1 << 16, windowNanos / granularityNanos + 16);
        this.times = new long[capacity];
        this.versions = new long[capacity];
        this.oldest = initialOldestVersion;
    }

    /** Records that {@code latestVersion} was current at {@code nowNanos}; advances the window. */
    void advance(long nowNanos, long latestVersion) {
        if (size == 0 || nowNanos - lastSampleNanos >= granularityNanos) {
            if (size == times.length) {
                pop();
            }
            int tail = (head + size) % times.length;
            times[tail] = nowNanos;
            versions[tail] = latestVersion;
            size++;
            lastSampleNanos = nowNanos;
        }
        long cutoff = nowNanos - windowNanos;
        while (size > 0 && times[head] <= cutoff) {
            pop();
        }
    }

    private void pop() {
        oldest = Math.max(oldest, versions[head]);
        head = (head + 1) % times.length;
        size--;
    }

    long oldestVersion() {
        return oldest;
    }
}
