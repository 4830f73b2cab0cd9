package io.weaseldb.pipeline;

import java.util.Arrays;

/**
 * Which leader wrote which versions: the start version and leader id of each term seen in the
 * retained log, so a duplicate commit or a status answer can name the leader that committed it.
 * Owned by the sequencer thread (filled before it starts).
 */
public final class TermHistory {
    private long[] starts = new long[8];
    private String[] leaders = new String[8];
    private int size;

    /** Records that {@code leaderId} wrote from {@code firstVersion} on (terms in log order). */
    public void add(long firstVersion, String leaderId) {
        if (size > 0 && leaders[size - 1].equals(leaderId)) {
            return;
        }
        if (size == starts.length) {
            starts = Arrays.copyOf(starts, size * 2);
            leaders = Arrays.copyOf(leaders, size * 2);
        }
        starts[size] = firstVersion;
        leaders[size] = leaderId;
        size++;
    }

    /** The leader that wrote {@code version}, or null if it is older than what is known. */
    public String leaderAt(long version) {
        int i = Arrays.binarySearch(starts, 0, size, version);
        int at = i >= 0 ? i : -i - 2;
        return at < 0 ? null : leaders[at];
    }
}
