package io.weaseldb.testing;

import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Outcome;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/** A completion that records what it was given (and how often); it runs in place unless given an executor. */
public final class RecordingCompletion implements Completion {
    private final List<Outcome> outcomes = new ArrayList<>();
    private final Executor executor;

    public RecordingCompletion() {
        this(Runnable::run);
    }

    public RecordingCompletion(Executor executor) {
        this.executor = executor;
    }

    @Override
    public Executor executor() {
        return executor;
    }

    @Override
    public synchronized void complete(Outcome outcome) {
        outcomes.add(outcome);
    }

    public synchronized List<Outcome> outcomes() {
        return List.copyOf(outcomes);
    }

    public synchronized Outcome only() {
        if (outcomes.size() != 1) {
            throw new AssertionError("expected exactly one outcome, got " + outcomes);
        }
        return outcomes.get(0);
    }

    public synchronized boolean done() {
        return !outcomes.isEmpty();
    }
}
