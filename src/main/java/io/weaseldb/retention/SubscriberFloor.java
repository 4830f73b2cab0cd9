package io.weaseldb.retention;

import java.util.function.LongSupplier;

/**
 * What subscribers still need of the log: {@link #getAsLong()} is the lowest cursor among
 * subscriptions, streaming or admitted and about to stream (every version above it is still to
 * be sent to someone; Long.MAX_VALUE with none).
 */
@FunctionalInterface
public interface SubscriberFloor extends LongSupplier {
    /**
     * Runs {@code publish} with no subscription admitted meanwhile. Truncation publishes the new
     * oldest version in it, after checking again that no subscription admitted since it read the
     * floor needs what it is about to delete: a subscription is then either admitted before (and
     * seen) or checked against the new oldest version (and refused with 410), never streamed a
     * 200 that ends at once. Default: runs it (nothing to hold off).
     */
    default void excludingAdmissions(Runnable publish) {
        publish.run();
    }

    /** The floor of {@code hub}'s subscriptions, holding off its admissions. */
    static SubscriberFloor of(io.weaseldb.subscribe.SubscriberHub hub) {
        return new SubscriberFloor() {
            @Override
            public long getAsLong() {
                return hub.minCursor();
            }

            @Override
            public void excludingAdmissions(Runnable publish) {
                hub.excludingAdmissions(publish);
            }
        };
    }
}
