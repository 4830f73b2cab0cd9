package io.weaseldb.pipeline;

import io.weaseldb.time.Clock;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thread that owns a {@link Stage}: calls {@code doWork} while there is work, spins briefly
 * when idle on machines with cores to spare (a commit often follows within microseconds under
 * load), then parks until woken or the stage's next deadline. A stage that throws is a bug: the
 * runner logs it and calls the failure handler, which stops the server (fail fast rather than run
 * with corrupt state).
 */
public final class StageRunner implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StageRunner.class);
    /**
     * Idle rounds before parking. Spinning saves a wake-up (a futex call and a reschedule) when the
     * next item follows within microseconds, but only pays when a spinning stage has a core of its
     * own: the server runs four stage threads beside its event loops and storage threads. On a
     * 2-core machine spinning took ~15% more CPU per commit for ~10% less closed-loop throughput
     * (A/B in docs/performance.md, finding 10), so small machines park at once.
     */
    static final int SPINS_BEFORE_PARK = Runtime.getRuntime().availableProcessors() >= 8 ? 100 : 0;

    private final Stage stage;
    private final WakeSignal signal;
    private final Clock clock;
    private final Runnable onFailure;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile long lastProgressNanos;

    public StageRunner(Stage stage, WakeSignal signal, Clock clock, Runnable onFailure) {
        this.stage = stage;
        this.signal = signal;
        this.clock = clock;
        this.onFailure = onFailure;
        this.thread = new Thread(this::run, "weaseldb-" + stage.name());
        this.thread.setDaemon(false);
        signal.bind(thread);
    }

    public void start() {
        lastProgressNanos = clock.nanoTime();
        thread.start();
    }

    /** Monotonic time the loop last went round; lets /ok tell a stuck stage from an idle one. */
    public long lastProgressNanos() {
        return lastProgressNanos;
    }

    private void run() {
        int idle = 0;
        try {
            while (running) {
                long now = clock.nanoTime();
                lastProgressNanos = now;
                int work = stage.doWork(now);
                if (work > 0) {
                    idle = 0;
                    continue;
                }
                if (++idle < SPINS_BEFORE_PARK) {
                    Thread.onSpinWait();
                    continue;
                }
                signal.prepareToPark();
                now = clock.nanoTime();
                if (stage.doWork(now) > 0) {
                    signal.cancelPark();
                    idle = 0;
                    continue;
                }
                long deadline = stage.nextDeadlineNanos();
                long timeout = deadline == Long.MAX_VALUE ? 1_000_000_000L : Math.max(0, deadline - now);
                // Park at most 1 s so lastProgressNanos stays fresh for the health check.
                signal.park(Math.min(timeout, 1_000_000_000L));
            }
        } catch (Throwable t) {
            log.error("stage {} failed; this is a bug, stopping the server", stage.name(), t);
            running = false;
            onFailure.run();
        }
    }

    @Override
    public void close() {
        stop();
    }

    /** Stops the thread; true once it has ended (a stage never blocks, so it ends within a pass). */
    public boolean stop() {
        running = false;
        signal.wake();
        java.util.concurrent.locks.LockSupport.unpark(thread);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        boolean interrupted = false;
        while (thread.isAlive() && System.nanoTime() < deadline) {
            try {
                thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                interrupted = true; // keep waiting: what the stage holds is answered only once it has stopped
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }
}
