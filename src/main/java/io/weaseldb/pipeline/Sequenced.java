package io.weaseldb.pipeline;

import io.weaseldb.txn.Transaction;

/**
 * What the sequencer hands the persister, in version order. Items that answer a request without
 * writing a transaction travel in the same stream, so they are released only after everything
 * sequenced before them is durable.
 */
public sealed interface Sequenced {

    /** Encoded size for batch accounting. */
    default int bytes() {
        return 0;
    }

    record Txn(Transaction txn, Completion completion, int bytes, long sequencedNanos) implements Sequenced {}

    /**
     * A version that holds no transaction: a heartbeat, a carrier for bans while idle, or
     * ({@code endOfTerm}) the last version of a leader that is shutting down cleanly.
     */
    record Marker(long version, long sequencedNanos, boolean endOfTerm) implements Sequenced {
        public Marker(long version, long sequencedNanos) {
            this(version, sequencedNanos, false);
        }
    }

    /**
     * An answer that needs no log write. With {@code needsDurability} it is true only if what it
     * rests on is durable (a duplicate's original commit, a status answer, a conflict with writes
     * sequenced before it, the version a too_old or leader_changed names), so it is replaced if
     * the batch it waits for fails: by the batch's failure, or for a refusal that applied nothing
     * by "not committed" ({@link Releaser#failedReply}); otherwise (a 400, a probe) it stands.
     */
    record Reply(Outcome outcome, Completion completion, boolean needsDurability) implements Sequenced {}

    /** /v1/status declared {@code requestId} never to commit: recorded in the log, then answered. */
    record Ban(String requestId, Outcome outcome, Completion completion) implements Sequenced {}
}
