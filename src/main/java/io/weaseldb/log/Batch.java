package io.weaseldb.log;

import io.weaseldb.txn.Transaction;
import java.util.List;

/** A decoded log object: its header and its transactions in version order. */
public record Batch(BatchHeader header, List<Transaction> transactions) {
    public Batch {
        transactions = List.copyOf(transactions);
        assert transactions.size() == header.count();
    }
}
