package io.weaseldb.conflict;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The conflict set as a B+tree holding a step function over keys: each entry is a boundary
 * key {@code k_i} with the version of the segment {@code [k_i, k_{i+1})} (0 before the first
 * boundary means "never written"). Because a write always carries the newest version, a
 * range write replaces every boundary inside it; a point write of {@code k} sets the segment
 * {@code [k, k+"\0")}. See docs/conflict-set.md for the design and measurements.
 *
 * <p>Owned by the sequencer thread (stage 1): every method must be called from that thread
 * only. There are no locks; scratch state (the descent path, the prune sweep) lives in fields.
 *
 * <p>Layout choices, all for the hot path:
 * <ul>
 *   <li>Nodes are structure-of-arrays: next to each key reference sits its first 8 bytes as a
 *       big-endian {@code long}, so a search is a branch-free binary search over longs that
 *       dereferences keys only on a prefix tie.
 *   <li>A write with no boundary strictly inside its range (every point write, most short
 *       ranges) is one descent and at most two adjacent entry changes in one leaf.
 *   <li>The successor key {@code k+"\0"} that a point write needs is never allocated: an entry
 *       is (key, after) where {@code after} appends a virtual 0x00 byte, so the two boundaries
 *       of a point write share the caller's array.
 *   <li>Inner nodes keep, per child, the exact minimum key of the child's subtree (so the
 *       floor of a key is always in the child the search picks, without sibling links) and the
 *       maximum version in the child's subtree (so point checks stop early and range checks
 *       skip covered subtrees whose maximum is not newer than the read version).
 *   <li>Pruning is a budgeted sweep with a cursor ({@link #prune}); a boundary can go once it
 *       and the boundary before it are at or below the horizon, because then every read at or
 *       above the horizon sees "not newer" on both sides of it.
 * </ul>
 */
public final class BTreeConflictSet implements ConflictSet {

    /** Entries per node; 64 keeps a node's prefix array in 8 cache lines and the tree 4 high at 1M entries. */
    public static final int DEFAULT_NODE_CAPACITY = 64;

    private static final VarHandle LONG_BIG_ENDIAN =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    /** No horizon has been fully swept yet. */
    private static final long NO_CLEAN_HORIZON = -1;

    private final int nodeCapacity;
    /** Below this a non-root node is merged with or refilled from a sibling after deletions. */
    private final int minFill;

    private Node root;
    /** Inner levels above the leaves (0 when the root is a leaf). */
    private int height;

    /** Descent path scratch: pathNodes[d] is the inner node at depth d, pathIdx[d] the child taken. */
    private Node[] pathNodes = new Node[8];
    private int[] pathIdx = new int[8];

    private long newestVersion;
    private long oldestVersion;

    // Prune sweep state. The cursor is the next boundary to visit (null: start of a sweep).
    private long cursorPrefix;
    private byte[] cursorKey;
    private boolean cursorAfter;
    /** Horizon when the current sweep started; a finished sweep makes it the clean horizon. */
    private long sweepHorizon;
    /** A write at or below the horizon happened during the sweep, so it cannot vouch for it. */
    private boolean sweepDirty;
    /** Every boundary prunable at this horizon is gone; prune() is free until the horizon moves. */
    private long cleanHorizon = NO_CLEAN_HORIZON;
    private long sweepsCompleted;
    // Running totals of what deletions removed, so each inner node on the way back up subtracts
    // its subtree's share instead of re-summing its children (which would touch every child).
    private long removedEntries;
    private long removedNodes;
    /**
     * Running average of key heap bytes per inserted boundary (a successor boundary shares its
     * key, so counts 0), for the memory estimate. Kept as an average rather than exact sums so
     * that splits, deletions and pruning never dereference a key just for accounting.
     */
    private double averageKeyBytesPerEntry;
    // Per-call scratch of prune().
    private int pruneBudget;
    private long pruneCarryVersion;
    /** Minimum of the pairs the current prune visit has seen (kept entries and passed subtrees). */
    private long pruneSeenFloor;
    private boolean pruneStopped;

    public BTreeConflictSet() {
        this(DEFAULT_NODE_CAPACITY);
    }

    /** @param nodeCapacity entries per node, at least 4 (tests use 4 to exercise splits and merges) */
    public BTreeConflictSet(int nodeCapacity) {
        if (nodeCapacity < 4) {
            throw new IllegalArgumentException("nodeCapacity must be >= 4, got " + nodeCapacity);
        }
        this.nodeCapacity = nodeCapacity;
        this.minFill = Math.max(2, nodeCapacity / 4);
        this.root = new Node(true, nodeCapacity);
    }

    // ---------------------------------------------------------------- checks

    @Override
    public boolean pointConflicts(byte[] key, long readVersion) {
        assert readVersion >= oldestVersion : "read version " + readVersion + " below horizon " + oldestVersion;
        if (readVersion >= newestVersion) {
            return false; // nothing newer exists (clients often read at the latest version)
        }
        long p = prefix(key);
        Node n = root;
        while (!n.leaf) {
            int i = floorIndex(n, p, key, false);
            // i < 0: the key is below every boundary, so it was never written.
            if (i < 0 || n.versions[i] <= readVersion) {
                return false;
            }
            n = n.children[i];
        }
        // The floor is the last entry with a smaller prefix or one of the entries sharing the
        // probe's prefix. Compare whole keys only if those candidates disagree about the answer:
        // where keys share their first 8 bytes (structured key spaces) the usual no-conflict
        // check then never dereferences a stored key.
        long[] versions = n.versions;
        if (n.wordOffset > 8) {
            // All entries share their prefix here, and the words order them: search directly.
            int floor = floorIndex(n, p, key, false);
            return floor >= 0 && versions[floor] > readVersion;
        }
        long[] prefixes = n.prefixes;
        int count = n.count;
        int lo = countPrefixesBelow(prefixes, count, p);
        boolean anyNewer = lo > 0 && versions[lo - 1] > readVersion;
        if (lo == count || prefixes[lo] != p) {
            return anyNewer;
        }
        boolean allNewer = anyNewer;
        int hi = lo;
        while (hi < count && prefixes[hi] == p) {
            boolean newer = versions[hi] > readVersion;
            anyNewer |= newer;
            allNewer &= newer;
            hi++;
        }
        if (!anyNewer || allNewer) {
            return anyNewer;
        }
        int floor = floorIndex(n, p, key, false);
        return floor >= 0 && versions[floor] > readVersion;
    }

    @Override
    public boolean rangeConflicts(byte[] begin, byte[] end, long readVersion) {
        assert readVersion >= oldestVersion : "read version " + readVersion + " below horizon " + oldestVersion;
        assert Arrays.compareUnsigned(begin, end) < 0 : "empty range";
        if (readVersion >= newestVersion) {
            return false;
        }
        return rangeNewerThan(root, prefix(begin), begin, prefix(end), end, readVersion);
    }

    /** Whether the floor of {@code b} or any boundary in {@code [b, e)} below {@code n} is newer than {@code readVersion}. */
    private static boolean rangeNewerThan(Node n, long pb, byte[] b, long pe, byte[] e, long readVersion) {
        int lo = Math.max(0, floorIndex(n, pb, b, false));
        int hi = lowerIndex(n, pe, e, false);
        long[] versions = n.versions;
        if (n.leaf) {
            for (int j = lo; j <= hi; j++) {
                if (versions[j] > readVersion) {
                    return true;
                }
            }
            return false;
        }
        for (int i = lo; i <= hi; i++) {
            // Children strictly between lo and hi lie inside (b, e), so their exact maximum answers.
            if (versions[i] > readVersion
                    && ((i != lo && i != hi) || rangeNewerThan(n.children[i], pb, b, pe, e, readVersion))) {
                return true;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- writes

    @Override
    public void addPointWrite(byte[] key, long version) {
        noteWrite(version);
        long p = prefix(key);
        // [key, key+"\0") never contains another boundary, so the fast path always applies.
        boolean done = writeWithoutInnerBoundaries(p, key, p, key, true, version);
        assert done : "no key lies between a key and its successor";
    }

    @Override
    public void addRangeWrite(byte[] begin, byte[] end, long version) {
        assert Arrays.compareUnsigned(begin, end) < 0 : "empty range";
        noteWrite(version);
        long pb = prefix(begin);
        long pe = prefix(end);
        if (writeWithoutInnerBoundaries(pb, begin, pe, end, false, version)) {
            return;
        }
        // The range holds boundaries: delete them, then put back where the old step resumes.
        Node n = root;
        while (!n.leaf) {
            n = n.children[Math.max(0, floorIndex(n, pe, end, false))];
        }
        int j = floorIndex(n, pe, end, false);
        long endVersion = j >= 0 ? n.versions[j] : 0;
        boolean endIsBoundary = j >= 0 && n.prefixes[j] == pe && compareTail(end, false, n.keys[j], n.after[j]) == 0;
        if (deleteRange(root, pb, begin, pe, end) > 0) {
            collapseRoot();
        }
        insertBoundary(pb, begin, version);
        if (!endIsBoundary && endVersion != version) {
            insertBoundary(pe, end, endVersion);
        }
    }

    /**
     * The write of {@code [begin, end)} when no boundary lies strictly inside it (every point
     * write, and most short ranges): one descent, then at most two adjacent entries in one leaf.
     * Returns false, having changed nothing, if the range does hold boundaries.
     */
    private boolean writeWithoutInnerBoundaries(long pb, byte[] begin, long pe, byte[] end, boolean endAfter,
                                                long version) {
        Node n = root;
        int depth = 0;
        // The boundary after the leaf's last entry is the exact first key of the next subtree,
        // found at the deepest level where the path does not take the last child.
        Node nextNode = null;
        int nextIdx = 0;
        // Increasing keys (timestamps, sequence numbers) land after the last entry at every
        // level: one comparison per level instead of a search, while that holds.
        boolean rightEdge = true;
        while (!n.leaf) {
            int i;
            if (rightEdge && atOrAfterLast(n, pb, begin)) {
                i = n.count - 1;
            } else {
                rightEdge = false;
                i = Math.max(0, floorIndex(n, pb, begin, false));
            }
            pathNodes[depth] = n;
            pathIdx[depth] = i;
            depth++;
            if (i + 1 < n.count) {
                nextNode = n;
                nextIdx = i + 1;
            }
            n = n.children[i];
        }
        int i = rightEdge && atOrAfterLast(n, pb, begin) ? n.count - 1 : floorIndex(n, pb, begin, false);
        // The first boundary after begin, compared with end.
        int nextVsEnd;
        if (i + 1 < n.count) {
            nextVsEnd = compareEntry(n, i + 1, pe, end, endAfter);
        } else if (nextNode != null) {
            nextVsEnd = compareEntry(nextNode, nextIdx, pe, end, endAfter);
        } else {
            nextVsEnd = 1;
        }
        if (nextVsEnd < 0) {
            return false;
        }
        // [begin, end) lies inside the segment of the floor of begin.
        long coveringVersion = i >= 0 ? n.versions[i] : 0;
        if (coveringVersion == version) {
            return true; // an earlier write of the same transaction already covers it
        }
        boolean beginIsBoundary = i >= 0 && compareEntry(n, i, pb, begin, false) == 0;
        boolean endIsBoundary = nextVsEnd == 0;
        if (beginIsBoundary) {
            n.versions[i] = version;
            if (endIsBoundary) {
                raisePathMax(depth, version); // rewriting a hot key: no structural change
            } else {
                // The old segment resumes at end.
                insertEntries(n, depth, i + 1, pe, end, endAfter, coveringVersion, false, 0, null, false, 0, version);
            }
        } else if (endIsBoundary) {
            insertEntries(n, depth, i + 1, pb, begin, false, version, false, 0, null, false, 0, version);
        } else {
            insertEntries(n, depth, i + 1, pb, begin, false, version, true, pe, end, endAfter, coveringVersion, version);
        }
        return true;
    }

    private void noteWrite(long version) {
        assert version > 0 : "versions are positive, got " + version;
        assert version >= newestVersion : "version went backwards: " + version + " < " + newestVersion;
        newestVersion = version;
        if (version <= oldestVersion) {
            // Such a write can leave boundaries prunable at the current horizon behind a sweep.
            cleanHorizon = NO_CLEAN_HORIZON;
            sweepDirty = true;
        }
    }

    /** Inserts a boundary that is known not to exist yet. */
    private void insertBoundary(long p, byte[] key, long version) {
        Node n = root;
        int depth = 0;
        while (!n.leaf) {
            int i = Math.max(0, floorIndex(n, p, key, false));
            pathNodes[depth] = n;
            pathIdx[depth] = i;
            depth++;
            n = n.children[i];
        }
        int i = floorIndex(n, p, key, false);
        assert i < 0 || n.prefixes[i] != p || compareTail(key, false, n.keys[i], n.after[i]) != 0
                : "boundary already present";
        insertEntries(n, depth, i + 1, p, key, false, version, false, 0, null, false, 0, version);
    }

    private void raisePathMax(int depth, long version) {
        for (int d = depth - 1; d >= 0; d--) {
            long[] versions = pathNodes[d].versions;
            int idx = pathIdx[d];
            if (versions[idx] >= version) {
                return; // ancestors hold at least this child's maximum
            }
            versions[idx] = version;
        }
    }

    /**
     * Inserts the entry (p1, key1, after1, version1) and, if {@code two}, the entry after it
     * (p2, key2, after2, version2) at {@code pos} of the leaf reached by the current path,
     * splitting nodes upward as needed.
     */
    private void insertEntries(Node leaf, int depth, int pos, long p1, byte[] key1, boolean after1, long version1,
                               boolean two, long p2, byte[] key2, boolean after2, long version2, long maxVersion) {
        int added = two ? 2 : 1;
        averageKeyBytesPerEntry += ((after1 ? 0 : keyHeapBytes(key1)) - averageKeyBytesPerEntry) * (1.0 / 1024);
        if (two) {
            averageKeyBytesPerEntry += ((after2 ? 0 : keyHeapBytes(key2)) - averageKeyBytesPerEntry) * (1.0 / 1024);
        }
        Node target = leaf;
        int at = pos;
        Node right = null;
        if (leaf.count + added > nodeCapacity) {
            right = new Node(true, nodeCapacity);
            int split = splitPoint(leaf, pos, depth);
            moveTail(leaf, split, right);
            widen(leaf);
            widen(right);
            if (pos > split || (pos == split && split + added > nodeCapacity)) {
                target = right;
                at = pos - split;
            }
        }
        admit(target, key1);
        if (two) {
            admit(target, key2);
        }
        openGap(target, at, added);
        setEntry(target, at, p1, key1, after1, version1);
        if (two) {
            setEntry(target, at + 1, p2, key2, after2, version2);
        }
        if (right == null) {
            leaf.entries += added;
            // The new entries form up to three new adjacent pairs.
            long[] versions = leaf.versions;
            int last = at + added - 1;
            long floor = leaf.pairFloor;
            if (at > 0) {
                floor = Math.min(floor, Math.max(versions[at - 1], versions[at]));
            }
            if (two) {
                floor = Math.min(floor, Math.max(versions[at], versions[last]));
            }
            if (last + 1 < leaf.count) {
                floor = Math.min(floor, Math.max(versions[last], versions[last + 1]));
            }
            leaf.pairFloor = floor;
        } else {
            recomputeAggregates(leaf);
            recomputeAggregates(right);
        }
        propagateInsert(depth, leaf, right, added, maxVersion, newPairsBound(leaf, right, target, at, added, depth),
                target == leaf && at == 0);
    }

    /**
     * A lower bound of the pairs the entries just placed at [at, at + added) of {@code target}
     * form with each other and their neighbours, for the ancestors' {@link Node#pairFloor}: exact
     * inside the leaf (and its split-off sibling), and the new entry's own version for a pair
     * with a neighbour in another leaf (max(v, w) >= v). Nothing after the tree's last entry.
     */
    private long newPairsBound(Node leaf, Node right, Node target, int at, int added, int depth) {
        long[] v = target.versions;
        int last = at + added - 1;
        long bound = at > 0 ? Math.max(v[at - 1], v[at]) : v[at];
        if (added == 2) {
            bound = Math.min(bound, Math.max(v[at], v[last]));
        }
        if (last + 1 < target.count) {
            bound = Math.min(bound, Math.max(v[last], v[last + 1]));
        } else if (target == leaf && right != null) {
            bound = Math.min(bound, Math.max(v[last], right.versions[0]));
        } else if (!onRightEdge(depth)) {
            bound = Math.min(bound, v[last]);
        }
        return bound;
    }

    /** Whether the current path takes the last child at every level (the leaf holds the tree's last entry). */
    private boolean onRightEdge(int depth) {
        for (int d = 0; d < depth; d++) {
            if (pathIdx[d] != pathNodes[d].count - 1) {
                return false;
            }
        }
        return true;
    }

    /**
     * Walks the path up after an insert below it: aggregates, separators and maxima, and the
     * insertion of split-off right siblings (which may split their parents in turn).
     */
    private void propagateInsert(int depth, Node child, Node pendingRight, long addedEntries,
                                 long maxVersion, long newPairsBound, boolean firstKeyChanged) {
        long addedNodes = pendingRight == null ? 0 : 1;
        for (int d = depth - 1; d >= 0; d--) {
            Node parent = pathNodes[d];
            int idx = pathIdx[d];
            parent.entries += addedEntries;
            if (parent.pairFloor > newPairsBound) {
                parent.pairFloor = newPairsBound;
            }
            parent.nodes += addedNodes;
            if (firstKeyChanged) {
                copyFirstKey(child, parent, idx);
                firstKeyChanged = idx == 0;
            }
            if (pendingRight == null) {
                if (parent.versions[idx] < maxVersion) {
                    parent.versions[idx] = maxVersion;
                }
            } else {
                parent.versions[idx] = maxOf(child);
                pendingRight = insertChild(parent, d, idx + 1, pendingRight);
                if (pendingRight != null) {
                    addedNodes++;
                }
            }
            child = parent;
        }
        if (pendingRight != null) {
            Node newRoot = new Node(false, nodeCapacity);
            newRoot.count = 2;
            setChild(newRoot, 0, child);
            setChild(newRoot, 1, pendingRight);
            recomputeAggregates(newRoot);
            // The two halves' floors, and the one pair between them.
            newRoot.pairFloor = Math.min(Math.min(child.pairFloor, pendingRight.pairFloor),
                    Math.max(lastVersion(child), firstVersion(pendingRight)));
            root = newRoot;
            height++;
            if (pathNodes.length < height + 1) {
                pathNodes = Arrays.copyOf(pathNodes, 2 * pathNodes.length);
                pathIdx = Arrays.copyOf(pathIdx, 2 * pathIdx.length);
            }
        }
    }

    /** Inserts {@code child} at {@code pos} of inner node {@code parent} at depth d; returns the split-off right sibling or null. */
    private Node insertChild(Node parent, int depth, int pos, Node child) {
        if (parent.count < nodeCapacity) {
            openGap(parent, pos, 1);
            setChild(parent, pos, child);
            return null;
        }
        Node right = new Node(false, nodeCapacity);
        int split = splitPoint(parent, pos, depth);
        moveTail(parent, split, right);
        widen(parent);
        widen(right);
        if (pos < split || (pos == split && split < nodeCapacity)) {
            openGap(parent, pos, 1);
            setChild(parent, pos, child);
        } else {
            openGap(right, pos - split, 1);
            setChild(right, pos - split, child);
        }
        recomputeAggregates(parent);
        recomputeAggregates(right);
        right.pairFloor = parent.pairFloor; // a bound for the whole, so for each half
        return right;
    }

    /**
     * Half-and-half, except when appending to the rightmost node: increasing keys (timestamps,
     * sequence numbers) would otherwise leave every node half empty.
     */
    private int splitPoint(Node n, int pos, int depth) {
        return pos == n.count && onRightEdge(depth) ? n.count : n.count / 2;
    }

    // ---------------------------------------------------------------- deletion

    /** Removes every boundary in [b, e) below {@code n}; returns how many were removed. */
    private long deleteRange(Node n, long pb, byte[] b, long pe, byte[] e) {
        if (n.leaf) {
            int s = lowerIndex(n, pb, b, false) + 1;
            int t = lowerIndex(n, pe, e, false) + 1;
            if (s >= t) {
                return 0;
            }
            n.entries -= t - s;
            removedEntries += t - s;
            removeRange(n, s, t);
            refreshPairFloor(n);
            return t - s;
        }
        int lo = Math.max(0, floorIndex(n, pb, b, false));
        int hi = lowerIndex(n, pe, e, false);
        if (hi < 0) {
            return 0; // the range ends before this subtree starts
        }
        long entriesBefore = removedEntries;
        long nodesBefore = removedNodes;
        long removed = 0;
        if (hi - lo > 1) {
            // Children strictly between lo and hi lie inside the range: drop them whole.
            for (int i = lo + 1; i < hi; i++) {
                Node c = n.children[i];
                removed += c.entries;
                removedEntries += c.entries;
                removedNodes += c.nodes;
            }
            removeRange(n, lo + 1, hi);
            hi = lo + 1;
        }
        removed += deleteRange(n.children[lo], pb, b, pe, e);
        if (hi != lo) {
            removed += deleteRange(n.children[hi], pb, b, pe, e);
        }
        if (removed == 0) {
            return 0;
        }
        if (hi != lo) {
            fixChild(n, hi);
        }
        fixChild(n, lo);
        subtractRemoved(n, entriesBefore, nodesBefore);
        return removed;
    }

    private void subtractRemoved(Node n, long entriesBefore, long nodesBefore) {
        n.entries -= removedEntries - entriesBefore;
        n.nodes -= removedNodes - nodesBefore;
    }

    // Outcomes of fixChild, which the prune sweep needs to know where to continue.
    private static final int FIX_KEPT = 0;
    private static final int FIX_REMOVED = 1;
    private static final int FIX_MERGED_INTO_LEFT = 2;
    private static final int FIX_TOOK_FROM_LEFT = 3;
    private static final int FIX_TOOK_FROM_RIGHT = 4;

    /**
     * Restores the invariants of child i of {@code n} after entries were removed below it:
     * refreshes its separator and maximum, removes it if empty, and merges it with or refills it
     * from a sibling if underfull. Counts the nodes it removes in {@link #removedNodes}; the
     * caller updates {@code n}'s aggregates.
     */
    private int fixChild(Node n, int i) {
        Node c = n.children[i];
        if (c.count == 0) {
            assert c.entries == 0 && c.nodes == 1 : "empty node with stale aggregates";
            removedNodes += 1;
            removeRange(n, i, i + 1);
            return FIX_REMOVED;
        }
        refreshSeparator(c, n, i);
        n.versions[i] = maxOf(c);
        if (c.count >= minFill || n.count == 1) {
            return FIX_KEPT;
        }
        if (i > 0) {
            Node left = n.children[i - 1];
            if (left.count + c.count <= nodeCapacity) {
                absorb(left, c);
                removedNodes += 1;
                n.versions[i - 1] = Math.max(n.versions[i - 1], n.versions[i]);
                removeRange(n, i, i + 1);
                return FIX_MERGED_INTO_LEFT;
            }
            int move = (left.count - c.count) / 2;
            boolean rewordC = !wordsCompatible(left, c);
            openGap(c, 0, move);
            copyEntries(left, left.count - move, c, 0, move);
            clearTail(left, left.count - move, left.count);
            left.count -= move;
            recomputeAggregates(left);
            recomputeAggregates(c);
            forgetPairFloor(left);
            forgetPairFloor(c);
            if (rewordC) {
                rebuildWords(c);
            }
            n.versions[i - 1] = maxOf(left);
            n.versions[i] = maxOf(c);
            copyFirstKey(c, n, i);
            return FIX_TOOK_FROM_LEFT;
        }
        Node right = n.children[1];
        if (c.count + right.count <= nodeCapacity) {
            absorb(c, right);
            removedNodes += 1;
            n.versions[0] = Math.max(n.versions[0], n.versions[1]);
            removeRange(n, 1, 2);
            return FIX_TOOK_FROM_RIGHT;
        }
        int move = (right.count - c.count) / 2;
        boolean rewordC = !wordsCompatible(right, c);
        copyEntries(right, 0, c, c.count, move);
        c.count += move;
        removeRange(right, 0, move);
        recomputeAggregates(right);
        recomputeAggregates(c);
        forgetPairFloor(right);
        forgetPairFloor(c);
        if (rewordC) {
            rebuildWords(c);
        }
        n.versions[0] = maxOf(c);
        n.versions[1] = maxOf(right);
        copyFirstKey(right, n, 1);
        return FIX_TOOK_FROM_RIGHT;
    }

    /** Appends all of {@code right}'s entries to {@code left} (its left sibling). */
    private static void absorb(Node left, Node right) {
        boolean reword = !wordsCompatible(right, left);
        copyEntries(right, 0, left, left.count, right.count);
        left.count += right.count;
        left.entries += right.entries;
        left.nodes += right.nodes - 1;
        if (left.leaf) {
            refreshPairFloor(left);
        } else {
            forgetPairFloor(left);
        }
        if (reword) {
            rebuildWords(left);
        }
    }

    /**
     * After entries moved between inner siblings: 0, so the next prune visit looks inside and
     * sets it again. (The pair between the two halves may be new, and is in neither bound.)
     * Leaves are recomputed exactly instead; this leaves them alone.
     */
    private static void forgetPairFloor(Node n) {
        if (!n.leaf) {
            n.pairFloor = 0;
        }
    }

    private void collapseRoot() {
        while (!root.leaf && root.count == 1) {
            root = root.children[0];
            height--;
        }
        if (!root.leaf && root.count == 0) {
            root = new Node(true, nodeCapacity);
            height = 0;
        }
    }

    // ---------------------------------------------------------------- pruning

    @Override
    public void removeBefore(long oldestVersion) {
        assert oldestVersion >= this.oldestVersion
                : "horizon went backwards: " + oldestVersion + " < " + this.oldestVersion;
        if (oldestVersion > this.oldestVersion) {
            this.oldestVersion = oldestVersion;
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Cost is O(budget * height + height * nodeCapacity): visiting a boundary is one array
     * step; a whole leaf whose boundaries are all at or below the horizon (behind a segment
     * that is too) is dropped for one unit of budget; a whole subtree in which nothing can go
     * is passed for one unit, reading its first and last versions down its two spines. So
     * "entries visited" counts such a leaf or subtree as one. To keep up with the writes, visit
     * about one entry per boundary written plus a constant (the sequencer: 2 per operation
     * written plus 64 per call).
     */
    @Override
    public int prune(int maxEntriesToVisit) {
        pruneBudget = Math.max(0, maxEntriesToVisit);
        // A sweep that started below the current horizon vouches only for its own horizon, so
        // a finished sweep wraps around into a new one while budget remains.
        while (pruneBudget > 0 && (cursorKey != null || oldestVersion != cleanHorizon)) {
            if (cursorKey == null) {
                sweepHorizon = oldestVersion;
                sweepDirty = false;
                pruneCarryVersion = 0;
            } else {
                pruneCarryVersion = versionBefore(cursorPrefix, cursorKey, cursorAfter);
            }
            pruneStopped = false;
            pruneSeenFloor = Long.MAX_VALUE;
            byte[] from = cursorKey;
            cursorKey = null;
            pruneNode(root, cursorPrefix, from, cursorAfter);
            collapseRoot();
            if (pruneStopped) {
                break;
            }
            sweepsCompleted++;
            cleanHorizon = sweepDirty ? NO_CLEAN_HORIZON : sweepHorizon;
        }
        return Math.max(0, maxEntriesToVisit) - pruneBudget;
    }

    /** Full sweeps finished so far (metrics, tests). */
    public long sweepsCompleted() {
        return sweepsCompleted;
    }

    /**
     * Visits the boundaries of {@code n} from {@code from} (null: all), removing those the
     * horizon makes redundant, until the budget runs out; then sets the cursor.
     */
    private void pruneNode(Node n, long fromPrefix, byte[] from, boolean fromAfter) {
        if (n.leaf) {
            int start = from == null ? 0 : lowerIndex(n, fromPrefix, from, fromAfter) + 1;
            pruneLeaf(n, start);
            return;
        }
        long horizon = oldestVersion;
        long entriesBefore = removedEntries;
        long nodesBefore = removedNodes;
        boolean wholeNode = from == null;
        long seenOutside = pruneSeenFloor;
        pruneSeenFloor = Long.MAX_VALUE;
        int i = from == null ? 0 : Math.max(0, floorIndex(n, fromPrefix, from, fromAfter));
        while (i < n.count) {
            if (pruneBudget == 0) {
                // Entries removed just before here may now pair with this child's first one.
                pruneSeenFloor = Math.min(pruneSeenFloor, pruneCarryVersion);
                if (from != null) {
                    setCursor(fromPrefix, from, fromAfter); // entries pulled in from the right sibling, not yet visited
                } else {
                    setCursor(n.prefixes[i], n.keys[i], n.after[i]);
                }
                break;
            }
            Node c = n.children[i];
            if (from == null && c.pairFloor > horizon) {
                // A bound of the pair into c: max(carry, first) is at least either.
                long carry = pruneCarryVersion;
                long into = carry > horizon ? carry : firstVersion(c);
                if (into > horizon) {
                    // No boundary here can go: each has itself or its predecessor above the
                    // horizon. Passing the subtree costs one unit instead of one per entry (with
                    // increasing keys the whole live end of the key space is such subtrees).
                    pruneSeenFloor = Math.min(pruneSeenFloor, Math.min(c.pairFloor, into));
                    pruneCarryVersion = lastVersion(c);
                    pruneBudget--;
                    i++;
                    continue;
                }
            }
            if (from == null && c.leaf && n.versions[i] <= horizon && pruneCarryVersion <= horizon) {
                // Everything in the leaf and the segment before it are at or below the horizon.
                removedEntries += c.entries;
                removedNodes += 1;
                removeRange(n, i, i + 1);
                pruneBudget--;
                continue;
            }
            // If a merge pulls unvisited entries of the right sibling into c, resume there.
            long resumePrefix = 0;
            byte[] resume = null;
            boolean resumeAfter = false;
            if (i == 0 && n.count > 1) {
                resumePrefix = n.prefixes[1];
                resume = n.keys[1];
                resumeAfter = n.after[1];
            }
            pruneNode(c, fromPrefix, from, fromAfter);
            from = null;
            int outcome = fixChild(n, i);
            if (pruneStopped) {
                break;
            }
            switch (outcome) {
                case FIX_REMOVED, FIX_MERGED_INTO_LEFT -> { } // the next child moved to index i
                case FIX_TOOK_FROM_RIGHT -> {
                    fromPrefix = resumePrefix;
                    from = resume;
                    fromAfter = resumeAfter;
                }
                default -> i++;
            }
        }
        subtractRemoved(n, entriesBefore, nodesBefore);
        // A whole visit saw every pair in the subtree (and the one into it): an exact-enough
        // bound. A partial one saw every pair it could have created.
        long seen = pruneSeenFloor;
        n.pairFloor = wholeNode && !pruneStopped ? seen : Math.min(n.pairFloor, seen);
        pruneSeenFloor = Math.min(seenOutside, seen);
    }

    /** The version of the first boundary in {@code n}'s subtree. */
    private static long firstVersion(Node n) {
        while (!n.leaf) {
            n = n.children[0];
        }
        return n.versions[0];
    }

    /** The version of the last boundary in {@code n}'s subtree. */
    private static long lastVersion(Node n) {
        while (!n.leaf) {
            n = n.children[n.count - 1];
        }
        return n.versions[n.count - 1];
    }

    private void pruneLeaf(Node n, int start) {
        long horizon = oldestVersion;
        long carry = pruneCarryVersion;
        long seen = pruneSeenFloor;
        long[] versions = n.versions;
        int count = n.count;
        int write = start;
        int read = start;
        for (; read < count; read++) {
            if (pruneBudget == 0) {
                seen = Math.min(seen, Math.max(carry, versions[read]));
                setCursor(n.prefixes[read], n.keys[read], n.after[read]);
                break;
            }
            pruneBudget--;
            long v = versions[read];
            if (v <= horizon && carry <= horizon) {
                // Reads at or above the horizon see "not newer" on both sides of this boundary.
                continue;
            }
            if (write != read) {
                n.prefixes[write] = n.prefixes[read];
                n.words[write] = n.words[read];
                n.keys[write] = n.keys[read];
                n.after[write] = n.after[read];
                versions[write] = v;
            }
            write++;
            seen = Math.min(seen, Math.max(carry, v));
            carry = v;
        }
        int removed = read - write;
        if (removed > 0) {
            int tail = count - read;
            System.arraycopy(n.prefixes, read, n.prefixes, write, tail);
            System.arraycopy(n.words, read, n.words, write, tail);
            System.arraycopy(n.keys, read, n.keys, write, tail);
            System.arraycopy(n.after, read, n.after, write, tail);
            System.arraycopy(versions, read, versions, write, tail);
            clearTail(n, count - removed, count);
            n.count = count - removed;
            refreshPairFloor(n);
            n.entries -= removed;
            removedEntries += removed;
        }
        pruneCarryVersion = carry;
        pruneSeenFloor = seen;
    }

    private void setCursor(long p, byte[] key, boolean after) {
        cursorPrefix = p;
        cursorKey = key;
        cursorAfter = after;
        pruneStopped = true;
    }

    /** The version of the last boundary strictly before the given key (0 if none). */
    private long versionBefore(long p, byte[] key, boolean after) {
        Node n = root;
        while (!n.leaf) {
            int i = lowerIndex(n, p, key, after);
            if (i < 0) {
                return 0;
            }
            n = n.children[i];
        }
        int i = lowerIndex(n, p, key, after);
        return i >= 0 ? n.versions[i] : 0;
    }

    // ---------------------------------------------------------------- metrics and lifecycle

    @Override
    public long oldestVersion() {
        return oldestVersion;
    }

    /** The newest version written (0 if none). */
    public long newestVersion() {
        return newestVersion;
    }

    @Override
    public long size() {
        return root.entries;
    }

    /** Inner levels above the leaves (tests). */
    int height() {
        return height;
    }

    /** Nodes in the tree (metrics). */
    public long nodeCount() {
        return root.nodes;
    }

    @Override
    public long estimatedMemoryBytes() {
        // Compressed oops: header 12 + fields ~92 (six array references, five longs, count,
        // offset, common key); arrays: 16-byte header each (prefixes, words, versions: 8 bytes
        // per entry; keys: 4; after: 1).
        long leafBytes = 104 + 3 * (16 + 8L * nodeCapacity) + (16 + 4L * nodeCapacity) + (16 + nodeCapacity);
        long innerBytes = leafBytes + 16 + 4L * nodeCapacity;
        long nodes = root.nodes;
        // Most nodes are leaves: with fanout f there are about nodes/f inner nodes.
        long inner = nodes / Math.max(2, nodeCapacity / 2);
        return (nodes - inner) * leafBytes + inner * innerBytes + (long) (averageKeyBytesPerEntry * root.entries);
    }

    @Override
    public void clear() {
        root = new Node(true, nodeCapacity);
        height = 0;
        newestVersion = 0;
        oldestVersion = 0;
        cursorKey = null;
        averageKeyBytesPerEntry = 0;
        cleanHorizon = NO_CLEAN_HORIZON;
        sweepDirty = false;
        Arrays.fill(pathNodes, null);
    }

    // ---------------------------------------------------------------- keys

    /** The first 8 bytes of {@code key}, big-endian, zero-padded: orders like the key's first 8 bytes. */
    static long prefix(byte[] key) {
        if (key.length >= 8) {
            return (long) LONG_BIG_ENDIAN.get(key, 0);
        }
        long p = 0;
        for (int i = 0; i < key.length; i++) {
            p |= (key[i] & 0xFFL) << (56 - 8 * i);
        }
        return p;
    }

    /**
     * Key bytes 8..15 as a big-endian long, zero-padded like {@link #prefix}. Among keys with
     * equal prefixes, a smaller word (unsigned) means a smaller key, with or without the virtual
     * 0x00 byte; equal words leave the order to {@link #compareTail}.
     */
    static long word(byte[] key) {
        return wordAt(key, 8);
    }

    /** Key bytes [offset, offset + 8) as a big-endian long, zero-padded like {@link #word}; offset >= 8. */
    static long wordAt(byte[] key, int offset) {
        assert offset >= 8 : "word offset " + offset;
        int length = key.length;
        if (length >= offset + 8) {
            return (long) LONG_BIG_ENDIAN.get(key, offset);
        }
        if (length <= offset) {
            return 0;
        }
        // offset < length < offset + 8, and offset >= 8: the key's last 8 bytes, shifted so that
        // byte `offset` comes first; zeros follow.
        return (long) LONG_BIG_ENDIAN.get(key, length - 8) << (8 * (offset + 8 - length));
    }

    /**
     * The first index in [from, to) whose word is not below {@code w} (unsigned); to if none.
     * A branching search on purpose: the branch-free {@link #countPrefixesBelow}, generalised
     * to a range and used here, made shared-prefix point checks and writes 20-35% slower
     * (paired ConflictSetSharedPrefixBenchmark runs).
     */
    private static int countBelow(long[] words, int from, int to, long w) {
        long biased = w + Long.MIN_VALUE;
        int lo = from;
        int hi = to;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (words[mid] + Long.MIN_VALUE < biased) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** The first index in [from, to) whose word is above {@code w} (unsigned); to if none. */
    private static int countAtMost(long[] words, int from, int to, long w) {
        long biased = w + Long.MIN_VALUE;
        int lo = from;
        int hi = to;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (words[mid] + Long.MIN_VALUE <= biased) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /**
     * Compares the keys {@code a (+"\0" if aAfter)} and {@code b (+"\0" if bAfter)} in unsigned
     * lexicographic order. Used on prefix ties; the zero padding of {@link #prefix} equals the
     * virtual 0x00 byte, so a key and its successor always share a prefix.
     */
    static int compareTail(byte[] a, boolean aAfter, byte[] b, boolean bAfter) {
        if (a == b) {
            return Boolean.compare(aAfter, bAfter);
        }
        int m = Arrays.mismatch(a, b);
        if (m < 0) {
            return Boolean.compare(aAfter, bAfter);
        }
        if (m < a.length && m < b.length) {
            return (a[m] & 0xFF) - (b[m] & 0xFF);
        }
        // One is a proper prefix of the other.
        return a.length < b.length
                ? compareWithExtension(aAfter, b, a.length, bAfter)
                : -compareWithExtension(bAfter, a, b.length, aAfter);
    }

    /** Compares {@code s (+"\0" if sAfter)} with {@code t (+"\0" if tAfter)} where s is t's first {@code sLength} bytes, sLength < t.length. */
    private static int compareWithExtension(boolean sAfter, byte[] t, int sLength, boolean tAfter) {
        if (!sAfter || t[sLength] != 0) {
            return -1; // s is a proper prefix of t, or s+"\0" < t because t's next byte is larger
        }
        if (t.length == sLength + 1) {
            return tAfter ? -1 : 0; // s+"\0" equals t
        }
        return -1; // s+"\0" is a proper prefix of t
    }

    static int compare(long pa, byte[] a, boolean aAfter, long pb, byte[] b, boolean bAfter) {
        return pa != pb ? Long.compareUnsigned(pa, pb) : compareTail(a, aAfter, b, bAfter);
    }

    /** Whether {@code key} is at or after the last entry of {@code n} (false if n is empty). */
    private static boolean atOrAfterLast(Node n, long p, byte[] key) {
        return n.count > 0 && compareEntry(n, n.count - 1, p, key, false) <= 0;
    }

    /**
     * Compares entry j of {@code n} with the probe {@code key (+"\0" if after)}, like
     * {@link #compare}, but by the node's prefix and word first: the entry's key is
     * dereferenced only when both tie (or the probe is shorter than the node's common bytes).
     */
    private static int compareEntry(Node n, int j, long p, byte[] key, boolean after) {
        long ep = n.prefixes[j];
        if (ep != p) {
            return Long.compareUnsigned(ep, p);
        }
        int offset = n.wordOffset;
        if (offset > 8) {
            if (key.length < offset) {
                return compareTail(n.keys[j], n.after[j], key, after);
            }
            int c = compareCommon(n, key);
            if (c != 0) {
                return -c; // the entry has the common bytes
            }
        }
        long ew = n.words[j];
        long w = wordAt(key, offset);
        if (ew != w) {
            return Long.compareUnsigned(ew, w);
        }
        return compareTail(n.keys[j], n.after[j], key, after);
    }

    /**
     * Compares key bytes [8, wordOffset) with the node's common bytes (n.wordOffset > 8, and
     * key.length >= n.wordOffset): negative if the key is below, 0 if it has them, positive if
     * above. Up to 24 bytes come from the node's fields; beyond, from commonKey.
     */
    private static int compareCommon(Node n, byte[] key) {
        int offset = n.wordOffset;
        if (offset <= 24) {
            return compareCommonWords(wordAt(key, 8), offset > 16 ? wordAt(key, 16) : 0, n.common1, n.common2, offset);
        }
        int m = Arrays.mismatch(key, 8, offset, n.commonKey, 8, offset);
        return m < 0 ? 0 : (key[8 + m] & 0xFF) - (n.commonKey[8 + m] & 0xFF);
    }

    /**
     * Compares bytes [8, offset) of two keys given as their words at 8 ({@code a1}, {@code b1})
     * and at 16 ({@code a2}, {@code b2}, read only if offset > 16); 8 < offset <= 24.
     */
    private static int compareCommonWords(long a1, long a2, long b1, long b2, int offset) {
        if (offset <= 16) {
            long mask = -1L << (8 * (16 - offset));
            return Long.compareUnsigned(a1 & mask, b1 & mask);
        }
        if (a1 != b1) {
            return Long.compareUnsigned(a1, b1);
        }
        long mask = -1L << (8 * (24 - offset));
        return Long.compareUnsigned(a2 & mask, b2 & mask);
    }

    /** The last index whose entry is {@code <=} the probe, or -1. */
    private static int floorIndex(Node n, long p, byte[] key, boolean after) {
        return lastIndexBefore(n, p, key, after, true);
    }

    /** The last index whose entry is {@code <} the probe, or -1. */
    private static int lowerIndex(Node n, long p, byte[] key, boolean after) {
        return lastIndexBefore(n, p, key, after, false);
    }

    /** The last index whose entry is below the probe (or equal to it, if {@code orEqual}), or -1. */
    private static int lastIndexBefore(Node n, long p, byte[] key, boolean after, boolean orEqual) {
        long[] prefixes = n.prefixes;
        int count = n.count;
        int offset = n.wordOffset;
        int lo;
        int hi;
        if (offset > 8 && count > 0) {
            // Every entry starts with the node's common bytes, so all prefixes are equal; and
            // a probe that does not start with those bytes is below or above every entry. (The
            // node's own fields say so: no cache line of its arrays is needed for this.)
            long common = n.common0;
            if (common != p) {
                return Long.compareUnsigned(common, p) < 0 ? count - 1 : -1;
            }
            if (key.length >= offset) {
                int c = compareCommon(n, key);
                if (c != 0) {
                    return c < 0 ? -1 : count - 1;
                }
            }
            lo = 0;
            hi = count;
        } else {
            lo = countPrefixesBelow(prefixes, count, p);
            if (lo == count || prefixes[lo] != p) {
                return lo - 1; // no entry shares the probe's prefix: the usual case for varied keys
            }
            hi = countPrefixesAtMost(prefixes, count, p);
        }
        // Entries [lo, hi) share the prefix: narrow them by the word, then binary search what
        // still ties on the whole key.
        if (offset == 8 || key.length >= offset) {
            long w = wordAt(key, offset);
            int tieLo = countBelow(n.words, lo, hi, w);
            hi = countAtMost(n.words, tieLo, hi, w);
            lo = tieLo;
        } // else a probe shorter than the common bytes: compare whole keys over the tie
        int limit = orEqual ? 0 : 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (compareTail(key, after, n.keys[mid], n.after[mid]) >= limit) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo - 1;
    }

    /**
     * How many of the sorted prefixes are below {@code p} (unsigned). Branch-free binary search:
     * the comparison feeds a conditional move, so the unpredictable outcome costs no pipeline
     * flush (measured ~25% faster per check than a branching search on random keys).
     */
    private static int countPrefixesBelow(long[] prefixes, int count, long p) {
        if (count == 0) {
            return 0;
        }
        long biased = p + Long.MIN_VALUE; // unsigned order as signed order
        int base = 0;
        int length = count;
        while (length > 1) {
            int half = length >>> 1;
            base = prefixes[base + half - 1] + Long.MIN_VALUE < biased ? base + half : base;
            length -= half;
        }
        return base + (prefixes[base] + Long.MIN_VALUE < biased ? 1 : 0);
    }

    /** How many of the sorted prefixes are at most {@code p} (unsigned). */
    private static int countPrefixesAtMost(long[] prefixes, int count, long p) {
        if (count == 0) {
            return 0;
        }
        long biased = p + Long.MIN_VALUE;
        int base = 0;
        int length = count;
        while (length > 1) {
            int half = length >>> 1;
            base = prefixes[base + half - 1] + Long.MIN_VALUE <= biased ? base + half : base;
            length -= half;
        }
        return base + (prefixes[base] + Long.MIN_VALUE <= biased ? 1 : 0);
    }

    /** Heap bytes of a key array (16-byte header, 8-byte alignment). */
    private static long keyHeapBytes(byte[] key) {
        return (16L + key.length + 7) & ~7L;
    }

    // ---------------------------------------------------------------- node plumbing

    /**
     * A node: leaf entries are boundaries with the version of the segment they start; inner
     * entries are children with the exact first key and the maximum version of their subtree.
     */
    static final class Node {
        final boolean leaf;
        int count;
        final long[] prefixes;
        /**
         * Key bytes [wordOffset, wordOffset + 8), big-endian, zero-padded ({@link #wordAt}):
         * orders prefix ties without touching the keys.
         */
        final long[] words;
        /**
         * 8, or more when every entry's key starts with the same wordOffset bytes (those of
         * {@link #commonKey}): keys under a shared namespace then tie on their prefixes but
         * differ in their words, so searches rarely dereference a key.
         */
        int wordOffset = 8;
        /**
         * When wordOffset > 8, a key whose first wordOffset bytes every entry's key starts with;
         * else null. It need not still be an entry (a split-off or pruned node keeps the one it
         * had), so it may keep one removed key alive per node until the node's offset is set
         * again: bounded by the node count, and not in {@link #estimatedMemoryBytes}.
         */
        byte[] commonKey;
        /** commonKey's bytes 0-7, 8-15 and 16-23 ({@link #wordAt}): common bytes up to 24 are checked without dereferencing it. */
        long common0;
        long common1;
        long common2;
        final byte[][] keys;
        /** Key i is {@code keys[i] + "\0"} when set (the end of a point write). */
        final boolean[] after;
        /** Leaf: the version of the segment starting at key i. Inner: the maximum version below child i. */
        final long[] versions;
        final Node[] children;
        /**
         * A lower bound of max(v, w) over the adjacent boundary pairs (v, w) whose two entries
         * both lie in this subtree. A boundary can be pruned only when its pair with the one
         * before is at or below the horizon, so while this is above it the prune sweep passes
         * the whole subtree in O(1) (O(height) for an inner node, to read its edge versions).
         * Leaves: exact after rebuilds; inserts lower it by the pairs they create. Inner nodes:
         * inserts lower it on their path; a full prune visit sets it from what it saw; a merge
         * or refill between inner siblings resets it to 0 (unknown: visit). In-place rewrites
         * (to newer versions) only raise pairs, so they may leave it low: safe. The initial
         * MAX_VALUE (no pairs yet) is right for a new leaf; every place that makes an inner node
         * sets it (a too-high bound would only make the sweep pass what it could prune).
         */
        long pairFloor = Long.MAX_VALUE;
        /** Subtree aggregates for size() and the memory estimate (kept without touching keys). */
        long entries;
        long nodes = 1;

        Node(boolean leaf, int capacity) {
            this.leaf = leaf;
            this.prefixes = new long[capacity];
            this.words = new long[capacity];
            this.keys = new byte[capacity][];
            this.after = new boolean[capacity];
            this.versions = new long[capacity];
            this.children = leaf ? null : new Node[capacity];
        }
    }

    private static void setEntry(Node n, int i, long p, byte[] key, boolean after, long version) {
        n.prefixes[i] = p;
        n.words[i] = wordAt(key, n.wordOffset); // the caller admitted the key
        n.keys[i] = key;
        n.after[i] = after;
        n.versions[i] = version;
    }

    private static void setChild(Node parent, int i, Node child) {
        copyFirstKey(child, parent, i);
        parent.versions[i] = maxOf(child);
        parent.children[i] = child;
    }

    private static void copyFirstKey(Node child, Node parent, int i) {
        byte[] key = child.keys[0];
        admit(parent, key);
        parent.prefixes[i] = child.prefixes[0];
        parent.words[i] = parent.wordOffset == child.wordOffset ? child.words[0] : wordAt(key, parent.wordOffset);
        parent.keys[i] = key;
        parent.after[i] = child.after[0];
    }

    /** {@link #copyFirstKey} if child's first entry is not already the separator. */
    private static void refreshSeparator(Node child, Node parent, int i) {
        if (parent.keys[i] != child.keys[0] || parent.after[i] != child.after[0]) {
            copyFirstKey(child, parent, i);
        }
    }

    /**
     * Before {@code key} becomes an entry of {@code n}: if it does not start with the node's
     * common bytes, lowers the word offset to what it does share (at least 8) and recomputes
     * the words. Keys inserted between two entries always share them; this is for the edges.
     */
    private static void admit(Node n, byte[] key) {
        int offset = n.wordOffset;
        if (offset == 8) {
            return;
        }
        byte[] common = n.commonKey;
        if (key.length >= offset && prefix(key) == n.common0 && compareCommon(n, key) == 0) {
            return;
        }
        setWordOffset(n, Math.min(offset, sharedBytes(key, common)), common);
    }

    /**
     * Whether entries of {@code src} can move into {@code dst} keeping their words: the same
     * offset, and src's common bytes are dst's (so its keys start with them). Otherwise the
     * receiving node recomputes its words from its keys ({@link #rebuildWords}).
     */
    private static boolean wordsCompatible(Node src, Node dst) {
        int offset = dst.wordOffset;
        if (src.wordOffset != offset) {
            return false;
        }
        if (offset == 8) {
            return true;
        }
        if (src.common0 != dst.common0) {
            return false;
        }
        if (offset <= 24) {
            return compareCommonWords(src.common1, src.common2, dst.common1, dst.common2, offset) == 0;
        }
        return Arrays.mismatch(src.commonKey, 0, offset, dst.commonKey, 0, offset) < 0;
    }

    /** After a split: a node whose first and last keys share more than its word offset gets the larger one. */
    private static void widen(Node n) {
        if (n.count >= 2 && sharedBytes(n.keys[0], n.keys[n.count - 1]) > n.wordOffset) {
            rebuildWords(n);
        }
    }

    /** Sets the word offset from all entries' keys and recomputes every word (after a split, or entries moved in from a sibling). */
    private static void rebuildWords(Node n) {
        if (n.count == 0) {
            setWordOffset(n, 8, null);
            return;
        }
        byte[] first = n.keys[0];
        int shared = first.length;
        for (int i = 1; i < n.count && shared > 8; i++) {
            shared = Math.min(shared, sharedBytes(first, n.keys[i]));
        }
        setWordOffset(n, shared, first);
    }

    private static void setWordOffset(Node n, int offset, byte[] common) {
        if (offset <= 8) {
            offset = 8;
            common = null;
        }
        n.wordOffset = offset;
        n.commonKey = common;
        if (common != null) {
            n.common0 = prefix(common);
            n.common1 = wordAt(common, 8);
            n.common2 = wordAt(common, 16);
        }
        long[] words = n.words;
        byte[][] keys = n.keys;
        for (int i = 0, count = n.count; i < count; i++) {
            byte[] key = keys[i];
            // Null only for a slot opened at the end for the caller to fill (a slot opened
            // inside still holds its neighbour's key until then): either way, overwritten.
            words[i] = key == null ? 0 : wordAt(key, offset);
        }
    }

    /** How many leading bytes the two keys have in common. */
    private static int sharedBytes(byte[] a, byte[] b) {
        int m = Arrays.mismatch(a, b);
        return m < 0 ? a.length : m;
    }

    private static long maxOf(Node n) {
        long max = 0;
        long[] versions = n.versions;
        for (int i = 0, count = n.count; i < count; i++) {
            max = Math.max(max, versions[i]);
        }
        return max;
    }

    private static void refreshPairFloor(Node leaf) {
        long floor = Long.MAX_VALUE;
        long[] versions = leaf.versions;
        for (int j = 1, count = leaf.count; j < count; j++) {
            floor = Math.min(floor, Math.max(versions[j - 1], versions[j]));
        }
        leaf.pairFloor = floor;
    }

    private static void recomputeAggregates(Node n) {
        if (n.leaf) {
            n.entries = n.count;
            n.nodes = 1;
            refreshPairFloor(n);
            return;
        }
        long entries = 0;
        long nodes = 1;
        for (int i = 0; i < n.count; i++) {
            Node c = n.children[i];
            entries += c.entries;
            nodes += c.nodes;
        }
        n.entries = entries;
        n.nodes = nodes;
    }

    /** Shifts entries [at, count) right by {@code gap}. */
    private static void openGap(Node n, int at, int gap) {
        int tail = n.count - at;
        if (tail > 0) {
            System.arraycopy(n.prefixes, at, n.prefixes, at + gap, tail);
            System.arraycopy(n.words, at, n.words, at + gap, tail);
            System.arraycopy(n.keys, at, n.keys, at + gap, tail);
            System.arraycopy(n.after, at, n.after, at + gap, tail);
            System.arraycopy(n.versions, at, n.versions, at + gap, tail);
            if (n.children != null) {
                System.arraycopy(n.children, at, n.children, at + gap, tail);
            }
        }
        n.count += gap;
    }

    /** Removes entries [from, to). */
    private static void removeRange(Node n, int from, int to) {
        int tail = n.count - to;
        if (tail > 0) {
            System.arraycopy(n.prefixes, to, n.prefixes, from, tail);
            System.arraycopy(n.words, to, n.words, from, tail);
            System.arraycopy(n.keys, to, n.keys, from, tail);
            System.arraycopy(n.after, to, n.after, from, tail);
            System.arraycopy(n.versions, to, n.versions, from, tail);
            if (n.children != null) {
                System.arraycopy(n.children, to, n.children, from, tail);
            }
        }
        int newCount = n.count - (to - from);
        clearTail(n, newCount, n.count);
        n.count = newCount;
    }

    /** Drops references in [from, to) so removed keys and nodes can be collected. */
    private static void clearTail(Node n, int from, int to) {
        Arrays.fill(n.keys, from, to, null);
        if (n.children != null) {
            Arrays.fill(n.children, from, to, null);
        }
    }

    private static void copyEntries(Node src, int from, Node dst, int at, int length) {
        System.arraycopy(src.prefixes, from, dst.prefixes, at, length);
        System.arraycopy(src.words, from, dst.words, at, length);
        System.arraycopy(src.keys, from, dst.keys, at, length);
        System.arraycopy(src.after, from, dst.after, at, length);
        System.arraycopy(src.versions, from, dst.versions, at, length);
        if (src.children != null) {
            System.arraycopy(src.children, from, dst.children, at, length);
        }
    }

    /** Moves entries [from, count) of {@code n} into the empty node {@code right}. */
    private static void moveTail(Node n, int from, Node right) {
        int length = n.count - from;
        right.wordOffset = n.wordOffset;
        right.commonKey = n.commonKey;
        right.common0 = n.common0;
        right.common1 = n.common1;
        right.common2 = n.common2;
        copyEntries(n, from, right, 0, length);
        right.count = length;
        clearTail(n, from, n.count);
        n.count = from;
    }

    // ---------------------------------------------------------------- verification (tests)

    /** Boundaries the horizon makes redundant (itself and the one before at or below it); O(n), tests. */
    long prunableBoundaries() {
        long[] carry = {0};
        return countPrunable(root, carry);
    }

    private long countPrunable(Node n, long[] carry) {
        long count = 0;
        for (int i = 0; i < n.count; i++) {
            if (!n.leaf) {
                count += countPrunable(n.children[i], carry);
                continue;
            }
            long v = n.versions[i];
            if (v <= oldestVersion && carry[0] <= oldestVersion) {
                count++;
            }
            carry[0] = v;
        }
        return count;
    }

    /** Checks every structural invariant; O(n). Throws AssertionError describing the first violation. */
    void checkInvariants() {
        long[] lastKeyPrefix = {0};
        byte[][] lastKey = {null};
        boolean[] lastAfter = {false};
        checkNode(root, 0, true, lastKeyPrefix, lastKey, lastAfter);
    }

    private void checkNode(Node n, int depth, boolean isRoot, long[] lastPrefix, byte[][] lastKey, boolean[] lastAfter) {
        check(n.leaf == (depth == height), "leaf at depth " + depth + ", height " + height);
        check(n.count <= nodeCapacity, "count over capacity");
        check(n.wordOffset >= 8 && (n.wordOffset == 8) == (n.commonKey == null), "word offset without common key");
        check(n.commonKey == null || (n.common0 == prefix(n.commonKey) && n.common1 == wordAt(n.commonKey, 8)
                && n.common2 == wordAt(n.commonKey, 16)), "common words are not the common key's");
        check(isRoot || n.count >= 1, "empty non-root node");
        check(!isRoot || n.leaf || n.count >= 2, "inner root with a single child");
        for (int i = 0; i < n.count; i++) {
            check(n.keys[i] != null, "null key");
            check(n.prefixes[i] == prefix(n.keys[i]), "stale prefix at " + i);
            check(n.words[i] == wordAt(n.keys[i], n.wordOffset), "stale word at " + i);
            if (n.wordOffset > 8) {
                check(n.keys[i].length >= n.wordOffset
                        && Arrays.mismatch(n.keys[i], 0, n.wordOffset, n.commonKey, 0, n.wordOffset) < 0,
                        "key " + i + " does not start with the node's common bytes");
            }
            if (i > 0) {
                check(compare(n.prefixes[i - 1], n.keys[i - 1], n.after[i - 1], n.prefixes[i], n.keys[i], n.after[i]) < 0,
                        "keys out of order at " + i);
            }
        }
        for (int i = n.count; i < nodeCapacity; i++) {
            check(n.keys[i] == null && (n.leaf || n.children[i] == null), "reference kept past count");
        }
        if (n.leaf) {
            for (int i = 0; i < n.count; i++) {
                check(n.versions[i] >= 0, "negative version"); // 0 ends a segment that was never written
                if (lastKey[0] != null) {
                    check(compare(lastPrefix[0], lastKey[0], lastAfter[0], n.prefixes[i], n.keys[i], n.after[i]) < 0,
                            "keys out of order across leaves");
                }
                lastPrefix[0] = n.prefixes[i];
                lastKey[0] = n.keys[i];
                lastAfter[0] = n.after[i];
            }
            check(n.entries == n.count, "leaf entries aggregate");
            check(n.nodes == 1, "leaf nodes aggregate");
            long pairFloor = n.pairFloor;
            for (int j = 1; j < n.count; j++) {
                check(pairFloor <= Math.max(n.versions[j - 1], n.versions[j]), "pair floor above a pair at " + j);
            }
            return;
        }
        long entries = 0;
        long nodes = 1;
        for (int i = 0; i < n.count; i++) {
            Node c = n.children[i];
            check(c.count > 0, "empty child");
            check(n.keys[i] == c.keys[0] && n.after[i] == c.after[0], "separator is not the child's first key at " + i);
            check(n.versions[i] == maxOf(c), "child max version is not exact at " + i);
            checkNode(c, depth + 1, false, lastPrefix, lastKey, lastAfter);
            entries += c.entries;
            nodes += c.nodes;
        }
        check(n.entries == entries && n.nodes == nodes, "inner aggregates");
        if (isRoot) {
            checkPairFloors(n, new long[2]);
        }
    }

    /**
     * Checks every inner node's pair floor against the pairs in its subtree; returns the
     * minimum pair of n's subtree, and its first and last versions in {@code edges}.
     */
    private static long checkPairFloors(Node n, long[] edges) {
        long min = Long.MAX_VALUE;
        if (n.leaf) {
            for (int j = 1; j < n.count; j++) {
                min = Math.min(min, Math.max(n.versions[j - 1], n.versions[j]));
            }
            edges[0] = n.versions[0];
            edges[1] = n.versions[n.count - 1];
            return min;
        }
        long first = 0;
        long last = 0;
        for (int i = 0; i < n.count; i++) {
            long inChild = checkPairFloors(n.children[i], edges);
            if (i == 0) {
                first = edges[0];
            } else {
                min = Math.min(min, Math.max(last, edges[0]));
            }
            min = Math.min(min, inChild);
            last = edges[1];
        }
        check(n.pairFloor <= min, "inner pair floor " + n.pairFloor + " above a pair in its subtree (" + min + ")");
        edges[0] = first;
        edges[1] = last;
        return min;
    }

    private static void check(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError("BTreeConflictSet invariant: " + message);
        }
    }

    /** The boundaries in order, e.g. {@code [61 @5, 61+00 @0]} (debugging and test failure messages). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        appendEntries(root, sb);
        return sb.append(']').toString();
    }

    private static void appendEntries(Node n, StringBuilder sb) {
        for (int i = 0; i < n.count; i++) {
            if (!n.leaf) {
                appendEntries(n.children[i], sb);
                continue;
            }
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append(HexFormat.of().formatHex(n.keys[i]));
            if (n.after[i]) {
                sb.append("+00");
            }
            sb.append(" @").append(n.versions[i]);
        }
    }
}
