package io.weaseldb.jmh;

import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Transaction;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;

/** Benchmark input: committed transactions of random 16 B keys and 100 B values. */
public final class Transactions {
    private Transactions() {}

    /** {@code n} transactions of {@code ops} writes each, at consecutive versions from {@code firstVersion}. */
    public static List<Transaction> random(int n, int ops, SplittableRandom random, long firstVersion) {
        List<Transaction> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            List<Operation> o = new ArrayList<>(ops);
            for (int j = 0; j < ops; j++) {
                byte[] k = new byte[16];
                byte[] v = new byte[100];
                random.nextBytes(k);
                random.nextBytes(v);
                o.add(new Operation.Write(k, v));
            }
            list.add(new Transaction(new UUID(random.nextLong(), random.nextLong()).toString(), firstVersion + i,
                    firstVersion + i - 1, 1_795_000_000_000L + i, o));
        }
        return list;
    }
}
