package io.weaseldb.testing;

import io.weaseldb.time.Clock;
import java.util.concurrent.atomic.AtomicLong;

/** Simulated time for tests: moves only when told. */
public final class ManualClock implements Clock {
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private final AtomicLong epochMillis = new AtomicLong(1_795_000_000_000L);

    @Override
    public long nanoTime() {
        return nanos.get();
    }

    @Override
    public long epochMillis() {
        return epochMillis.get();
    }

    public void advanceMillis(long ms) {
        nanos.addAndGet(ms * 1_000_000L);
        epochMillis.addAndGet(ms);
    }
}
