package io.weaseldb.pipeline;

import io.weaseldb.txn.Transaction;

/**
 * What the sequencer hands the persister, in version order. Replies without a transaction
 * (conflicts, probes) travel in the same stream so that they are released only after every
 * transaction sequenced before them is durable: a conflict's retry version is then readable.
 */
public sealed interface Sequenced {

    /** Encoded size for batch accounting (0 for replies). */
    int bytes();

    record Txn(Transaction txn, Completion completion, int bytes, long sequencedNanos) implements Sequenced {}

    record Reply(Outcome outcome, Completion completion) implements Sequenced {
        @Override
        public int bytes() {
            return 0;
        }
    }
}
