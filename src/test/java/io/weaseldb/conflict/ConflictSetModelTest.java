package io.weaseldb.conflict;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Randomized model-based test: many seeds of mixed writes, checks and pruning on small key
 * alphabets (so writes overlap, touch, nest, hit "", 0x00/0xFF bytes, prefixes of each other,
 * successor keys and >8-byte shared prefixes), comparing every answer of the B+tree (small and
 * default node capacity) and the skip-list baseline with the brute-force model.
 *
 * <p>A failure names its seed; rerun just that one with {@code -Dconflict.seed=N}.
 */
class ConflictSetModelTest {

    private static final int SEEDS = Integer.getInteger("conflict.seeds", 300);
    private static final int OPERATIONS_PER_SEED = Integer.getInteger("conflict.operations", 3_000);

    private static final byte[] ALPHABET = {0x00, 0x01, 0x61, (byte) 0x80, (byte) 0xFE, (byte) 0xFF};
    /** Some seeds draw from more letters, for larger sets. */
    private static final byte[] WIDE_ALPHABET = {0x00, 0x01, 0x02, 0x30, 0x31, 0x32, 0x33, 0x61, 0x62, 0x63, 0x7F,
        (byte) 0x80, (byte) 0x81, (byte) 0xC0, (byte) 0xFE, (byte) 0xFF};

    @Test
    void everyAnswerMatchesTheModelAcrossSeeds() {
        Long only = Long.getLong("conflict.seed");
        if (only != null) {
            boolean large = Boolean.getBoolean("conflict.large");
            runSeed(only, OPERATIONS_PER_SEED * (large ? 10 : 1), large);
            return;
        }
        int maxHeight = 0;
        long maxSize = 0;
        for (long seed = 1; seed <= SEEDS; seed++) {
            Run run = runSeed(seed, OPERATIONS_PER_SEED, false);
            maxHeight = Math.max(maxHeight, run.maxSmallHeight);
            maxSize = Math.max(maxSize, run.maxSize);
        }
        // Guard the test's own reach: the capacity-4 tree must have been deep and wide.
        assertTrue(maxHeight >= 3, "capacity-4 tree only reached height " + maxHeight);
        assertTrue(maxSize >= 300, "sets only reached " + maxSize + " boundaries");
        System.out.printf("model test: %d seeds x %d operations, max height %d, max size %d%n",
                SEEDS, OPERATIONS_PER_SEED, maxHeight, maxSize);
    }

    @Test
    void longRunsWithAMovingWindowMatchTheModel() {
        // Fewer seeds, longer histories: the horizon trails the newest version like the
        // sequencer's window, so pruning runs against a steadily churning tree.
        int maxHeight = 0;
        long maxSize = 0;
        for (long seed = 1_001; seed <= 1_000 + SEEDS / 30; seed++) {
            Run run = runSeed(seed, OPERATIONS_PER_SEED * 10, true);
            maxHeight = Math.max(maxHeight, run.maxSmallHeight);
            maxSize = Math.max(maxSize, run.maxSize);
        }
        assertTrue(maxHeight >= 5, "capacity-4 tree only reached height " + maxHeight);
        assertTrue(maxSize >= 1_000, "sets only reached " + maxSize + " boundaries");
        System.out.printf("large model test: max height %d, max size %d%n", maxHeight, maxSize);
    }

    private static Run runSeed(long seed, int operations, boolean large) {
        try {
            Run run = new Run(seed, operations, large);
            run.run();
            return run;
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("seed=" + seed + " (rerun with -Dconflict.seed=" + seed + (large ? " -Dconflict.large=true" : "") + "): " + e.getMessage(), e);
        }
    }

    private static final class Run {
        final SplittableRandom random;
        final int operations;
        int maxSmallHeight;
        long maxSize;
        final ModelConflictSet model = new ModelConflictSet();
        final BTreeConflictSet small = new BTreeConflictSet(4);
        final BTreeConflictSet wide = new BTreeConflictSet(BTreeConflictSet.DEFAULT_NODE_CAPACITY);
        final SkipListConflictSet skipList = new SkipListConflictSet();
        final List<ConflictSet> sets = List.of(small, wide, skipList);
        final List<byte[]> usedKeys = new ArrayList<>();
        /** Each seed picks its own flavour of key space so some seeds are dense, some sparse. */
        final int maxShortLength;
        final byte[] alphabet;
        final boolean longPrefixes;
        /** Wide range writes wipe out most boundaries, so some seeds have few, to grow large trees. */
        final int rangeWritePercent;
        /** How far the usual horizon trails the newest version. */
        final long window;
        long newestVersion;
        long oldestVersion;
        String lastOperation = "";

        /** Large runs: a big key space, few wide range writes, a horizon that only trails. */
        final boolean large;

        Run(long seed, int operations, boolean large) {
            this.operations = operations;
            this.large = large;
            random = new SplittableRandom(seed);
            maxShortLength = large ? 3 + random.nextInt(2) : 1 + random.nextInt(4);
            alphabet = large || random.nextBoolean() ? WIDE_ALPHABET : ALPHABET;
            longPrefixes = random.nextBoolean();
            window = 20 + random.nextInt(operations / 2);
            rangeWritePercent = large ? 2 : new int[] {1, 4, 10}[random.nextInt(3)];
        }

        void run() {
            for (int op = 0; op < operations; op++) {
                step(op);
                if (op % 97 == 0) {
                    small.checkInvariants();
                    wide.checkInvariants();
                    maxSmallHeight = Math.max(maxSmallHeight, small.height());
                    maxSize = Math.max(maxSize, small.size());
                }
            }
            // Pruning at the newest version makes every boundary redundant.
            newestVersion++;
            for (ConflictSet set : sets) {
                set.removeBefore(newestVersion);
                while (set.prune(7) == 7) {
                    // a bounded step at a time, as the sequencer does
                }
            }
            model.removeBefore(newestVersion);
            small.checkInvariants();
            wide.checkInvariants();
            assertEquals(0, small.size(), "small after pruning everything: " + small);
            assertEquals(0, wide.size(), "wide after pruning everything");
            assertEquals(0, skipList.size(), "skip list after pruning everything");
        }

        void step(int op) {
            int kind = random.nextInt(100);
            if (kind < 40 - rangeWritePercent) {
                byte[] key = key();
                long version = nextWriteVersion();
                lastOperation = "#" + op + " addPointWrite(" + hex(key) + ", " + version + ")";
                model.addPointWrite(key, version);
                for (ConflictSet set : sets) {
                    set.addPointWrite(key, version);
                }
            } else if (kind < 40) {
                byte[][] range = range();
                if (range == null) {
                    return;
                }
                long version = nextWriteVersion();
                lastOperation = "#" + op + " addRangeWrite(" + hex(range[0]) + ", " + hex(range[1]) + ", " + version + ")";
                model.addRangeWrite(range[0], range[1], version);
                for (ConflictSet set : sets) {
                    set.addRangeWrite(range[0], range[1], version);
                }
            } else if (kind < 65) {
                byte[] key = key();
                long readVersion = readVersion();
                boolean expected = model.pointConflicts(key, readVersion);
                for (ConflictSet set : sets) {
                    assertEquals(expected, set.pointConflicts(key, readVersion), () -> describe(set,
                            "#" + op + " pointConflicts(" + hex(key) + ", " + readVersion + ")"));
                }
            } else if (kind < 87) {
                byte[][] range = range();
                if (range == null) {
                    return;
                }
                long readVersion = readVersion();
                boolean expected = model.rangeConflicts(range[0], range[1], readVersion);
                for (ConflictSet set : sets) {
                    assertEquals(expected, set.rangeConflicts(range[0], range[1], readVersion), () -> describe(set,
                            "#" + op + " rangeConflicts(" + hex(range[0]) + ", " + hex(range[1]) + ", " + readVersion + ")"));
                }
            } else if (kind < 92) {
                // Mostly a window behind the newest version; sometimes all the way to it, so later
                // writes land at or below the horizon.
                int choice = large ? 39 : random.nextInt(40);
                long target = choice == 0 ? newestVersion
                        : choice < 4 ? oldestVersion + random.nextLong(newestVersion - oldestVersion + 1)
                        : newestVersion - window;
                oldestVersion = Math.max(oldestVersion, target);
                lastOperation = "#" + op + " removeBefore(" + oldestVersion + ")";
                model.removeBefore(oldestVersion);
                for (ConflictSet set : sets) {
                    set.removeBefore(oldestVersion);
                }
            } else {
                int budget = random.nextInt(30);
                lastOperation = "#" + op + " prune(" + budget + ")";
                for (ConflictSet set : sets) {
                    int visited = set.prune(budget);
                    assertTrue(visited <= budget, "prune visited more than its budget");
                    if (visited < budget && set instanceof BTreeConflictSet tree) {
                        // Fewer than asked: the sweep finished, so nothing prunable is left.
                        assertEquals(0, tree.prunableBoundaries(), "prunable after a finished sweep, " + lastOperation);
                    }
                }
            }
        }

        String describe(ConflictSet set, String check) {
            String contents = set instanceof BTreeConflictSet ? " contents=" + set : "";
            return set.getClass().getSimpleName() + " disagrees with the model on " + check
                    + " after " + lastOperation + contents;
        }

        long nextWriteVersion() {
            // Several writes of one transaction share a version.
            if (newestVersion == 0 || random.nextInt(3) != 0) {
                newestVersion++;
            }
            return newestVersion;
        }

        long readVersion() {
            return oldestVersion + random.nextLong(newestVersion - oldestVersion + 2);
        }

        byte[] key() {
            if (!usedKeys.isEmpty() && random.nextInt(4) == 0) {
                byte[] used = usedKeys.get(random.nextInt(usedKeys.size()));
                // The successor of a used key collides with the tree's virtual "+00" boundaries.
                return random.nextBoolean() ? used : ModelConflictSet.successor(used);
            }
            byte[] key;
            if (longPrefixes && random.nextInt(3) == 0) {
                // Namespaces of 20 or 36 bytes: some parting at byte 11 (or 24, 25, 31), some
                // differing only in byte 0 (same bytes 8.., different prefixes). Nodes inside
                // one take their words after the shared bytes (offsets up to ~39, past the 24
                // common bytes a node keeps inline), nodes across two at the parting byte or 8.
                int length = random.nextBoolean() ? 20 : 36;
                key = new byte[length + random.nextInt(4)];
                java.util.Arrays.fill(key, 0, length, (byte) 0x70);
                switch (random.nextInt(3)) {
                    case 1 -> key[length == 20 ? 11 : new int[] {24, 25, 31}[random.nextInt(3)]] = 0x71;
                    case 2 -> key[0] = 0x71;
                    default -> { }
                }
                for (int i = length; i < key.length; i++) {
                    key[i] = ALPHABET[random.nextInt(ALPHABET.length)];
                }
            } else if (longPrefixes && random.nextBoolean()) {
                // 6..10 shared bytes straddle the 8-byte prefix the tree compares first, and
                // 14..18 the second 8-byte word it compares on prefix ties.
                int shared = random.nextBoolean() ? 6 + random.nextInt(5) : 14 + random.nextInt(5);
                key = new byte[shared + random.nextInt(3)];
                java.util.Arrays.fill(key, 0, shared, (byte) 0x70);
                for (int i = shared; i < key.length; i++) {
                    key[i] = ALPHABET[random.nextInt(ALPHABET.length)];
                }
            } else {
                key = new byte[random.nextInt(maxShortLength + 1)];
                for (int i = 0; i < key.length; i++) {
                    key[i] = alphabet[random.nextInt(alphabet.length)];
                }
            }
            usedKeys.add(key);
            return key;
        }

        /** A random [begin, end) with begin < end (often narrow), or null when the two keys drawn are equal. */
        byte[][] range() {
            byte[] a = key();
            byte[] b = switch (random.nextInt(4)) {
                case 0 -> ModelConflictSet.successor(a);
                case 1 -> {
                    byte[] longer = java.util.Arrays.copyOf(a, a.length + 1);
                    longer[a.length] = ALPHABET[random.nextInt(ALPHABET.length)];
                    yield longer;
                }
                case 2 -> large && random.nextInt(10) != 0 ? ModelConflictSet.successor(a) : key();
                default -> {
                    byte[] longer = java.util.Arrays.copyOf(a, a.length + 2);
                    longer[a.length] = ALPHABET[random.nextInt(ALPHABET.length)];
                    yield longer;
                }
            };
            int c = java.util.Arrays.compareUnsigned(a, b);
            if (c == 0) {
                return null;
            }
            return c < 0 ? new byte[][] {a, b} : new byte[][] {b, a};
        }
    }

    static String hex(byte[] key) {
        return "\"" + HexFormat.of().formatHex(key) + "\"";
    }
}
