package io.weaseldb.conflict;

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
import org.openjdk.jmh.infra.Blackhole;

/**
 * The conflict set's hot operations, B+tree vs the skip-list baseline in the same run.
 *
 * <p>The set is pre-filled with {@code keys} random 16-byte keys written at versions 1..keys
 * (two boundaries each). Writing benchmarks keep it at that size: the horizon trails the newest
 * version by {@code keys} versions and every 64 writes the benchmark prunes with a budget of 8
 * entries per write, as the sequencer does per batch, so their numbers include the amortized
 * pruning. Every key, range and random choice is precomputed or drawn from a field-held
 * xorshift generator, so the measured code allocates only what the set itself allocates
 * (except {@link #monotonicPointWrite}, which must create a new key per write: 32 bytes/op).
 *
 * <p>Run: {@code ./mvnw -q -B -Pbench -Djmh.args='ConflictSet -f 1 -wi 3 -i 5 -w 2s -r 2s'}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
public class ConflictSetBenchmark {

    @Param({"btree", "skiplist"})
    public String implementation;

    @Param({"100000", "1000000"})
    public int keys;

    private static final int KEY_BYTES = 16;
    private static final int PRUNE_EVERY_WRITES = 64;
    private static final int PRUNE_BUDGET_PER_WRITE = 8;
    /** Read versions trail the newest by up to this much, like a client's recent read version. */
    private static final int READ_LAG_MASK = 1023;

    private ConflictSet set;
    /** Keys written by the pre-fill. */
    private byte[][] present;
    /** Half present, half never written; copies, as keys parsed from requests are new arrays. */
    private byte[][] probes;
    /** Copies of the present keys, for the resolver's reads and rewrites. */
    private byte[][] presentCopies;
    /** New keys for point writes; by the time the ring wraps, their previous writes left the window. */
    private byte[][] fresh;
    /** [begin, end) pairs covering one 2-byte prefix (about keys/65536 keys each). */
    private byte[][] rangeReadBegins;
    private byte[][] rangeReadEnds;
    /** [begin, end) pairs covering one 3-byte prefix (mostly empty: a range delete of a small subtree). */
    private byte[][] rangeWriteBegins;
    private byte[][] rangeWriteEnds;

    private long version;
    private long window;
    private long rng;
    private int freshCursor;
    private int writesSincePrune;
    private long monotonicCounter;

    @Setup(Level.Trial)
    public void setUp() {
        set = switch (implementation) {
            case "btree" -> new BTreeConflictSet();
            case "skiplist" -> new SkipListConflictSet();
            default -> throw new IllegalArgumentException("unknown implementation " + implementation);
        };
        SplittableRandom random = new SplittableRandom(20_240_601L);
        present = randomKeys(random, keys);
        byte[][] absent = randomKeys(random, keys);
        probes = new byte[keys][];
        for (int i = 0; i < keys; i++) {
            probes[i] = (i & 1) == 0 ? present[i].clone() : absent[i];
        }
        presentCopies = new byte[keys][];
        for (int i = 0; i < keys; i++) {
            presentCopies[i] = present[i].clone();
        }
        fresh = randomKeys(random, 2 * keys);
        rangeReadBegins = new byte[1 << 16][];
        rangeReadEnds = new byte[1 << 16][];
        for (int i = 0; i < rangeReadBegins.length; i++) {
            rangeReadBegins[i] = new byte[] {(byte) (i >>> 8), (byte) i};
            rangeReadEnds[i] = prefixEnd(rangeReadBegins[i]);
        }
        rangeWriteBegins = new byte[1 << 20][];
        rangeWriteEnds = new byte[1 << 20][];
        for (int i = 0; i < rangeWriteBegins.length; i++) {
            int p = random.nextInt(1 << 24);
            rangeWriteBegins[i] = new byte[] {(byte) (p >>> 16), (byte) (p >>> 8), (byte) p};
            rangeWriteEnds[i] = prefixEnd(rangeWriteBegins[i]);
        }
        for (byte[] key : present) {
            set.addPointWrite(key, ++version);
        }
        window = keys;
        rng = 0x9E3779B97F4A7C15L;
    }

    private static byte[][] randomKeys(SplittableRandom random, int count) {
        byte[][] result = new byte[count][];
        for (int i = 0; i < count; i++) {
            result[i] = new byte[KEY_BYTES];
            random.nextBytes(result[i]);
        }
        return result;
    }

    /** The first key after every key starting with {@code prefix}. */
    private static byte[] prefixEnd(byte[] prefix) {
        byte[] end = prefix.clone();
        for (int i = end.length - 1; i >= 0; i--) {
            if (end[i] != (byte) 0xFF) {
                end[i]++;
                return java.util.Arrays.copyOf(end, i + 1);
            }
        }
        return new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF}; // all-0xFF prefix: near the top
    }

    private long nextRandom() {
        long x = rng;
        x ^= x << 13;
        x ^= x >>> 7;
        x ^= x << 17;
        rng = x;
        return x;
    }

    private int nextIndex(int bound) {
        return (int) ((nextRandom() >>> 1) % bound);
    }

    private long readVersion() {
        return Math.max(set.oldestVersion(), version - (nextRandom() & READ_LAG_MASK));
    }

    /** The sequencer's per-batch housekeeping, amortized: horizon trails by the window, bounded prune. */
    private void afterWrite() {
        if (++writesSincePrune == PRUNE_EVERY_WRITES) {
            writesSincePrune = 0;
            set.removeBefore(version - window);
            set.prune(PRUNE_EVERY_WRITES * PRUNE_BUDGET_PER_WRITE);
        }
    }

    @Benchmark
    public boolean pointRead() {
        return set.pointConflicts(probes[nextIndex(probes.length)], readVersion());
    }

    @Benchmark
    public void pointWrite() {
        byte[] key = fresh[freshCursor];
        freshCursor = freshCursor + 1 == fresh.length ? 0 : freshCursor + 1;
        set.addPointWrite(key, ++version);
        afterWrite();
    }

    @Benchmark
    public boolean rangeRead() {
        int i = nextIndex(rangeReadBegins.length);
        return set.rangeConflicts(rangeReadBegins[i], rangeReadEnds[i], readVersion());
    }

    @Benchmark
    public void rangeWrite() {
        int i = nextIndex(rangeWriteBegins.length);
        set.addRangeWrite(rangeWriteBegins[i], rangeWriteEnds[i], ++version);
        afterWrite();
    }

    /** Increasing keys (0xFFFF + 8-byte counter: above the random keys), like timestamps or sequence numbers. */
    @Benchmark
    public void monotonicPointWrite() {
        long n = monotonicCounter++;
        byte[] key = new byte[10];
        key[0] = (byte) 0xFF;
        key[1] = (byte) 0xFF;
        for (int i = 0; i < 8; i++) {
            key[2 + i] = (byte) (n >>> (56 - 8 * i));
        }
        set.addPointWrite(key, ++version);
        afterWrite();
    }

    /**
     * One transaction as the sequencer resolves it: 1-5 point reads at a read version a little
     * behind, and if none conflicts, 1-5 point writes at the next version; the window's pruning
     * is amortized into the writes. Keys come from the pre-filled key space, so writes mostly
     * rewrite keys already in the set. Score = transactions per second.
     */
    @Benchmark
    public void resolverBatch(Blackhole blackhole) {
        long readVersion = readVersion();
        int reads = 1 + nextIndex(5);
        boolean conflict = false;
        for (int r = 0; r < reads; r++) {
            conflict |= set.pointConflicts(presentCopies[nextIndex(keys)], readVersion);
        }
        blackhole.consume(conflict);
        if (conflict) {
            return;
        }
        int writes = 1 + nextIndex(5);
        long commitVersion = ++version;
        for (int w = 0; w < writes; w++) {
            set.addPointWrite(presentCopies[nextIndex(keys)], commitVersion);
            afterWrite();
        }
    }
}
