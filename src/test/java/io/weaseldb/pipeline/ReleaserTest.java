package io.weaseldb.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.RecordingCompletion;
import io.weaseldb.txn.Transaction;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

/**
 * The release stage: outcomes reach each connection through its own event loop, in order, one
 * task per event loop per round, and those tasks are used again once the event loop has run them.
 */
class ReleaserTest {

    /** An event loop whose tasks run when the test says. */
    private static final class QueuedLoop implements Executor {
        final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
        boolean rejecting;
        Runnable rejected;

        @Override
        public void execute(Runnable task) {
            if (rejecting) {
                rejected = task;
                throw new RejectedExecutionException("shut down");
            }
            tasks.add(task);
        }

        Runnable runNext() {
            Runnable t = tasks.poll();
            t.run();
            return t;
        }
    }

    private long version = 0;

    private Sequenced.Txn txn(Completion c) {
        version++;
        return new Sequenced.Txn(new Transaction("id-" + version, version, version - 1, 0, List.of()), c, 0, 0);
    }

    private static void release(Releaser r, Sequenced... items) {
        r.offer(new Release(List.of(items), "leader-1", null));
    }

    /** A completion whose answer throws (a bug in the handler), on {@code loop}. */
    private static Completion throwing(Executor loop) {
        return new Completion() {
            @Override
            public Executor executor() {
                return loop;
            }

            @Override
            public void complete(Outcome outcome) {
                throw new IllegalStateException("a bug in answering");
            }
        };
    }

    private static long committedVersion(Outcome o) {
        return ((Outcome.Committed) o).version();
    }

    @Test
    void oneTaskPerEventLoopPerRoundInOrder() {
        Releaser r = new Releaser(64);
        QueuedLoop a = new QueuedLoop();
        QueuedLoop b = new QueuedLoop();
        RecordingCompletion a1 = new RecordingCompletion(a);
        RecordingCompletion a2 = new RecordingCompletion(a);
        RecordingCompletion b1 = new RecordingCompletion(b);
        release(r, txn(a1), txn(b1));
        release(r, txn(a2));
        assertEquals(2, r.doWork(0));
        assertEquals(1, a.tasks.size(), "one wake-up per event loop per round, not one per answer");
        assertEquals(1, b.tasks.size());
        assertTrue(a1.outcomes().isEmpty(), "answers only on the connection's own event loop");
        a.runNext();
        b.runNext();
        assertEquals(1, committedVersion(a1.outcomes().get(0)));
        assertEquals(2, committedVersion(b1.outcomes().get(0)));
        assertEquals(3, committedVersion(a2.outcomes().get(0)));
    }

    /** A completion that throws (a bug) is logged; the answers after it in the same task still go out. */
    @Test
    void aCompletionThatThrowsDoesNotCostTheRestOfItsTaskTheirAnswers() {
        Releaser r = new Releaser(64);
        QueuedLoop a = new QueuedLoop();
        RecordingCompletion before = new RecordingCompletion(a);
        Completion broken = throwing(a);
        RecordingCompletion after = new RecordingCompletion(a);
        release(r, txn(before), txn(broken), txn(after));
        r.doWork(0);
        a.runNext();
        assertEquals(1, committedVersion(before.only()));
        assertEquals(3, committedVersion(after.only()));
    }

    @Test
    void aTaskIsUsedAgainOnlyAfterItsEventLoopRanIt() {
        Releaser r = new Releaser(64);
        QueuedLoop a = new QueuedLoop();
        RecordingCompletion first = new RecordingCompletion(a);
        release(r, txn(first));
        r.doWork(0);
        Runnable t1 = a.tasks.peek();
        RecordingCompletion second = new RecordingCompletion(a);
        release(r, txn(second));
        r.doWork(0);
        assertEquals(2, a.tasks.size());
        assertNotSame(t1, a.tasks.peekLast(), "a task still queued on its event loop is not filled again");

        a.runNext();
        a.runNext();
        assertEquals(1, first.outcomes().size());
        assertEquals(1, second.outcomes().size(), "each completion answered once, by its own round");

        RecordingCompletion third = new RecordingCompletion(a);
        release(r, txn(third));
        r.doWork(0);
        assertSame(t1, a.tasks.peek(), "a task its event loop has run goes back to the pool");
        a.runNext();
        assertEquals(List.of(3L), third.outcomes().stream().map(ReleaserTest::committedVersion).toList());
        assertEquals(1, first.outcomes().size(), "a reused task does not answer its earlier completions again");
    }

    @Test
    void moreRoundsQueuedThanThePoolHoldsStillAnswerEveryone() {
        Releaser r = new Releaser(64);
        QueuedLoop a = new QueuedLoop();
        List<RecordingCompletion> seen = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            RecordingCompletion s = new RecordingCompletion(a);
            seen.add(s);
            release(r, txn(s));
            r.doWork(0); // a round each; the event loop runs none of them yet
        }
        assertEquals(10, a.tasks.size());
        assertEquals(10, a.tasks.stream().distinct().count(), "each queued round has a task of its own");
        while (!a.tasks.isEmpty()) {
            a.runNext();
        }
        for (RecordingCompletion s : seen) {
            assertEquals(1, s.outcomes().size());
        }
        RecordingCompletion after = new RecordingCompletion(a);
        release(r, txn(after));
        r.doWork(0);
        a.runNext();
        assertEquals(1, after.outcomes().size());
    }

    @Test
    void aShutDownEventLoopDoesNotStopTheOthers() {
        Releaser r = new Releaser(64);
        QueuedLoop gone = new QueuedLoop();
        gone.rejecting = true;
        QueuedLoop live = new QueuedLoop();
        RecordingCompletion lost = new RecordingCompletion(gone);
        RecordingCompletion answered = new RecordingCompletion(live);
        release(r, txn(lost), txn(answered));
        r.doWork(0);
        live.runNext();
        assertEquals(1, answered.outcomes().size());
        assertTrue(lost.outcomes().isEmpty());

        gone.rejecting = false; // its batch was emptied and given back: the next round is clean
        RecordingCompletion later = new RecordingCompletion(gone);
        release(r, txn(later));
        r.doWork(0);
        assertSame(gone.rejected, gone.tasks.peek(), "the rejected batch went back to the pool");
        gone.runNext();
        assertEquals(1, later.outcomes().size());
        assertTrue(lost.outcomes().isEmpty(), "what the rejected round held is not answered later");
    }

    @Test
    void aCompletionThatThrowsStillGivesTheBatchBack() {
        Releaser r = new Releaser(64);
        QueuedLoop a = new QueuedLoop();
        Completion throwing = throwing(a);
        release(r, txn(throwing));
        r.doWork(0);
        Runnable first = a.tasks.poll();
        first.run(); // logged, not thrown: the rest of its batch is answered
        RecordingCompletion next = new RecordingCompletion(a);
        release(r, txn(next));
        r.doWork(0);
        assertSame(first, a.tasks.peek(), "the batch is given back even when a completion throws");
        a.runNext();
        assertEquals(1, next.outcomes().size(), "and it holds only the new round");
    }

    @Test
    void failuresAreAnsweredWithTheRequestId() {
        Releaser r = new Releaser(64);
        QueuedLoop a = new QueuedLoop();
        RecordingCompletion s = new RecordingCompletion(a);
        Sequenced.Txn t = txn(s);
        r.offer(new Release(List.of(t), "leader-1", new Outcome.Unavailable("storage down", true, 1, "leader-1", null)));
        r.doWork(0);
        a.runNext();
        Outcome.Unavailable u = (Outcome.Unavailable) s.outcomes().get(0);
        assertEquals(t.txn().requestId(), Outcome.requestIdOf(u));
    }
}
