package io.weaseldb.bench;

import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * What one generator event loop measured. Touched only by that loop while the run is on; read
 * (merged) after the loops have stopped sending, on the loop itself.
 */
final class LoopStats {
    /** Latencies above this are recorded as this (a run is at most an hour). */
    static final long MAX_LATENCY_MICROS = TimeUnit.SECONDS.toMicros(3600);

    /**
     * Latencies of the measured requests (intended, in closed loop sent, in the measured window)
     * that got an answer other than an error or a duplicate, whenever it came (the drain
     * included); plus the unanswered and unsent ones at what they had waited when given up.
     */
    final Histogram latencyMicros = new Histogram(MAX_LATENCY_MICROS, 3);
    final Histogram subscriberLagMillis = new Histogram(TimeUnit.HOURS.toMillis(1), 3);
    /** Answers other than errors and duplicates, by the second of the measured window they arrived in. */
    final long[] completedPerSecond;
    // Answers that arrived in the measured window, by outcome: the throughput, divided by its
    // length. Counting by intended time instead would let answers that arrive in the drain (an
    // overloaded server's backlog) raise the rate with --drain-s.
    long committed;
    long conflicts;
    long tooOld;
    long refused;
    /** Measured requests answered (not with an error or a duplicate), whenever: those in {@link #latencyMicros}. */
    long measuredAnswered;
    // Answers that are no measurement but a fault, to measured requests or arriving in the
    // measured window; any makes the run incomplete. Not in the latencies.
    long errors;
    /** 200 answers naming an earlier commit of the same request id: never counted as committed. */
    long duplicates;
    long sent;
    /** Open loop: requests due before the end that were never sent. */
    long unsent;
    /** Requests sent that never got an answer (the run gave up on them, or their connection closed). */
    long unanswered;
    /** Unanswered or unsent requests in the latency histogram, at what they had waited when given up. */
    long unansweredRecorded;
    long requestBytes;
    long responseBytes;
    long connectionFailures;
    /** Commit connections opened again after the server closed them (--reconnect). */
    long reconnects;
    long subscriberEvents;
    long subscriberBytes;
    /** Subscribe requests answered 200: the streams that ran. */
    long subscriberStreams;
    /** Subscribe requests answered otherwise (503 at the server's limit): no stream, no disconnect. */
    long subscriberRefusals;
    /** Streams that ended before the run did. */
    long subscriberDisconnects;
    /** Transaction events whose prev_version was not the version of the event before them. */
    long subscriberGaps;
    /** Transaction events whose version was not above the one before them. */
    long subscriberDuplicateEvents;

    LoopStats(int seconds) {
        completedPerSecond = new long[seconds];
    }

    /**
     * One answer. Its latency counts if its request is a measured one ({@code measuredRequest}:
     * intended or sent in the measured window), whenever it arrived; its outcome counts toward
     * the throughput if it arrived in the measured window ({@code second}: the second of the
     * window it arrived in, -1 if it arrived outside it).
     */
    void record(ResponseScan.Outcome outcome, long latencyNanos, boolean measuredRequest, int second) {
        switch (outcome) {
            case ERROR, DUPLICATE -> {
                if (measuredRequest || second >= 0) {
                    if (outcome == ResponseScan.Outcome.ERROR) {
                        errors++;
                    } else {
                        duplicates++;
                    }
                }
                return;
            }
            case COMMITTED, CONFLICT, TOO_OLD, REFUSED -> { }
        }
        if (measuredRequest) {
            recordLatency(latencyNanos);
            measuredAnswered++;
        }
        if (second < 0) {
            return;
        }
        switch (outcome) {
            case COMMITTED -> committed++;
            case CONFLICT -> conflicts++;
            case TOO_OLD -> tooOld++;
            case REFUSED -> refused++;
            case ERROR, DUPLICATE -> throw new AssertionError(outcome);
        }
        if (second < completedPerSecond.length) {
            completedPerSecond[second]++;
        }
    }

    /** {@code count} requests that never got an answer: only their latency so far, a lower bound, is recorded. */
    void recordUnanswered(long waitedNanos, long count) {
        latencyMicros.recordValueWithCount(micros(waitedNanos), count);
        unansweredRecorded += count;
    }

    private void recordLatency(long nanos) {
        latencyMicros.recordValue(micros(nanos));
    }

    private static long micros(long nanos) {
        return Math.min(MAX_LATENCY_MICROS, Math.max(0, nanos / 1000));
    }

    void add(LoopStats o) {
        latencyMicros.add(o.latencyMicros);
        subscriberLagMillis.add(o.subscriberLagMillis);
        for (int i = 0; i < completedPerSecond.length; i++) {
            completedPerSecond[i] += o.completedPerSecond[i];
        }
        committed += o.committed;
        duplicates += o.duplicates;
        conflicts += o.conflicts;
        tooOld += o.tooOld;
        refused += o.refused;
        measuredAnswered += o.measuredAnswered;
        errors += o.errors;
        sent += o.sent;
        unsent += o.unsent;
        unanswered += o.unanswered;
        unansweredRecorded += o.unansweredRecorded;
        requestBytes += o.requestBytes;
        responseBytes += o.responseBytes;
        connectionFailures += o.connectionFailures;
        reconnects += o.reconnects;
        subscriberEvents += o.subscriberEvents;
        subscriberBytes += o.subscriberBytes;
        subscriberStreams += o.subscriberStreams;
        subscriberRefusals += o.subscriberRefusals;
        subscriberDisconnects += o.subscriberDisconnects;
        subscriberGaps += o.subscriberGaps;
        subscriberDuplicateEvents += o.subscriberDuplicateEvents;
    }

    /** Answers in the measured window, errors and duplicates excluded. */
    long completed() {
        return committed + conflicts + tooOld + refused;
    }
}
