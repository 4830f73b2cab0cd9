package io.weaseldb.conflict;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
 * The B+tree's worst key shape: every key starts with the same 15 bytes
 * ({@code "weaseldb/users/"} + 8 random bytes), so the 8-byte prefixes all tie and every
 * comparison falls back to the whole key, as in the skip list. Same setup and window pruning
 * as {@link ConflictSetBenchmark}, 1M keys, point operations only.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
public class ConflictSetSharedPrefixBenchmark {

    @Param({"btree", "skiplist"})
    public String implementation;

    private static final int KEYS = 1_000_000;
    private static final byte[] SHARED = "weaseldb/users/".getBytes(StandardCharsets.US_ASCII);

    private ConflictSet set;
    private byte[][] probes;
    private byte[][] fresh;
    private long version;
    private long rng = 0x9E3779B97F4A7C15L;
    private int freshCursor;
    private int writesSincePrune;

    @Setup(Level.Trial)
    public void setUp() {
        set = switch (implementation) {
            case "btree" -> new BTreeConflictSet();
            case "skiplist" -> new SkipListConflictSet();
            default -> throw new IllegalArgumentException("unknown implementation " + implementation);
        };
        SplittableRandom random = new SplittableRandom(20_240_602L);
        probes = new byte[KEYS][];
        for (int i = 0; i < KEYS; i++) {
            byte[] key = key(random);
            set.addPointWrite(key, ++version);
            probes[i] = (i & 1) == 0 ? key.clone() : key(random);
        }
        fresh = new byte[2 * KEYS][];
        for (int i = 0; i < fresh.length; i++) {
            fresh[i] = key(random);
        }
    }

    private static byte[] key(SplittableRandom random) {
        byte[] key = Arrays.copyOf(SHARED, SHARED.length + 8);
        for (int i = SHARED.length; i < key.length; i++) {
            key[i] = (byte) random.nextInt(256);
        }
        return key;
    }

    private long nextRandom() {
        long x = rng;
        x ^= x << 13;
        x ^= x >>> 7;
        x ^= x << 17;
        rng = x;
        return x;
    }

    @Benchmark
    public boolean pointRead() {
        long r = nextRandom();
        long readVersion = Math.max(set.oldestVersion(), version - (r & 1023));
        return set.pointConflicts(probes[(int) ((r >>> 1) % KEYS)], readVersion);
    }

    @Benchmark
    public void pointWrite() {
        set.addPointWrite(fresh[freshCursor], ++version);
        freshCursor = freshCursor + 1 == fresh.length ? 0 : freshCursor + 1;
        if (++writesSincePrune == 64) {
            writesSincePrune = 0;
            set.removeBefore(version - KEYS);
            set.prune(64 * 8);
        }
    }
}
