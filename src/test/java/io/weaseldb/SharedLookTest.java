package io.weaseldb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

class SharedLookTest {
    /** Runs queued tasks only when told: the test decides when a look starts and ends. */
    final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    final Executor manual = tasks::add;
    int looks;

    void runOne() {
        tasks.poll().run();
    }

    @Test
    void callersWaitingTogetherShareOneLookAndALookNeverAnswersACallerThatCameAfterItBegan() {
        // each look answers with its own number; three callers arrive while the first one runs
        List<CompletableFuture<Integer>> during = new ArrayList<>();
        List<SharedLook<Integer>> self = new ArrayList<>();
        SharedLook<Integer> look = new SharedLook<>(() -> {
            int n = ++looks;
            if (n == 1) {
                for (int i = 0; i < 3; i++) {
                    during.add(self.get(0).get());
                }
            }
            return n;
        }, manual);
        self.add(look);
        CompletableFuture<Integer> first = look.get();
        CompletableFuture<Integer> alsoFirst = look.get();
        assertSame(first, alsoFirst, "both came before the queued look began: they share it");
        assertEquals(1, tasks.size());

        runOne();
        assertEquals(1, first.join());
        assertEquals(3, during.size());
        for (CompletableFuture<Integer> f : during) {
            assertFalse(f.isDone(), "the first look began before these callers arrived");
        }
        assertEquals(1, tasks.size(), "one more look, shared by all three");
        runOne();
        for (CompletableFuture<Integer> f : during) {
            assertEquals(2, f.join());
        }
        assertEquals(2, looks);
        assertTrue(tasks.isEmpty());
    }

    @Test
    void aFailedLookFailsItsCallersAndTheNextCallerGetsANewLook() {
        SharedLook<Integer> look = new SharedLook<>(() -> {
            if (++looks == 1) {
                throw new IllegalStateException("storage down");
            }
            return looks;
        }, manual);
        CompletableFuture<Integer> failed = look.get();
        runOne();
        ExecutionException e = assertThrows(ExecutionException.class, failed::get);
        assertInstanceOf(IllegalStateException.class, e.getCause());
        CompletableFuture<Integer> next = look.get();
        runOne();
        assertEquals(2, next.join());
    }

    @Test
    void aRejectedLookFailsItsCallersAndLeavesNothingStuck() {
        boolean[] reject = {true};
        SharedLook<Integer> look = new SharedLook<>(() -> ++looks, r -> {
            if (reject[0]) {
                throw new RejectedExecutionException("shutting down");
            }
            tasks.add(r);
        });
        ExecutionException e = assertThrows(ExecutionException.class, () -> look.get().get());
        assertInstanceOf(RejectedExecutionException.class, e.getCause());
        reject[0] = false;
        CompletableFuture<Integer> later = look.get();
        runOne();
        assertEquals(1, later.join());
    }

    @Test
    void anExecutorThatFailsOtherwiseThanByRejectingFailsItsCallersAndLeavesNothingStuck() {
        // Executor.execute can throw more than RejectedExecutionException (ThreadPoolExecutor: an
        // Error when it cannot start a worker thread). The look must not stay "queued" with
        // nothing queued, leaving every later caller waiting forever.
        boolean[] fail = {true};
        SharedLook<Integer> look = new SharedLook<>(() -> ++looks, r -> {
            if (fail[0]) {
                throw new IllegalStateException("cannot start a worker thread");
            }
            tasks.add(r);
        });
        CompletableFuture<Integer> failed = look.get();
        ExecutionException e = assertThrows(ExecutionException.class, failed::get);
        assertInstanceOf(IllegalStateException.class, e.getCause());
        fail[0] = false;
        CompletableFuture<Integer> later = look.get();
        assertEquals(1, tasks.size(), "the next caller gets a look of its own");
        runOne();
        assertEquals(1, later.join());
    }

    @Test
    void anExecutorThatFailsToQueueTheNextLookFailsTheCallersWaitingForItAndLeavesNothingStuck() {
        boolean[] fail = {false};
        List<CompletableFuture<Integer>> during = new ArrayList<>();
        List<SharedLook<Integer>> self = new ArrayList<>();
        SharedLook<Integer> look = new SharedLook<>(() -> {
            if (++looks == 1) {
                during.add(self.get(0).get()); // arrives while the first look runs
                fail[0] = true;
            }
            return looks;
        }, r -> {
            if (fail[0]) {
                throw new IllegalStateException("executor broken");
            }
            tasks.add(r);
        });
        self.add(look);
        CompletableFuture<Integer> first = look.get();
        runOne(); // queuing the look `during` waits for fails at the end of this one
        assertEquals(1, first.join());
        assertTrue(during.get(0).isDone(), "the caller waiting for the look that could not be queued is answered");
        ExecutionException e = assertThrows(ExecutionException.class, during.get(0)::get);
        assertInstanceOf(IllegalStateException.class, e.getCause());
        fail[0] = false;
        CompletableFuture<Integer> later = look.get();
        assertEquals(1, tasks.size(), "the next caller gets a look of its own");
        runOne();
        assertEquals(2, later.join());
    }
}
