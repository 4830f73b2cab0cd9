package io.weaseldb.log;

import io.weaseldb.jmh.ByteCounter;
import io.weaseldb.jmh.Transactions;
import io.weaseldb.txn.Transaction;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
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

    @Setup
    public void setUp() {
        txns = Transactions.random(batchTxns, shape.equals("txn100") ? 100 : 1, new SplittableRandom(42), firstVersion);
    }

    @Benchmark
    public byte[] encodeBatch(ByteCounter counter) {
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
