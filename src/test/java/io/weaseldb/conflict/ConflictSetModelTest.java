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

    @Test
    void everyAnswerMatchesTheModelAcrossSeeds() {
        Long only = Long.getLong("conflict.seed");
        if (only != null) {
            runSeed(only);
            return;
        }
        for (long seed = 1; seed <= SEEDS; seed++) {
            runSeed(seed);
        }
    }

    private static void runSeed(long seed) {
        try {
            new Run(seed).run();
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("seed=" + seed + " (rerun with -Dconflict.seed=" + seed + "): " + e.getMessage(), e);
        }
    }

    private static final class Run {
        final SplittableRandom random;
        final ModelConflictSet model = new ModelConflictSet();
        final BTreeConflictSet small = new BTreeConflictSet(4);
        final BTreeConflictSet wide = new BTreeConflictSet(BTreeConflictSet.DEFAULT_NODE_CAPACITY);
        final SkipListConflictSet skipList = new SkipListConflictSet();
        final List<ConflictSet> sets = List.of(small, wide, skipList);
        final List<byte[]> usedKeys = new ArrayList<>();
        /** Each seed picks its own flavour of key space so some seeds are dense, some sparse. */
        final int maxShortLength;
        final boolean longPrefixes;
        long newestVersion;
        long oldestVersion;
        String lastOperation = "";

        Run(long seed) {
            random = new SplittableRandom(seed);
            maxShortLength = 1 + random.nextInt(4);
            longPrefixes = random.nextBoolean();
        }

        void run() {
            for (int op = 0; op < OPERATIONS_PER_SEED; op++) {
                step(op);
                if (op % 97 == 0) {
                    small.checkInvariants();
                    wide.checkInvariants();
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
            if (kind < 30) {
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
                // Sometimes all the way to the newest version, so later writes land at or below it.
                oldestVersion = random.nextInt(4) == 0 ? newestVersion
                        : oldestVersion + random.nextLong(newestVersion - oldestVersion + 1);
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
            if (longPrefixes && random.nextBoolean()) {
                // 6..10 shared bytes straddle the 8-byte prefix the tree compares first.
                int shared = 6 + random.nextInt(5);
                key = new byte[shared + random.nextInt(3)];
                java.util.Arrays.fill(key, 0, shared, (byte) 0x70);
                for (int i = shared; i < key.length; i++) {
                    key[i] = ALPHABET[random.nextInt(ALPHABET.length)];
                }
            } else {
                key = new byte[random.nextInt(maxShortLength + 1)];
                for (int i = 0; i < key.length; i++) {
                    key[i] = ALPHABET[random.nextInt(ALPHABET.length)];
                }
            }
            usedKeys.add(key);
            return key;
        }

        /** A random [begin, end) with begin < end, or null when the two keys drawn are equal. */
        byte[][] range() {
            byte[] a = key();
            byte[] b = random.nextInt(5) == 0 ? ModelConflictSet.successor(a) : key();
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
