package io.weaseldb.testing;

import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Outcome;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/** A completion that runs in place and records what it was given (and how often). */
public final class RecordingCompletion implements Completion {
    private final List<Outcome> outcomes = new ArrayList<>();

    @Override
    public Executor executor() {
        return Runnable::run;
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
