package io.weaseldb.log;

import io.weaseldb.txn.Transaction;
import java.util.List;

/** A decoded log object: its header, its transactions in version order, and its banned request ids. */
public record Batch(BatchHeader header, List<Transaction> transactions, List<String> bans) {
    public Batch {
        transactions = List.copyOf(transactions);
        bans = List.copyOf(bans);
        assert transactions.size() == header.count() && bans.size() == header.banCount();
    }
}
