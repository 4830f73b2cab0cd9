package io.weaseldb.fakes3;

import java.time.InstantSource;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What every connection handler shares: the parser, the operations, the worker pool, the fault
 * injector, the buffered-bytes budget and the counters.
 *
 * <p>Thread-safety: all members are immutable or thread-safe (atomics, executor); shared by the
 * event loops and the workers.
 */
final class ServerContext {
    final RequestParser parser;
    final S3Operations operations;
    final FaultInjector faults;
    final ExecutorService workers;
    final InstantSource clock;
    /** Upper bound on request body bytes buffered at once, across all connections. */
    final long maxBufferedBytes;
    /** How long a request being received may go without a byte, or its head take (400 RequestTimeout). */
    final long requestTimeoutNanos;
    private final AtomicLong bufferedBytes = new AtomicLong();
    private final AtomicLong nextRequestId = new AtomicLong(1);

    final AtomicLong requests = new AtomicLong();
    final AtomicLong errorResponses = new AtomicLong();
    final AtomicLong rejectedConnections = new AtomicLong();
    final AtomicLong rejectedBusy = new AtomicLong();
    final AtomicLong timedOutRequests = new AtomicLong();
    final AtomicInteger openConnections = new AtomicInteger();
    /** Bodies received per {@link PayloadSpec.Encoding}, so tests can tell which framing a client used. */
    final java.util.concurrent.atomic.AtomicLongArray payloadEncodings =
            new java.util.concurrent.atomic.AtomicLongArray(PayloadSpec.Encoding.values().length);

    ServerContext(RequestParser parser, S3Operations operations, FaultInjector faults, ExecutorService workers,
                  InstantSource clock, long maxBufferedBytes, long requestTimeoutMs) {
        this.parser = parser;
        this.operations = operations;
        this.faults = faults;
        this.workers = workers;
        this.clock = clock;
        this.maxBufferedBytes = maxBufferedBytes;
        this.requestTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(requestTimeoutMs);
    }

    /** A request id in S3's style (16 uppercase hex digits), unique within this server. */
    String nextRequestId() {
        return String.format("%016X", nextRequestId.getAndIncrement());
    }

    /** Reserves {@code bytes} of the body budget; false when it would be exceeded. */
    boolean tryReserve(long bytes) {
        while (true) {
            long current = bufferedBytes.get();
            if (current + bytes > maxBufferedBytes) {
                return false;
            }
            if (bufferedBytes.compareAndSet(current, current + bytes)) {
                return true;
            }
        }
    }

    void release(long bytes) {
        long after = bufferedBytes.addAndGet(-bytes);
        assert after >= 0 : "buffered bytes went negative: " + after;
    }

    long bufferedBytes() {
        return bufferedBytes.get();
    }

    FakeS3Stats stats() {
        return new FakeS3Stats(requests.get(), errorResponses.get(), rejectedConnections.get(), rejectedBusy.get(),
                openConnections.get(), bufferedBytes.get(), timedOutRequests.get());
    }
}
