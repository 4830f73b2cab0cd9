package io.weaseldb.sim;

import io.weaseldb.time.Clock;
import java.util.PriorityQueue;

/**
 * Simulated time and a single agenda of timed actions, run in (time, insertion) order on the
 * calling thread. Everything in a simulation happens through it, so a seed replays exactly.
 */
final class SimScheduler implements Clock {
    private record Timed(long atNanos, long seq, Runnable action) {}

    private final PriorityQueue<Timed> agenda = new PriorityQueue<>((a, b) ->
            a.atNanos != b.atNanos ? Long.compare(a.atNanos, b.atNanos) : Long.compare(a.seq, b.seq));
    private long nowNanos = 1_000_000_000L;
    private long seq;
    private static final long EPOCH_MILLIS = 1_790_000_000_000L;

    @Override
    public long nanoTime() {
        return nowNanos;
    }

    @Override
    public long epochMillis() {
        return EPOCH_MILLIS + nowNanos / 1_000_000;
    }

    void at(long atNanos, Runnable action) {
        agenda.add(new Timed(Math.max(atNanos, nowNanos), seq++, action));
    }

    void after(long delayNanos, Runnable action) {
        at(nowNanos + delayNanos, action);
    }

    boolean isEmpty() {
        return agenda.isEmpty();
    }

    int size() {
        return agenda.size();
    }

    /** Runs the next action, advancing time to it; false when nothing is left. */
    boolean step() {
        Timed t = agenda.poll();
        if (t == null) {
            return false;
        }
        nowNanos = t.atNanos;
        t.action.run();
        return true;
    }
}
