package io.weaseldb.s3;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Storage request metrics shared by every {@link ObjectStore}: latency by operation and outcome,
 * and failures by operation and HTTP status. Meters are created once per label set. Thread-safe.
 */
public final class StoreMetrics {
    private final MeterRegistry registry;
    private final ConcurrentHashMap<String, Timer> timers = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> errors = new ConcurrentHashMap<>();

    public StoreMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public void record(String op, String outcome, long startNanos) {
        timers.computeIfAbsent(op + '|' + outcome, k -> Timer.builder("weaseldb.s3.request")
                        .description("S3 request latency by operation and outcome")
                        .tag("operation", op)
                        .tag("outcome", outcome)
                        .publishPercentileHistogram()
                        .register(registry))
                .record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
    }

    public void fail(String op, StorageException e, long startNanos) {
        if (e.kind() == StorageException.Kind.NOT_FOUND) {
            record(op, "not_found", startNanos);
            return;
        }
        record(op, "error", startNanos);
        String status = e.statusCode() == 0 ? "no_response" : String.valueOf(e.statusCode());
        errors.computeIfAbsent(op + '|' + status, k -> Counter.builder("weaseldb.s3.errors")
                        .description("S3 request failures by operation and HTTP status (no_response: timeout or connection error)")
                        .tag("operation", op)
                        .tag("status", status)
                        .register(registry))
                .increment();
    }
}
