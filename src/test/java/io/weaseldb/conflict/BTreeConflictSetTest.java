package io.weaseldb.conflict;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Properties of the B+tree beyond the contract: key order, shape, bounded pruning, no garbage. */
class BTreeConflictSetTest {

    @Test
    void keyComparisonMatchesMaterializedKeys() {
        SplittableRandom random = new SplittableRandom(42);
        byte[] alphabet = {0x00, 0x01, 0x7F, (byte) 0x80, (byte) 0xFF};
        for (int i = 0; i < 200_000; i++) {
            byte[] a = randomKey(random, alphabet);
            byte[] b = random.nextInt(4) == 0 ? Arrays.copyOf(a, a.length + random.nextInt(2)) : randomKey(random, alphabet);
            boolean aAfter = random.nextBoolean();
            boolean bAfter = random.nextBoolean();
            byte[] va = aAfter ? Arrays.copyOf(a, a.length + 1) : a;
            byte[] vb = bAfter ? Arrays.copyOf(b, b.length + 1) : b;
            int expected = Integer.signum(Arrays.compareUnsigned(va, vb));
            int actual = Integer.signum(BTreeConflictSet.compare(
                    BTreeConflictSet.prefix(a), a, aAfter, BTreeConflictSet.prefix(b), b, bAfter));
            assertEquals(expected, actual, () -> ConflictSetModelTest.hex(a) + aAfter + " vs " + ConflictSetModelTest.hex(b) + bAfter);
        }
    }

    private static byte[] randomKey(SplittableRandom random, byte[] alphabet) {
        byte[] key = new byte[random.nextInt(12)];
        for (int i = 0; i < key.length; i++) {
            key[i] = alphabet[random.nextInt(alphabet.length)];
        }
        return key;
    }

    @Test
    void increasingKeysFillNodes() {
        BTreeConflictSet set = new BTreeConflictSet();
        for (long i = 0; i < 100_000; i++) {
            set.addPointWrite(ByteBuffer.allocate(16).putLong(i).array(), i + 1);
        }
        set.checkInvariants();
        assertEquals(200_000, set.size());
        double entriesPerNode = (double) set.size() / set.nodeCount();
        assertTrue(entriesPerNode > 0.9 * BTreeConflictSet.DEFAULT_NODE_CAPACITY,
                "appends should leave nodes full, got " + entriesPerNode + " entries per node");
    }

    @Test
    void randomWritesAndPruningKeepTheTreeShallow() {
        BTreeConflictSet set = new BTreeConflictSet();
        SplittableRandom random = new SplittableRandom(7);
        long version = 0;
        for (int i = 0; i < 400_000; i++) {
            byte[] key = new byte[16];
            random.nextBytes(key);
            set.addPointWrite(key, ++version);
            if (version % 64 == 0 && version > 50_000) {
                set.removeBefore(version - 50_000);
                set.prune(4 * 64);
            }
        }
        set.checkInvariants();
        // About 100k live boundaries; pruning keeps up, and the fill stays reasonable.
        assertTrue(set.size() < 250_000, "pruning fell behind: " + set.size());
        assertTrue(set.height() <= 3, "height " + set.height());
        assertTrue(set.estimatedMemoryBytes() < 250L * set.size(), "estimate " + set.estimatedMemoryBytes());
    }

    @Test
    void aWideRangeWriteCollapsesTheTree() {
        BTreeConflictSet set = new BTreeConflictSet(4);
        for (int i = 0; i < 10_000; i++) {
            set.addPointWrite(ByteBuffer.allocate(4).putInt(i * 2).array(), i + 1);
        }
        assertTrue(set.height() >= 5);
        set.addRangeWrite(new byte[] {0}, new byte[] {(byte) 0xFF}, 20_000);
        set.checkInvariants();
        // One segment, then the never-written rest from 0xFF on.
        assertEquals(2, set.size(), set.toString());
        assertEquals(0, set.height());
        assertTrue(set.pointConflicts(new byte[] {0x12}, 19_999));
        assertFalse(set.pointConflicts(new byte[] {(byte) 0xFF}, 0));
    }

    @Test
    void pruningPassesLiveSubtreesOfIncreasingKeysCheaply() {
        BTreeConflictSet set = new BTreeConflictSet();
        long version = 0;
        for (long i = 0; i < 100_000; i++) {
            set.addPointWrite(ByteBuffer.allocate(8).putLong(i).array(), ++version);
        }
        set.removeBefore(50_000);
        while (set.prune(1_000) == 1_000) {
            // bounded steps
        }
        long live = set.size();
        assertEquals(100_000, live, "keys 50000.. and their successors");
        for (long i = 100_000; i < 101_000; i++) {
            set.addPointWrite(ByteBuffer.allocate(8).putLong(i).array(), ++version);
        }
        set.removeBefore(51_000);
        long visited = 0;
        int step;
        do {
            step = set.prune(1_000);
            visited += step;
        } while (step == 1_000);
        set.checkInvariants();
        assertEquals(100_000, set.size());
        // One unit per live subtree whose pairs are all above the horizon (an inner node's
        // 64 leaves at once), not one per entry (100,000) or per leaf (~1,600; measured 1,784
        // before inner nodes kept a pair floor, 378 after).
        assertTrue(visited < live / 100, "visited " + visited + " of " + live);
        assertFalse(set.pointConflicts(ByteBuffer.allocate(8).putLong(50_999).array(), 51_000));
        assertTrue(set.pointConflicts(ByteBuffer.allocate(8).putLong(51_000).array(), 51_000));
    }

    @Test
    void pruneWithNothingToDoIsFree() {
        BTreeConflictSet set = new BTreeConflictSet();
        for (int i = 1; i <= 1_000; i++) {
            set.addPointWrite(ByteBuffer.allocate(4).putInt(i).array(), i);
        }
        set.removeBefore(500);
        while (set.prune(100) == 100) {
            // bounded steps
        }
        long sweeps = set.sweepsCompleted();
        assertEquals(0, set.prune(100));
        assertEquals(sweeps, set.sweepsCompleted(), "a clean horizon needs no new sweep");
        set.addPointWrite(new byte[] {9}, 1_001);
        assertEquals(0, set.prune(100), "writes above the horizon leave nothing to prune");
    }

    @Test
    void checksAndRewritesOfExistingKeysDoNotAllocate() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        BTreeConflictSet set = new BTreeConflictSet();
        SplittableRandom random = new SplittableRandom(3);
        byte[][] keys = new byte[10_000][];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = new byte[16];
            random.nextBytes(keys[i]);
            set.addPointWrite(keys[i], i + 1);
        }
        long version = keys.length;
        byte[] end = new byte[16];
        Arrays.fill(end, (byte) 0xFF);
        int conflicts = 0;
        // Warm up so the JIT's own allocations are not counted.
        for (int round = 0; round < 2; round++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 200_000; i++) {
                byte[] key = keys[i % keys.length];
                conflicts += set.pointConflicts(key, version - 5_000) ? 1 : 0;
                conflicts += set.rangeConflicts(key, end, version - 1) ? 1 : 0;
                set.addPointWrite(key, ++version); // key and its successor exist: no new boundary
            }
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            if (round == 1) {
                assertTrue(allocated < 64 * 1024, "allocated " + allocated + " bytes");
            }
        }
        assertTrue(conflicts > 0);
        set.checkInvariants();
    }
}
