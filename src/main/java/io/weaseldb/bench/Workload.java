package io.weaseldb.bench;

import java.util.Locale;

/**
 * The transaction shapes the load generator sends. Each is a preset of {@link Shape}; the
 * command line can override any knob (e.g. {@code --workload rmw --keys 100} is a hotter
 * read-modify-write).
 *
 * <ul>
 *   <li>{@code blind-write}: one write, no precondition.
 *   <li>{@code rmw}: a point read of key k at the read version, then a write of k: the real
 *       optimistic read-modify-write, conflicting when another transaction wrote k after the
 *       read version. 1M keys: conflicts are rare (the headline workload).
 *   <li>{@code hot-key}: {@code rmw} over 16 keys: most transactions conflict.
 *   <li>{@code range-read}: a range read over 100 consecutive keys, then a write inside it.
 *   <li>{@code txn-100}: 100 blind writes to random keys in one transaction.
 *   <li>{@code big-value}: one blind write of a 10 KiB value.
 * </ul>
 */
public enum Workload {
    BLIND_WRITE(new Shape(Reads.NONE, 1_000_000, 16, 100, 1, 1)),
    RMW(new Shape(Reads.POINT, 1_000_000, 16, 100, 1, 1)),
    HOT_KEY(new Shape(Reads.POINT, 16, 16, 100, 1, 1)),
    RANGE_READ(new Shape(Reads.RANGE, 1_000_000, 16, 100, 1, 100)),
    TXN_100(new Shape(Reads.NONE, 1_000_000, 16, 100, 100, 1)),
    BIG_VALUE(new Shape(Reads.NONE, 1_000_000, 16, 10 << 10, 1, 1));

    /** What a transaction reads before it writes. */
    public enum Reads { NONE, POINT, RANGE }

    /**
     * A transaction shape's defaults.
     *
     * @param keys      key space: keys are chosen uniformly from {@code [0, keys)}
     * @param rangeKeys consecutive keys a range read covers
     */
    public record Shape(Reads reads, int keys, int keyBytes, int valueBytes, int opsPerTxn, int rangeKeys) {}

    private final Shape shape;

    Workload(Shape shape) {
        this.shape = shape;
    }

    public Shape shape() {
        return shape;
    }

    public Reads reads() {
        return shape.reads();
    }

    /** The command-line name, e.g. {@code blind-write}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static Workload byName(String name) {
        for (Workload w : values()) {
            if (w.label().equals(name)) {
                return w;
            }
        }
        throw new IllegalArgumentException("--workload: unknown workload \"" + name + "\"");
    }
}
