package io.weaseldb.bench;

/**
 * Open-loop arrivals: requests are intended at a fixed global rate, evenly spaced, and dealt to
 * connections round-robin, so connection {@code c} of {@code n} owns global arrivals
 * {@code c, c + n, c + 2n, ...}. Latency is measured from these intended times, not from when a
 * request could actually be sent, so a stalled server is charged for the requests it delayed
 * (no coordinated omission).
 *
 * @param startNanos    {@link System#nanoTime()} of global arrival 0
 * @param intervalNanos time between consecutive global arrivals (1e9 / rate)
 */
record ArrivalSchedule(long startNanos, double intervalNanos, int connection, int connections) {

    ArrivalSchedule {
        if (intervalNanos <= 0 || connection < 0 || connection >= connections) {
            throw new IllegalArgumentException("invalid schedule");
        }
    }

    static ArrivalSchedule of(long startNanos, double ratePerSecond, int connection, int connections) {
        return new ArrivalSchedule(startNanos, 1e9 / ratePerSecond, connection, connections);
    }

    /** Intended send time of this connection's {@code i}-th request. */
    long intendedNanos(long i) {
        return startNanos + (long) ((connection + (double) i * connections) * intervalNanos);
    }

    /** How many of this connection's requests are intended at or before {@code nowNanos}. */
    long dueBy(long nowNanos) {
        double global = (nowNanos - startNanos) / intervalNanos; // global arrivals elapsed
        if (global < connection) {
            return 0;
        }
        long n = (long) Math.floor((global - connection) / connections) + 1;
        // Guard the floating-point edge: the definition is intendedNanos(i) <= now.
        while (n > 0 && intendedNanos(n - 1) > nowNanos) {
            n--;
        }
        while (intendedNanos(n) <= nowNanos) {
            n++;
        }
        return n;
    }
}
