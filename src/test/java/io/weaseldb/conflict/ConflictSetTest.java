package io.weaseldb.conflict;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Boundary cases of the ConflictSet contract, for every implementation. */
class ConflictSetTest {

    static Stream<Arguments> implementations() {
        return Stream.of(
                Arguments.of("btree-4", (Supplier<ConflictSet>) () -> new BTreeConflictSet(4)),
                Arguments.of("btree-64", (Supplier<ConflictSet>) BTreeConflictSet::new),
                Arguments.of("skiplist", (Supplier<ConflictSet>) SkipListConflictSet::new));
    }

    /** Keys written as Latin-1 strings so "\u00ff" is the byte 0xFF. */
    static byte[] k(String s) {
        return s.getBytes(ISO_8859_1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void aWriteConflictsOnlyWithReadVersionsBelowIt(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addPointWrite(k("k"), 5);
        assertTrue(set.pointConflicts(k("k"), 4));
        assertFalse(set.pointConflicts(k("k"), 5));
        assertFalse(set.pointConflicts(k("j"), 0));
        assertFalse(set.pointConflicts(k("l"), 0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void aRangeWriteExcludesItsEnd(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addRangeWrite(k("b"), k("d"), 5);
        assertTrue(set.pointConflicts(k("b"), 4));
        assertTrue(set.pointConflicts(k("b\0"), 4));
        assertTrue(set.pointConflicts(k("c\u00ff\u00ff"), 4));
        assertFalse(set.pointConflicts(k("d"), 4));
        assertFalse(set.pointConflicts(k("a\u00ff"), 4));
        assertFalse(set.rangeConflicts(k("d"), k("e"), 4));
        assertFalse(set.rangeConflicts(k("a"), k("b"), 4), "[a, b) ends where the write begins");
        assertTrue(set.rangeConflicts(k("a"), k("b\0"), 4));
        assertTrue(set.rangeConflicts(k("c"), k("z"), 4));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void touchingRangesKeepTheirOwnVersions(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addRangeWrite(k("a"), k("b"), 5);
        set.addRangeWrite(k("b"), k("c"), 7);
        assertFalse(set.rangeConflicts(k("a"), k("b"), 5));
        assertTrue(set.rangeConflicts(k("a"), k("b"), 4));
        assertTrue(set.rangeConflicts(k("a"), k("b\0"), 6));
        assertTrue(set.pointConflicts(k("b"), 6));
        assertFalse(set.pointConflicts(k("a\u00ff"), 6));
        assertFalse(set.pointConflicts(k("c"), 0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void theEmptyKeyIsAnOrdinaryKey(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addPointWrite(k(""), 3);
        assertTrue(set.pointConflicts(k(""), 2));
        assertFalse(set.pointConflicts(k("\0"), 2));
        assertTrue(set.rangeConflicts(k(""), k("\0"), 2));
        assertFalse(set.rangeConflicts(k("\0"), k("\1"), 2));
        set.addRangeWrite(k(""), k("a"), 4);
        assertTrue(set.pointConflicts(k("\0"), 3));
        assertTrue(set.pointConflicts(k("`\u00ff"), 3));
        assertFalse(set.pointConflicts(k("a"), 0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void theSuccessorKeyIsADifferentKey(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addPointWrite(k("a"), 5);
        assertFalse(set.pointConflicts(k("a\0"), 0));
        set.addPointWrite(k("a\0"), 6);
        assertFalse(set.pointConflicts(k("a"), 5));
        assertTrue(set.pointConflicts(k("a\0"), 5));
        assertFalse(set.pointConflicts(k("a\0\0"), 0));
        assertTrue(set.rangeConflicts(k("a\0"), k("a\0\0"), 5));
        assertFalse(set.rangeConflicts(k("a\0\0"), k("b"), 0));
        // Writing the key between a point write and its successor range again.
        set.addRangeWrite(k("a"), k("a\0"), 7);
        assertTrue(set.pointConflicts(k("a"), 6));
        assertFalse(set.pointConflicts(k("a\0"), 6));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void keysThatArePrefixesOfEachOtherAreDistinct(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addPointWrite(k("ab"), 5);
        assertFalse(set.pointConflicts(k("a"), 0));
        assertFalse(set.pointConflicts(k("abc"), 0));
        assertTrue(set.rangeConflicts(k("a"), k("b"), 0));
        // Past the 8-byte prefix the tree compares as a long.
        set.addPointWrite(k("prefix-0123456789"), 6);
        assertFalse(set.pointConflicts(k("prefix-012345678"), 0));
        assertFalse(set.pointConflicts(k("prefix-01234567890"), 0));
        assertTrue(set.pointConflicts(k("prefix-0123456789"), 5));
        assertTrue(set.rangeConflicts(k("prefix-01"), k("prefix-02"), 5));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void bytesCompareUnsigned(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addPointWrite(k("\u00ff"), 5);
        set.addPointWrite(k("\u0080\u0000"), 5);
        assertFalse(set.rangeConflicts(k("\0"), k("\u007f\u00ff"), 0));
        assertTrue(set.rangeConflicts(k("\u007f"), k("\u0081"), 0));
        assertTrue(set.rangeConflicts(k("\u00fe"), k("\u00ff\0"), 0));
        assertFalse(set.rangeConflicts(k("\u00ff\0"), k("\u00ff\u00ff"), 0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void writesOfOneTransactionShareItsVersion(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addRangeWrite(k("a"), k("z"), 5);
        set.addPointWrite(k("m"), 5);
        set.addPointWrite(k("z"), 5);
        set.addRangeWrite(k("c"), k("e"), 5);
        assertTrue(set.pointConflicts(k("m"), 4));
        assertFalse(set.pointConflicts(k("m"), 5));
        assertTrue(set.pointConflicts(k("z"), 4));
        assertFalse(set.pointConflicts(k("z\0"), 0));
        assertTrue(set.rangeConflicts(k("a"), k("b"), 4));
        assertFalse(set.rangeConflicts(k("a"), k("zz"), 5));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void aNewerWriteInsideAnOlderRangeIsSeenOnlyThere(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addRangeWrite(k("a"), k("z"), 5);
        set.addPointWrite(k("m"), 9);
        assertTrue(set.pointConflicts(k("m"), 8));
        assertFalse(set.pointConflicts(k("l"), 8));
        assertFalse(set.pointConflicts(k("m\0"), 8));
        assertTrue(set.pointConflicts(k("m\0"), 4));
        assertTrue(set.rangeConflicts(k("a"), k("z"), 8));
        assertFalse(set.rangeConflicts(k("a"), k("m"), 8));
        assertFalse(set.rangeConflicts(k("m\0"), k("zz"), 8));
        // A newer range write over everything replaces the step inside it.
        set.addRangeWrite(k("b"), k("y"), 10);
        assertFalse(set.pointConflicts(k("m"), 10));
        assertTrue(set.pointConflicts(k("a"), 4));
        assertFalse(set.pointConflicts(k("a"), 5));
        assertTrue(set.pointConflicts(k("y"), 4));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void pruningKeepsTheAnswersAtAndAboveTheHorizon(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addRangeWrite(k("p"), k("r"), 4);
        set.addPointWrite(k("k"), 5);
        set.addPointWrite(k("j"), 6);
        set.addRangeWrite(k("q"), k("s"), 7);
        long before = set.size();
        set.removeBefore(5);
        while (set.prune(3) == 3) {
            // bounded steps
        }
        assertTrue(set.size() < before, "pruning removed nothing");
        assertFalse(set.pointConflicts(k("k"), 5));
        assertTrue(set.pointConflicts(k("j"), 5));
        assertFalse(set.pointConflicts(k("p"), 5));
        assertTrue(set.pointConflicts(k("q"), 5));
        assertTrue(set.rangeConflicts(k("a"), k("z"), 6));
        assertFalse(set.rangeConflicts(k("a"), k("z"), 7));
        // Writes after pruning still work, at the horizon too.
        set.addPointWrite(k("k"), 8);
        assertTrue(set.pointConflicts(k("k"), 5));
        set.removeBefore(8);
        while (set.prune(3) == 3) {
            // bounded steps
        }
        assertEquals(0, set.size());
        assertFalse(set.pointConflicts(k("k"), 8));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void pruneRespectsItsBudgetAndFinishesTheSweep(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        for (int i = 0; i < 5_000; i++) {
            set.addPointWrite(k("key" + (i * 7919 % 5_000)), i + 1);
        }
        set.removeBefore(2_500);
        int calls = 0;
        int visited;
        do {
            visited = set.prune(64);
            assertTrue(visited <= 64);
            calls++;
            assertTrue(set.pointConflicts(k("key" + (4_999 * 7919 % 5_000)), 4_999));
        } while (visited == 64);
        assertTrue(calls > 10, "the sweep should take many bounded steps, took " + calls);
        assertEquals(0, set.prune(64), "nothing left at this horizon");
        assertEquals(2 * 2_500, set.size(), "each live point write is two boundaries");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void clearForgetsEverything(String name, Supplier<ConflictSet> factory) {
        ConflictSet set = factory.get();
        set.addPointWrite(k("a"), 3);
        set.removeBefore(2);
        set.clear();
        assertEquals(0, set.size());
        assertEquals(0, set.oldestVersion());
        assertFalse(set.pointConflicts(k("a"), 0));
        set.addPointWrite(k("b"), 1); // versions restart after clear
        assertTrue(set.pointConflicts(k("b"), 0));
    }
}
