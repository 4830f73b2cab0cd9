package io.weaseldb.pipeline;

import java.util.List;

/**
 * What the pipeline answers for a request that went through it. Closed family: the HTTP layer
 * maps each to a status and body with an exhaustive switch.
 */
public sealed interface Outcome {

    /** The request id an outcome names, or null for those that name none. */
    static String requestIdOf(Outcome o) {
        return switch (o) {
            case Committed c -> c.requestId();
            case Conflict c -> c.requestId();
            case TooOld t -> t.requestId();
            case LeaderChanged l -> l.requestId();
            case Unavailable u -> u.requestId();
            case StatusCommitted s -> s.requestId();
            case StatusNotCommitted s -> s.requestId();
            case Rejected r -> null;
            case Truncated t -> null;
            case Healthy h -> null;
        };
    }


    /** The commit is durable in the log at {@code version}. */
    record Committed(long version, String leaderId, String requestId, boolean duplicate) implements Outcome {}

    /** Preconditions at {@code conflicts} (indexes into the request) failed; retry from {@code version}. */
    record Conflict(long version, String leaderId, String requestId, List<Integer> conflicts) implements Outcome {
        public Conflict {
            conflicts = List.copyOf(conflicts);
        }
    }

    /** A precondition version is older than the conflict window; re-read at {@code version}. */
    record TooOld(long version, String leaderId, String requestId) implements Outcome {}

    /** The request named a leader that is not the current one. */
    record LeaderChanged(long version, String leaderId, String requestId) implements Outcome {}

    /** Input that only the sequencer can judge (e.g. a version newer than the log); a 400. */
    record Rejected(String message) implements Outcome {}

    /**
     * The request was not served. {@code outcomeUnknown} means it may yet commit (the client must
     * ask {@code /v1/status}); otherwise it did not and will not commit. {@code leaderId} names
     * the leader when known (null otherwise).
     */
    record Unavailable(String message, boolean outcomeUnknown, int retryAfterSeconds, String leaderId, String requestId,
                       String leaderUrl) implements Outcome {
        public Unavailable(String message, boolean outcomeUnknown, int retryAfterSeconds, String leaderId, String requestId) {
            this(message, outcomeUnknown, retryAfterSeconds, leaderId, requestId, null);
        }

        public Unavailable withRequestId(String id) {
            return new Unavailable(message, outcomeUnknown, retryAfterSeconds, leaderId, id, leaderUrl);
        }
    }

    /** {@code /v1/status}: the request id committed at {@code version}. */
    record StatusCommitted(String requestId, long version, String leaderId) implements Outcome {}

    /** {@code /v1/status}: the request id did not commit at or below {@code version}, and never will. */
    record StatusNotCommitted(String requestId, long version) implements Outcome {}

    /** History needed for the answer is gone (410 log_truncated). */
    record Truncated(String message, long oldestVersion) implements Outcome {}

    /** A health probe made it through every stage. */
    record Healthy(long version, String leaderId) implements Outcome {}
}
