package io.weaseldb.fakes3;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.random.RandomGenerator;

/**
 * Decides which faults hit a request, from an ordered list of {@link FaultRule}s and one seeded
 * random generator, and counts what it injected.
 *
 * <p>Thread-safety: called by every event loop of the server and by tests (adding and clearing
 * rules at runtime), so all state sits behind one lock. Serialising the decisions is also what
 * makes a run reproducible: with the same seed and the same order of requests, the same requests
 * fail. The lock is held for a few comparisons and one random draw per matching rule.
 *
 * <p>Evaluation: rules are tried in insertion order. Every matching latency rule that fires adds
 * its delay; the first matching non-latency rule that fires becomes the terminal fault and ends
 * the evaluation. A rule "fires" when it matches, has not used up its count, and wins its
 * probability draw; only firing rules consume count.
 */
public final class FaultInjector {

    private final ReentrantLock lock = new ReentrantLock();
    private final RandomGenerator random;
    /** Guarded by {@link #lock}. */
    private final List<ActiveRule> rules = new ArrayList<>();
    /** Guarded by {@link #lock}; counts per {@link FaultKind#name()}, never reset by {@link #clear()}. */
    private final Map<String, Long> injectedByKind = new LinkedHashMap<>();

    /** Guarded by {@link #lock}. */
    private static final class ActiveRule {
        final FaultRule rule;
        long fired;

        ActiveRule(FaultRule rule) {
            this.rule = rule;
        }
    }

    public FaultInjector(RandomGenerator random) {
        this.random = Objects.requireNonNull(random, "random");
        for (String kind : List.of("error", "latency", "reset", "timeout", "lost_reply")) {
            injectedByKind.put(kind, 0L);
        }
    }

    /** An injector whose random generator is seeded with {@code seed}. */
    public static FaultInjector seeded(long seed) {
        // SplittableRandom is a RandomGenerator with a stable, documented sequence per seed.
        return new FaultInjector(new java.util.SplittableRandom(seed));
    }

    /** Appends a rule; it applies to requests decided from now on. */
    public void add(FaultRule rule) {
        Objects.requireNonNull(rule, "rule");
        lock.lock();
        try {
            rules.add(new ActiveRule(rule));
        } finally {
            lock.unlock();
        }
    }

    /** Parses {@code spec} (see {@link FaultRule#parse(String)}) and appends the rule. */
    public FaultRule add(String spec) {
        FaultRule rule = FaultRule.parse(spec);
        add(rule);
        return rule;
    }

    /** Removes every rule (the injection counters are kept). */
    public void clear() {
        lock.lock();
        try {
            rules.clear();
        } finally {
            lock.unlock();
        }
    }

    /** Removes the first rule equal to {@code rule}; returns whether one was removed. */
    public boolean remove(FaultRule rule) {
        lock.lock();
        try {
            for (int i = 0; i < rules.size(); i++) {
                if (rules.get(i).rule.equals(rule)) {
                    rules.remove(i);
                    return true;
                }
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** The current rules, in evaluation order. */
    public List<FaultRule> rules() {
        lock.lock();
        try {
            return rules.stream().map(r -> r.rule).toList();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Decides the faults for one request.
     *
     * @param operation what the request does
     * @param key       its object key (for LIST, the prefix parameter), or {@code null} when it has
     *                  none; rules with a key prefix never match a {@code null} key
     */
    public FaultPlan decide(FaultRule.Operation operation, String key) {
        Objects.requireNonNull(operation, "operation");
        lock.lock();
        try {
            if (rules.isEmpty()) {
                return FaultPlan.NONE;
            }
            long delay = 0;
            for (ActiveRule active : rules) {
                FaultRule rule = active.rule;
                if (!fires(active, operation, key)) {
                    continue;
                }
                switch (rule.kind()) {
                    case FaultKind.Latency l -> delay += l.minMs() == l.maxMs()
                            ? l.minMs()
                            : random.nextLong(l.minMs(), l.maxMs() + 1);
                    case FaultKind.Error e -> {
                        return new FaultPlan(delay, Optional.of(e));
                    }
                    case FaultKind.Reset r -> {
                        return new FaultPlan(delay, Optional.of(r));
                    }
                    case FaultKind.Timeout t -> {
                        return new FaultPlan(delay, Optional.of(t));
                    }
                    case FaultKind.LostReply l -> {
                        return new FaultPlan(delay, Optional.of(l));
                    }
                }
            }
            return delay == 0 ? FaultPlan.NONE : new FaultPlan(delay, Optional.empty());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Decides a per-key error inside a multi-key request (DeleteObjects): only error rules with a
     * non-empty key prefix take part, since prefix-less rules already acted on the whole request.
     */
    public Optional<FaultKind.Error> decideKeyError(FaultRule.Operation operation, String key) {
        Objects.requireNonNull(key, "key");
        lock.lock();
        try {
            for (ActiveRule active : rules) {
                if (active.rule.kind() instanceof FaultKind.Error e
                        && !active.rule.keyPrefix().isEmpty()
                        && fires(active, operation, key)) {
                    return Optional.of(e);
                }
            }
            return Optional.empty();
        } finally {
            lock.unlock();
        }
    }

    /** Must hold {@link #lock}. Consumes count and bumps counters when the rule fires. */
    private boolean fires(ActiveRule active, FaultRule.Operation operation, String key) {
        FaultRule rule = active.rule;
        if (!rule.matches(operation, key) || active.fired >= rule.maxCount()) {
            return false;
        }
        // Draw only for fractional probabilities so that rules with p=1 do not shift the sequence.
        if (rule.probability() < 1.0 && !(random.nextDouble() < rule.probability())) {
            return false;
        }
        active.fired++;
        injectedByKind.merge(rule.kind().name(), 1L, Long::sum);
        return true;
    }

    /** Total faults injected since the injector was created. */
    public long injectedCount() {
        lock.lock();
        try {
            return injectedByKind.values().stream().mapToLong(Long::longValue).sum();
        } finally {
            lock.unlock();
        }
    }

    /** Faults injected of one kind ({@code error}, {@code latency}, {@code reset}, {@code timeout}, {@code lost_reply}). */
    public long injectedCount(String kindName) {
        lock.lock();
        try {
            return injectedByKind.getOrDefault(kindName, 0L);
        } finally {
            lock.unlock();
        }
    }

    /** How many times the currently active rules equal to {@code rule} have fired. */
    public long firedCount(FaultRule rule) {
        lock.lock();
        try {
            return rules.stream().filter(r -> r.rule.equals(rule)).mapToLong(r -> r.fired).sum();
        } finally {
            lock.unlock();
        }
    }

    /** Snapshot of the per-kind counters, for metrics. */
    public Map<String, Long> injectedByKind() {
        lock.lock();
        try {
            return Map.copyOf(injectedByKind);
        } finally {
            lock.unlock();
        }
    }
}
