package io.weaseldb;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * A look at storage that requests arriving at the same time share: each caller gets the result of
 * a look that began after its call (so it reflects everything written before the request), but
 * however many callers wait, at most one look runs and one more is queued. Callers that arrive
 * before a queued look begins share it; one that arrives while a look runs waits for the next.
 *
 * <p>Used where an answer must be fresh and costs storage requests: a leader past its lease
 * confirming that no other server took the log over ({@link LeadershipCheck}), and a standby
 * finding the end of the valid log for {@code GET /v1/version}. Bounded work under a flood of such
 * requests, instead of one look each.
 *
 * <p>Thread-safe: called from event loops; looks run on {@code executor}, one at a time, so the
 * look itself may keep state between runs without locking.
 */
final class SharedLook<T> {
    private final Callable<T> look;
    private final Executor executor;
    private final Object lock = new Object();
    /** Completes with the next look to begin: the callers waiting for it. */
    private CompletableFuture<T> next;
    /** A look is queued on the executor or running. */
    private boolean looking;

    SharedLook(Callable<T> look, Executor executor) {
        this.look = look;
        this.executor = executor;
    }

    /** Completes with the result of a look that started after this call, or exceptionally with its failure. */
    CompletableFuture<T> get() {
        CompletableFuture<T> mine;
        boolean submit;
        synchronized (lock) {
            if (next == null) {
                next = new CompletableFuture<>();
            }
            mine = next;
            submit = !looking;
            looking = true;
        }
        if (submit) {
            submit();
        }
        return mine;
    }

    private void submit() {
        try {
            executor.execute(this::run);
        } catch (Throwable e) {
            // rejected (shutting down), or any other failure to queue it (ThreadPoolExecutor throws
            // an Error when it cannot start a worker): no look will run, so answer its callers now;
            // left "looking", every later caller would join a look that never comes
            CompletableFuture<T> batch;
            synchronized (lock) {
                batch = next;
                next = null;
                looking = false;
            }
            if (batch != null) {
                batch.completeExceptionally(e);
            }
        }
    }

    /** One look, answering every caller that joined before it began. */
    private void run() {
        CompletableFuture<T> batch;
        synchronized (lock) {
            batch = next;
            next = null;
        }
        try {
            if (batch != null) {
                batch.complete(look.call());
            }
        } catch (Throwable t) {
            batch.completeExceptionally(t);
        } finally {
            boolean again;
            synchronized (lock) {
                again = next != null;
                looking = again;
            }
            if (again) {
                submit();
            }
        }
    }
}
