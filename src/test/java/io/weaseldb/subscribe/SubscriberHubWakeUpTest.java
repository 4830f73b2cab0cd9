package io.weaseldb.subscribe;

import static io.weaseldb.subscribe.SubscriberHubLifecycleTest.hubOverTenObjects;
import static io.weaseldb.subscribe.SubscriptionLagTest.subscribeAfter;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
        Subscription first = subscribeAfter(hub, f, 0); // reads 1 and 2
        Subscription second = subscribeAfter(hub, c2, 4); // reads 5, waits for 6 holding it
        Subscription third = subscribeAfter(hub, c1, 7); // waits for 8
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

    /**
     * A stream woken for a freed read slot that cannot use it when its pump runs (its client
     * stopped reading meanwhile, or it is midway through writing an object) passes the wake-up
     * on: the streams behind it read now, not at the next tick (up to a second later).
     */
    @Test
    void aWakeUpTheWokenStreamCannotUseGoesToTheNextWaiter() throws Exception {
        ManualObjectStore store = new ManualObjectStore();
        LogLayout layout = new LogLayout("");
        SubscriberHub hub = hubOverTenObjects(store, layout, 1); // one history read server-wide; no tick here
        EmbeddedChannel a = new EmbeddedChannel();
        EmbeddedChannel b = new EmbeddedChannel();
        Subscription first = subscribeAfter(hub, a, 0); // reads 1, waits for its second read ahead
        subscribeAfter(hub, b, 4); // waits for 5
        assertEquals(2, hub.readWaiterCount());
        store.takeFor(layout.objectKey(1)).succeed(); // the slot frees: the first in the queue is woken
        assertTrue(first.wokenForRead);
        a.unsafe().outboundBuffer().setUserDefinedWritability(1, false); // and its client stops reading
        a.runPendingTasks(); // it asks for nothing
        b.runPendingTasks();
        assertEquals(1, hub.readsInFlight(), "the freed slot went to the stream that could use it");
        assertEquals(java.util.List.of(layout.objectKey(5)), store.pending().stream().map(p -> p.key).toList());
        assertEquals(1, hub.readWaiterCount(), "the second waits no more; the first asks again when writable");
    }

    /**
     * The same for a woken stream that closes before its pump runs holding no history (one that
     * holds some wakes the next waiter as it gives it back).
     */
    @Test
    void aWakeUpOfAStreamThatClosedGoesToTheNextWaiter() throws Exception {
        SecondWoken w = secondWoken();
        ManualObjectStore store = w.store;
        LogLayout layout = w.layout;
        EmbeddedChannel a = w.a;
        EmbeddedChannel b = w.b;
        Subscription second = w.second;
        a.unsafe().close(a.voidPromise()); // gone before its pump ran (EmbeddedChannel.close() would run it first)
        a.runPendingTasks();
        b.runPendingTasks();
        assertEquals(java.util.List.of(layout.objectKey(8)), store.pending().stream().map(p -> p.key).toList(),
                "the freed slot went to a stream still there");
    }

    /**
     * Review 42: a pump already running when the wake-up came (here one the connection's
     * writability started), past its last ask, does not pass the wake-up on: the woken pump that
     * follows asks, and the stream keeps its place ahead of the streams behind it.
     */
    @Test
    void aWokenStreamKeepsItsTurnWhenAnotherPumpRanFirst() throws Exception {
        SecondWoken w = secondWoken();
        ManualObjectStore store = w.store;
        LogLayout layout = w.layout;
        EmbeddedChannel a = w.a;
        EmbeddedChannel b = w.b;
        Subscription second = w.second;
        a.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
        second.pump(); // a pump that was running already: not writable, it asks for nothing
        a.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        b.runPendingTasks(); // the stream behind it, on its own event loop, may run first
        a.runPendingTasks(); // the woken pump asks
        assertEquals(java.util.List.of(layout.objectKey(5)), store.pending().stream().map(p -> p.key).toList(),
                "the slot went to the stream woken for it, not to the one behind it");
    }

    /** Three streams replaying history with one read slot, and the slot freed. */
    private record SecondWoken(ManualObjectStore store, LogLayout layout, EmbeddedChannel a, EmbeddedChannel b,
                               Subscription second) {}

    /**
     * The first stream reads object 1 and waits for its second read ahead, but its connection
     * takes nothing; the second (from 4) and the third (from 7) wait holding nothing. Object 1
     * lands: the second is woken.
     */
    private static SecondWoken secondWoken() throws Exception {
        ManualObjectStore store = new ManualObjectStore();
        LogLayout layout = new LogLayout("");
        SubscriberHub hub = hubOverTenObjects(store, layout, 1);
        EmbeddedChannel c = new EmbeddedChannel();
        EmbeddedChannel a = new EmbeddedChannel();
        EmbeddedChannel b = new EmbeddedChannel();
        subscribeAfter(hub, c, 0);
        Subscription second = subscribeAfter(hub, a, 4);
        subscribeAfter(hub, b, 7);
        c.unsafe().outboundBuffer().setUserDefinedWritability(1, false); // the first is not woken
        store.takeFor(layout.objectKey(1)).succeed();
        assertTrue(second.wokenForRead);
        return new SecondWoken(store, layout, a, b, second);
    }
}
