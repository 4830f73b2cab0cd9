package io.weaseldb.pipeline;

/**
 * A pipeline stage in the Agrona "agent" style: {@link #doWork} processes whatever is queued and
 * whatever timers are due, and never blocks. A {@link StageRunner} owns the thread that calls it;
 * tests and the deterministic simulation call it directly with simulated time.
 *
 * <p>All state of a stage is owned by the thread calling {@link #doWork}.
 */
public interface Stage {
    /** Does the work that is ready at {@code nowNanos}; returns how much was done (0 = idle). */
    int doWork(long nowNanos);

    /** The next time a timer of this stage is due, or {@link Long#MAX_VALUE} for none. */
    long nextDeadlineNanos();

    /** Thread name, metric label. */
    String name();
}
