package io.weaseldb.subscribe;

import static io.weaseldb.subscribe.SubscriberHubLifecycleTest.hubOverTenObjects;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.log.LogLayout;
import io.weaseldb.testing.ManualObjectStore;
import org.junit.jupiter.api.Test;

/**
 * Review 41: streams that wait for a history read while holding one give way to other waiters.
 * When every waiter held history, a wake-up went round them for ever (one event-loop task per
 * hop, with no slot free) until one of their reads completed: busy event loops for a storage
 * read's latency, more with every release. A holder now gives way only to a waiter that holds
 * nothing (which is granted, or keeps its place without passing the wake-up on).
 */
class SubscriberHubWakeUpTest {
    @Test
    void aWakeUpDoesNotCircleBetweenStreamsThatAllHoldHistory() throws Exception {
        ManualObjectStore store = new ManualObjectStore();
        LogLayout layout = new LogLayout("");
        // three history reads at once, two read ahead per stream
        SubscriberHub hub = hubOverTenObjects(store, layout, 3);
        EmbeddedChannel f = new EmbeddedChannel();
        EmbeddedChannel c2 = new EmbeddedChannel();
        EmbeddedChannel c1 = new EmbeddedChannel();
        assertNull(hub.admit(0));
        Subscription first = hub.open(f, 0, true, "L"); // reads 1 and 2
        assertNull(hub.admit(4));
        Subscription second = hub.open(c2, 4, true, "L"); // reads 5, waits for 6 holding it
        assertNull(hub.admit(7));
        Subscription third = hub.open(c1, 7, true, "L"); // waits for 8
        store.takeFor(layout.objectKey(1)).succeed(); // read 1 lands: wakes the waiters
        for (int i = 0; i < 5; i++) {
            c2.runPendingTasks();
            c1.runPendingTasks();
        }
        assertEquals(3, hub.readsInFlight(), "every slot taken");
        f.runPendingTasks(); // object 1 written, its bytes released: a wake-up with no slot free
        int rounds = 0;
        int woken = 0;
        for (; rounds < 10_000; rounds++) {
            if (first.wokenForRead || second.wokenForRead || third.wokenForRead) {
                woken++;
            }
            c2.runPendingTasks();
            c1.runPendingTasks();
            f.runPendingTasks();
        }
        assertTrue(woken <= 2, "a wake-up went round the waiting holders in " + woken + " of " + rounds + " rounds");
        assertEquals(3, hub.readsInFlight());
        // the reads still complete and every stream goes on
        for (int i = 0; i < 50 && store.pendingCount() > 0; i++) {
            for (ManualObjectStore.Pending p : store.pending()) {
                store.takeFor(p.key).succeed();
            }
            c2.runPendingTasks();
            c1.runPendingTasks();
            f.runPendingTasks();
        }
        assertEquals(0, store.pendingCount(), "every history read asked for was served");
    }
}
