package io.weaseldb.time;

/**
 * The only source of time in core code, so that tests and the deterministic simulation can
 * control it. {@link #nanoTime()} is monotonic (deadlines, latencies); {@link #epochMillis()}
 * is wall time (transaction timestamps, policy expiry).
 *
 * <p>Implementations are thread-safe.
 */
public interface Clock {
    long nanoTime();

    long epochMillis();

    /** The real clock. */
    Clock SYSTEM = new Clock() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public long epochMillis() {
            return System.currentTimeMillis();
        }
    };
}
