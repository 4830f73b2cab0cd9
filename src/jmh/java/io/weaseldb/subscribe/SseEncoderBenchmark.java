package io.weaseldb.subscribe;

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
 * Encoding transactions as Server-Sent Events with {@link SseEncoder}, as the publisher does
 * once per batch (the bytes are then shared by every subscriber): {@code id:} line, JSON with
 * base64 keys and values, ISO timestamp. One op = one batch of {@code batchTxns} transactions;
 * {@code bytes} counts SSE bytes per second.
 *
 * <p>Run: {@code ./mvnw -q -B -o -Pbench -Djmh.args='SseEncoderBenchmark -prof gc'}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class SseEncoderBenchmark {

    @Param({"1", "64"})
    public int batchTxns;

    /** {@code rmw}: 1 write of 16 B key + 100 B value; {@code txn100}: 100 such writes. */
    @Param({"rmw", "txn100"})
    public String shape;

    private final SseEncoder encoder = new SseEncoder();
    private List<Transaction> txns;
    private int[] offsets;

    @Setup
    public void setUp() {
        txns = Transactions.random(batchTxns, shape.equals("txn100") ? 100 : 1, new SplittableRandom(42), 1_000_000);
        offsets = new int[batchTxns + 1];
    }

    @Benchmark
    public byte[] encodeBatch(ByteCounter counter) {
        byte[] out = encoder.encode(txns, "00000000-0000-0000-0000-000000000000", offsets);
        counter.bytes += out.length;
        return out;
    }
}
