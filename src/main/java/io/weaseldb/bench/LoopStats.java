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

    final Histogram latencyMicros = new Histogram(MAX_LATENCY_MICROS, 3);
    final Histogram subscriberLagMillis = new Histogram(TimeUnit.HOURS.toMillis(1), 3);
    final long[] completedPerSecond;
    long committed;
    /** 200 answers naming an earlier commit of the same request id: never counted as committed. */
    long duplicates;
    long conflicts;
    long tooOld;
    long refused;
    long errors;
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
    long subscriberDisconnects;

    LoopStats(int seconds) {
        completedPerSecond = new long[seconds];
    }

    void record(ResponseScan.Outcome outcome, long latencyNanos, int second) {
        recordLatency(latencyNanos);
        switch (outcome) {
            case COMMITTED -> committed++;
            case DUPLICATE -> duplicates++;
            case CONFLICT -> conflicts++;
            case TOO_OLD -> tooOld++;
            case REFUSED -> refused++;
            case ERROR -> errors++;
        }
        if (second >= 0 && second < completedPerSecond.length) {
            completedPerSecond[second]++;
        }
    }

    /** A request that never got an answer: only its latency so far, a lower bound, is recorded. */
    void recordUnanswered(long waitedNanos) {
        recordLatency(waitedNanos);
        unansweredRecorded++;
    }

    private void recordLatency(long nanos) {
        latencyMicros.recordValue(Math.min(MAX_LATENCY_MICROS, Math.max(0, nanos / 1000)));
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
        subscriberDisconnects += o.subscriberDisconnects;
    }

    long completed() {
        return committed + duplicates + conflicts + tooOld + refused + errors;
    }
}
