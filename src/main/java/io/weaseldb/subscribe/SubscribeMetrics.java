package io.weaseldb.subscribe;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Subscription metrics. Thread-safe. */
public final class SubscribeMetrics {
    private final MeterRegistry registry;
    final AtomicInteger connected = new AtomicInteger();
    final AtomicInteger replaying = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLong historyHeld = new java.util.concurrent.atomic.AtomicLong();
    private final Counter events;
    private final Counter bytes;
    private final Counter historyObjects;
    private final DistributionSummary lag;
    private final ConcurrentHashMap<String, Counter> dropped = new ConcurrentHashMap<>();

    public SubscribeMetrics(MeterRegistry registry) {
        this.registry = registry;
        Gauge.builder("weaseldb.subscribers", connected, AtomicInteger::get)
                .description("Connected subscribers").register(registry);
        Gauge.builder("weaseldb.subscribers.replaying", replaying, AtomicInteger::get)
                .description("Subscribers reading history from S3").register(registry);
        Gauge.builder("weaseldb.subscribe.history.held", historyHeld, java.util.concurrent.atomic.AtomicLong::get)
                .baseUnit("bytes")
                .description("Log objects read from S3 for history replay and not yet handed to their streams "
                        + "(history_memory_bytes bounds it)").register(registry);
        events = Counter.builder("weaseldb.subscribe.events").description("Transaction events sent to subscribers")
                .register(registry);
        bytes = Counter.builder("weaseldb.subscribe.sent").baseUnit("bytes")
                .description("Bytes sent to subscribers").register(registry);
        historyObjects = Counter.builder("weaseldb.subscribe.history.objects")
                .description("Log objects read from S3 to replay history").register(registry);
        lag = DistributionSummary.builder("weaseldb.subscribe.lag").baseUnit("bytes")
                .description("How far behind the newest event a live subscriber is, sampled each second")
                .serviceLevelObjectives(1, 4096, 65536, 1 << 20, 4 << 20, 10 << 20, 64 << 20)
                .register(registry);
        for (String reason : DROP_REASONS) {
            counter(reason); // at 0 from the start, so increase() sees the first drop (audit 38)
        }
    }

    /** Every reason {@link #dropped} is given. */
    static final java.util.List<String> DROP_REASONS = java.util.List.of("slow", "error", "truncated", "leader_changed",
            "shutdown");

    /** Registers a gauge for the bytes the shared cache holds (read through the supplier: caches come and go with terms). */
    public void cacheGauge(java.util.function.LongSupplier bytesHeld) {
        Gauge.builder("weaseldb.subscribe.buffered", bytesHeld, s -> s.getAsLong()).baseUnit("bytes")
                .strongReference(true) // the supplier is a lambda nobody else holds
                .description("Encoded recent transactions held in memory for subscribers").register(registry);
    }

    void sent(int eventCount, long byteCount) {
        events.increment(eventCount);
        bytes.increment(byteCount);
    }

    void historyBytes(long delta) {
        historyHeld.addAndGet(delta);
    }

    void historyObject() {
        historyObjects.increment();
    }

    void lag(long lagBytes) {
        lag.record(lagBytes);
    }

    /** reason: one of {@link #DROP_REASONS}. */
    void dropped(String reason) {
        counter(reason).increment();
    }

    private Counter counter(String reason) {
        return dropped.computeIfAbsent(reason, r -> Counter.builder("weaseldb.subscribers.dropped")
                .description("Subscriber streams ended by the server, by reason").tag("reason", r)
                .register(registry));
    }
}
