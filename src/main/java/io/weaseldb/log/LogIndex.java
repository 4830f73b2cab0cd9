package io.weaseldb.log;

import java.util.Arrays;

/**
 * The first versions of the log objects that make up the valid log, in order: lets a reader
 * find the object holding any version without listing the bucket. Built from the startup
 * listing, extended as batches become durable, trimmed by truncation.
 *
 * <p>Thread-safe: one writer at a time (the publisher or the truncator), readers anywhere.
 * Operations are short and rare (once per log object), so a monitor is the simple, right tool.
 */
public final class LogIndex {
    private long[] firsts = new long[1024];
    private int start; // index of the oldest retained entry
    private int end;

    public synchronized void add(long firstVersion) {
        if (end > start && firsts[end - 1] >= firstVersion) {
            throw new IllegalStateException("log index must grow in order: " + firstVersion + " after " + firsts[end - 1]);
        }
        if (end == firsts.length) {
            if (start > firsts.length / 2) {
                System.arraycopy(firsts, start, firsts, 0, end - start);
                end -= start;
                start = 0;
            } else {
                firsts = Arrays.copyOf(firsts, firsts.length * 2);
            }
        }
        firsts[end++] = firstVersion;
    }

    /** The first version of the object that holds {@code version} (the greatest first version <= it), or -1. */
    public synchronized long floor(long version) {
        int i = Arrays.binarySearch(firsts, start, end, version);
        if (i >= 0) {
            return firsts[i];
        }
        int insert = -i - 1;
        return insert == start ? -1 : firsts[insert - 1];
    }

    /** The first version of the object after the one starting at {@code firstVersion}, or -1. */
    public synchronized long next(long firstVersion) {
        int i = Arrays.binarySearch(firsts, start, end, firstVersion);
        int n = i >= 0 ? i + 1 : -i - 1;
        return n < end ? firsts[n] : -1;
    }

    /** The oldest object's first version, or -1 when empty. */
    public synchronized long oldest() {
        return end > start ? firsts[start] : -1;
    }

    public synchronized int size() {
        return end - start;
    }

    /** Forgets the objects before {@code firstVersion} (they were deleted). */
    public synchronized void removeBefore(long firstVersion) {
        while (start < end && firsts[start] < firstVersion) {
            start++;
        }
    }

    /** Forgets one object (startup: an orphan that recovery found among the objects it listed). */
    public synchronized void remove(long firstVersion) {
        int i = Arrays.binarySearch(firsts, start, end, firstVersion);
        if (i >= 0) {
            System.arraycopy(firsts, i + 1, firsts, i, end - i - 1);
            end--;
        }
    }

    /** A copy of the retained first versions, oldest first. */
    public synchronized long[] snapshot() {
        return Arrays.copyOfRange(firsts, start, end);
    }
}
