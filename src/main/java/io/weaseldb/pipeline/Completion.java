package io.weaseldb.pipeline;

import java.util.concurrent.Executor;

/**
 * Where a request's {@link Outcome} goes: back to the connection that asked. The release stage
 * groups completions by {@link #executor()} (the connection's event loop) and calls
 * {@link #complete} on that executor, so connection state is only touched by its owner.
 */
public interface Completion {
    Executor executor();

    /** Runs on {@link #executor()}. Must not block. */
    void complete(Outcome outcome);

    /**
     * Hands {@code outcome} to {@link #executor()}, for answers given outside the release stage
     * (refusals that rest on nothing sequenced before them). Any thread.
     */
    default void completeLater(Outcome outcome) {
        executor().execute(() -> complete(outcome));
    }
}
