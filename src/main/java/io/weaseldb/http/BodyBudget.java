package io.weaseldb.http;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes of commit bodies being received, over all connections ({@code [server]
 * max_in_flight_request_bytes}). A body is parsed as it streams in, and what it has parsed so
 * far (about twice its bytes in heap: jackson's text buffer of a long string, the decoded keys
 * and values) stays until its last byte arrives. Without a bound, clients that send most of a
 * large commit and then stall (within {@code body_read_timeout_ms} per read) could hold that much
 * on every connection: 200 stalled 0.9 MB bodies held 390 MB of heap, and {@code max_connections}
 * allows 10,000. A connection reserves a body's bytes as they arrive (so a head alone, however
 * long the length it declares, holds nothing and locks nobody out) and gives them back when the
 * body is parsed and handed to the pipeline (whose queue {@code max_pending_commits} bounds),
 * rejected, or its connection closes.
 *
 * <p>Thread-safe, lock-free: shared by the event loops.
 */
final class BodyBudget {
    private final long limit;
    private final AtomicLong used = new AtomicLong();

    BodyBudget(long limit) {
        this.limit = limit;
    }

    /** Takes {@code bytes} if they fit under the limit; false (and nothing taken) otherwise. */
    boolean tryReserve(long bytes) {
        for (;;) {
            long u = used.get();
            if (u + bytes > limit) {
                return false;
            }
            if (used.compareAndSet(u, u + bytes)) {
                return true;
            }
        }
    }

    void release(long bytes) {
        used.addAndGet(-bytes);
    }

    /** Bytes reserved now, for the metrics. */
    long used() {
        return used.get();
    }

    long limit() {
        return limit;
    }
}
