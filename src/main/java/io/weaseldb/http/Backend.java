package io.weaseldb.http;

import io.weaseldb.pipeline.Completion;
import io.weaseldb.txn.CommitRequest;
import java.util.concurrent.Executor;

/**
 * What the HTTP layer needs from the rest of the server. Implemented by the server's wiring;
 * tests can implement it directly. Methods are called on event loops and must not block.
 */
public interface Backend {

    /** Enqueues a commit; false when the pipeline is full (the caller answers 503). */
    boolean submitCommit(CommitRequest request, Completion completion);

    /** Enqueues a status query; false when the pipeline is full. */
    boolean submitStatus(String requestId, long minVersion, Completion completion);

    /** Enqueues a health probe through every stage; false when the pipeline is full. */
    boolean submitProbe(Completion completion);

    /** While leading: the newest durable version and this server's leader id; null otherwise. */
    VersionInfo leaderInfo();

    /**
     * {@code GET /v1/version}: a committed version at least as new as every commit acknowledged
     * before the call (a standby reads the log for it). Completes with null when unknown (then
     * "not the leader"), or exceptionally with {@link Refused} for another answer.
     */
    java.util.concurrent.CompletableFuture<VersionInfo> version();

    /** The 503 a server that does not lead answers with, naming the leader when known. */
    io.weaseldb.pipeline.Outcome.Unavailable notLeader(String requestId);

    /** The subscription registry, or null when this server cannot stream (e.g. not leading). */
    io.weaseldb.subscribe.SubscriberHub subscribers();

    /** Retention policies, or null when this server does not manage them (not leading). */
    io.weaseldb.retention.RetentionManager retention();

    /** Prometheus text exposition. Called on {@link #metricsExecutor()}, never on an event loop. */
    String scrapeMetrics();

    /**
     * Where scrapes run: bounded, so it may refuse ({@code RejectedExecutionException}) when
     * scrapes pile up; the scrape is then answered 503.
     */
    Executor metricsExecutor();

    /**
     * True once the server is shutting down: every answer from then on says
     * {@code Connection: close} and closes its connection, so no client sends another request
     * on a connection the server is about to close.
     */
    default boolean draining() {
        return false;
    }

    record VersionInfo(long version, String leaderId) {}

    /** {@link #version()} failed with this answer (rather than "not the leader"). */
    final class Refused extends RuntimeException {
        private final io.weaseldb.pipeline.Outcome.Unavailable answer;

        public Refused(io.weaseldb.pipeline.Outcome.Unavailable answer) {
            super(answer.message(), null, false, false);
            this.answer = answer;
        }

        public io.weaseldb.pipeline.Outcome.Unavailable answer() {
            return answer;
        }
    }
}
