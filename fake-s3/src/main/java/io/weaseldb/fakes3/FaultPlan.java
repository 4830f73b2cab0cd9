package io.weaseldb.fakes3;

import java.util.Objects;
import java.util.Optional;

/**
 * The faults decided for one request: an added delay (sum of the latency rules that fired) and at
 * most one terminal fault (error, reset, timeout or lost reply).
 *
 * @param delayMs  milliseconds to wait before answering (or before resetting)
 * @param terminal the fault that replaces or follows the operation, if any
 */
public record FaultPlan(long delayMs, Optional<FaultKind> terminal) {
    public static final FaultPlan NONE = new FaultPlan(0, Optional.empty());

    public FaultPlan {
        Objects.requireNonNull(terminal, "terminal");
        if (delayMs < 0) {
            throw new IllegalArgumentException("delayMs must be >= 0");
        }
        if (terminal.isPresent() && terminal.get() instanceof FaultKind.Latency) {
            throw new IllegalArgumentException("latency is not a terminal fault");
        }
    }

    public boolean isNone() {
        return delayMs == 0 && terminal.isEmpty();
    }
}
