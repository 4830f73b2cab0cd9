package io.weaseldb.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.weaseldb.pipeline.Outcome;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Function;

/**
 * HTTP metrics: requests and latency by endpoint and status, commit outcomes, connections and
 * limit hits. Meters are created once per label set and cached, so the hot path only records.
 * Thread-safe.
 */
public final class HttpMetrics {
    private final MeterRegistry registry;
    private static final int STATUSES = 600;
    /**
     * Request timers by endpoint and status ({@code endpoint.ordinal() * 600 + status}), created on
     * first use. Looking one up allocates nothing: a boxed key or a capturing lambda per request
     * was ~60 bytes of garbage per commit.
     */
    private final AtomicReferenceArray<Timer> requests = new AtomicReferenceArray<>(Endpoint.values().length * STATUSES);
    private final ConcurrentHashMap<String, Counter> outcomes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> rejections = new ConcurrentHashMap<>();
    private final Function<String, Counter> newOutcome;
    private final Function<String, Counter> newRejection;
    final AtomicInteger connections = new AtomicInteger();

    public HttpMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.newOutcome = k -> Counter.builder("weaseldb.commits")
                .description("Commit requests by outcome")
                .tag("outcome", k)
                .register(registry);
        this.newRejection = k -> Counter.builder("weaseldb.http.rejected")
                .description("Requests or connections refused by a limit")
                .tag("reason", k)
                .register(registry);
        Gauge.builder("weaseldb.http.connections", connections, AtomicInteger::get)
                .description("Open client connections").register(registry);
        for (String reason : REJECTION_REASONS) {
            rejections.computeIfAbsent(reason, newRejection);
        }
    }

    /**
     * Every reason {@link #rejected} is given, exposed at 0 from the start: a series that first
     * appears at 1 has no increase in Prometheus, so alerts on the first rejection after a restart
     * would not fire (audit 38).
     */
    static final java.util.List<String> REJECTION_REASONS = java.util.List.of("max_request_size", "max_header_bytes",
            "max_request_line", "header_read_timeout", "body_read_timeout", "body_deadline", "max_connections",
            "pipeline_full", "max_in_flight_request_bytes", "max_subscribers", "idle_timeout", "unauthorized", "forbidden",
            "malformed_request", "malformed_target", "transfer_coding", "content_coding", "http_version", "tls");

    /** The gauge of commit-body bytes being received (one server per registry). */
    void requestBytesInFlight(BodyBudget bodies) {
        Gauge.builder("weaseldb.http.request.body.in.flight", bodies, BodyBudget::used)
                .description("Bytes of commit bodies being received (max_in_flight_request_bytes bounds it)")
                .baseUnit("bytes").register(registry);
    }

    void request(Endpoint endpoint, int status, long nanos) {
        if (status < 0 || status >= STATUSES) {
            timer(endpoint, status).record(nanos, TimeUnit.NANOSECONDS); // never sent; not cached
            return;
        }
        int slot = endpoint.ordinal() * STATUSES + status;
        Timer t = requests.get(slot);
        if (t == null) {
            t = timer(endpoint, status); // registering is idempotent: threads racing here get the same timer
            requests.set(slot, t);
        }
        t.record(nanos, TimeUnit.NANOSECONDS);
    }

    private Timer timer(Endpoint endpoint, int status) {
        return Timer.builder("weaseldb.http.requests")
                .description("HTTP requests by endpoint and status, with latency")
                .tag("endpoint", endpoint.label)
                .tag("status", Integer.toString(status))
                .publishPercentileHistogram()
                .minimumExpectedValue(java.time.Duration.ofNanos(50_000))
                .maximumExpectedValue(java.time.Duration.ofSeconds(30))
                .register(registry);
    }

    void outcome(Outcome o) {
        String name = switch (o) {
            case Outcome.Committed c -> c.duplicate() ? "duplicate" : "committed";
            case Outcome.Conflict c -> "conflict";
            case Outcome.TooOld t -> "too_old";
            case Outcome.LeaderChanged l -> "leader_changed";
            case Outcome.Rejected r -> "bad_request";
            case Outcome.Unavailable u -> u.outcomeUnknown() ? "unknown" : "unavailable";
            case Outcome.Healthy h -> null;
            case Outcome.StatusCommitted sc -> null;
            case Outcome.StatusNotCommitted sn -> null;
            case Outcome.Truncated t -> null;
        };
        if (name != null) {
            commitOutcome(name);
        }
    }

    void commitOutcome(String name) {
        counter(outcomes, name, newOutcome).increment();
    }

    /** A limit was hit: reason is e.g. max_connections, max_request_size, pipeline_full. */
    void rejected(String reason) {
        counter(rejections, reason, newRejection).increment();
    }

    /** The cached counter for {@code key}: a plain get first, since computeIfAbsent's lambda would allocate per call. */
    private static Counter counter(ConcurrentHashMap<String, Counter> cache, String key, Function<String, Counter> make) {
        Counter c = cache.get(key);
        return c != null ? c : cache.computeIfAbsent(key, make);
    }
}
