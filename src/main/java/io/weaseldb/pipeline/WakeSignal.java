package io.weaseldb.pipeline;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * Lets producers wake a parked stage thread without a lock and without a missed wake-up.
 *
 * <p>The stage thread announces it is about to park, re-checks its queues, then parks; a
 * producer enqueues, issues a full fence, and unparks only if the stage announced parking. The
 * fence on both sides (Dekker style) makes "queue empty + no wake-up" impossible. Unpark is a
 * syscall, so producers on a busy pipeline almost never pay it: the stage only parks when idle.
 *
 * <p>One stage thread parks; any thread may {@link #wake()}.
 */
public final class WakeSignal {
    private static final VarHandle PARKED;

    static {
        try {
            PARKED = MethodHandles.lookup().findVarHandle(WakeSignal.class, "parked", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through PARKED
    private volatile boolean parked;
    private volatile Thread owner;

    /** Binds the signal to the thread that will park on it. */
    public void bind(Thread thread) {
        owner = thread;
    }

    /** Called by producers after enqueueing. */
    public void wake() {
        VarHandle.fullFence();
        if ((boolean) PARKED.getVolatile(this) && PARKED.compareAndSet(this, true, false)) {
            Thread t = owner;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    /** Stage thread: announce parking. Must re-check for work afterwards, then {@link #park}. */
    void prepareToPark() {
        PARKED.setVolatile(this, true);
        VarHandle.fullFence();
    }

    /** Stage thread: park until woken or the timeout passes (a spurious return is fine). */
    void park(long timeoutNanos) {
        if ((boolean) PARKED.getVolatile(this)) {
            if (timeoutNanos == Long.MAX_VALUE) {
                LockSupport.park(this);
            } else if (timeoutNanos > 0) {
                LockSupport.parkNanos(this, timeoutNanos);
            }
        }
        PARKED.setVolatile(this, false);
    }

    /** Stage thread: there was work after all. */
    void cancelPark() {
        PARKED.setVolatile(this, false);
    }
}
