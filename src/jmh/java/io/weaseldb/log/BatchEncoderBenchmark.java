package io.weaseldb.log;

import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Transaction;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Encoding one log object with {@link BatchCodec.Encoder}, as the persister does: append each
 * sequenced transaction, then seal with the header (copy into the object, two CRC32C). One op =
 * one batch of {@code batchTxns} transactions of {@code shape}; {@code bytes} counts object
 * bytes per second. The encoder is reused across batches, like the persister's.
 *
 * <p>Run: {@code ./mvnw -q -B -o -Pbench -Djmh.args='BatchEncoderBenchmark -prof gc'}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class BatchEncoderBenchmark {

    /** Transactions per batch: 64 is what 64 connections produce per log write at saturation. */
    @Param({"1", "64", "1024"})
    public int batchTxns;

    /** {@code rmw}: 1 write of 16 B key + 100 B value; {@code txn100}: 100 such writes. */
    @Param({"rmw", "txn100"})
    public String shape;

    private final BatchCodec.Encoder encoder = new BatchCodec.Encoder();
    private List<Transaction> txns;
    private long firstVersion = 1_000_000;

    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Bytes {
        public long bytes;

        @Setup(Level.Iteration)
        public void clear() {
            bytes = 0;
        }
    }

    @Setup
    public void setUp() {
        txns = transactions(batchTxns, shape.equals("txn100") ? 100 : 1, new SplittableRandom(42), firstVersion);
    }

    static List<Transaction> transactions(int n, int ops, SplittableRandom random, long firstVersion) {
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
                    firstVersion + i - 1, 1_795_000_000_000L, o));
        }
        return list;
    }

    @Benchmark
    public byte[] encodeBatch(Bytes counter) {
        for (Transaction t : txns) {
            encoder.append(t);
        }
        long last = firstVersion + txns.size() - 1;
        BatchHeader h = new BatchHeader(BatchHeader.DATA, 1, "00000000-0000-0000-0000-000000000000", firstVersion, last,
                firstVersion - 1, firstVersion - 1, last, 1_795_000_000_000L, txns.size(), 0);
        byte[] object = encoder.seal(h);
        counter.bytes += object.length;
        return object;
    }
}
