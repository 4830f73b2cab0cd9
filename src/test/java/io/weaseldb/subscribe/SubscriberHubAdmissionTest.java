package io.weaseldb.subscribe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.log.LogIndex;
import io.weaseldb.log.LogLayout;
import io.weaseldb.testing.ManualClock;
import io.weaseldb.testing.ManualObjectStore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Admission holds the log for a subscription from the moment it is admitted (its 200 head goes
 * out before it streams), and an admission after truncation published a new oldest version is
 * refused (RetentionManagerTest covers truncation's side: it checks the floor again under the
 * same lock before publishing).
 */
class SubscriberHubAdmissionTest {
    final LogIndex index = new LogIndex();
    final SubscriberHub hub = new SubscriberHub(new SubscriberHub.Settings(10, Long.MAX_VALUE, TimeUnit.SECONDS.toNanos(1), 2, 4),
            new EventCache(1 << 20, 64, 0), index, new ManualObjectStore().auto(true), new LogLayout(""), Runnable::run,
            new SubscribeMetrics(new SimpleMeterRegistry()), new ManualClock());

    @Test
    void anAdmittedSubscriptionHoldsItsCursorUntilItStreamsOrIsCancelled() {
        assertEquals(Long.MAX_VALUE, hub.minCursor());
        assertNull(hub.admit(15));
        assertNull(hub.admit(15));
        assertNull(hub.admit(40));
        // before any of them streams, truncation already sees what they need (it did not: a pass
        // between admission and open could delete it, and the 200 stream ended at once)
        assertEquals(15, hub.minCursor());
        hub.cancel(15);
        assertEquals(15, hub.minCursor(), "the other one admitted from 15 still holds it");
        hub.cancel(15);
        assertEquals(40, hub.minCursor());
        assertEquals(1, hub.count(), "the cancelled ones gave their max_subscribers slots back");
        EmbeddedChannel ch = new EmbeddedChannel();
        try {
            hub.open(ch, 40, true, "L");
            assertEquals(40, hub.minCursor(), "streaming now: held by the subscription itself");
            assertEquals(1, hub.count(), "open takes the slot admit reserved");
        } finally {
            ch.close();
        }
    }

    /** max_subscribers streams, admitted or streaming, and not one more; a slot given back is taken again. */
    @Test
    void admissionsStopAtMaxSubscribers() {
        for (int i = 0; i < 10; i++) {
            assertNull(hub.admit(0), "subscription " + (i + 1) + " of 10");
        }
        var refused = assertInstanceOf(SubscriberHub.Refusal.TooMany.class, hub.admit(0));
        assertEquals(10, refused.max());
        assertEquals(10, hub.count(), "a refusal takes no slot");
        hub.cancel(0);
        assertNull(hub.admit(0));
    }

    @Test
    void anAdmissionAfterTruncationPublishedIsRefused() throws Exception {
        index.add(0);
        index.add(10);
        index.add(20);
        hub.excludingAdmissions(() -> index.removeBefore(20)); // what a truncation pass does, under the lock
        var refused = assertInstanceOf(SubscriberHub.Refusal.Truncated.class, hub.admit(5));
        assertEquals(20, refused.oldestVersion());
        assertNull(hub.admit(19), "after = oldest - 1 streams from the oldest version");
    }
}
