package io.weaseldb.txn;

import java.util.List;

/**
 * A sequenced transaction: what goes into the log and out to subscribers.
 *
 * @param version         the version assigned by the sequencer
 * @param prevVersion     the version of the previous transaction in the log (-1 if none), so
 *                        readers can detect gaps
 * @param timestampMillis wall time at sequencing (epoch milliseconds)
 */
public record Transaction(
        String requestId,
        long version,
        long prevVersion,
        long timestampMillis,
        List<Operation> operations) {

    public Transaction {
        operations = List.copyOf(operations);
        assert version > prevVersion : "version " + version + " not after prev " + prevVersion;
    }
}
