package io.weaseldb.log;

import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import io.weaseldb.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a server becomes the leader of a log, at startup or takeover: find the end of the valid
 * log, then claim the next version for a new term with a conditional write. Two servers racing
 * for the log race on the same object name and exactly one wins.
 *
 * <p>The valid log is the chain of objects each of which follows the previous
 * ({@link BatchHeader#isFollowedBy}). Because a leader has at most {@code max_in_flight_puts}
 * writes outstanding and acknowledges strictly in order, a crash can leave holes and orphans only
 * among the newest objects: recovery walks the chain over the last {@code window} objects. A
 * deposed leader's write that lands late sits inside the next term's versions instead, anywhere
 * among that term's first objects; such an object has a lower term than one before it
 * ({@link #orphansByTerm}), so recovery reads {@code window} more headers before the walk's start
 * to recognise one there, and never starts the walk at it. Objects past the first hole, and
 * objects of an older term that do not continue the chain, were never acknowledged; readers skip
 * them and the new leader's writes replace them (compare-and-swap on their entity tag) where it
 * needs their names.
 *
 * <p>Objects below the truncation floor ({@link LogLayout#floorPrefix}) are left out before any
 * of this: a truncation records the floor before it deletes, so an object there was written
 * afterwards into a freed name. A claim that lands in such a name is given up.
 *
 * <p>Blocking; runs on the thread that starts or promotes the server, never on an event loop.
 */
public final class LogRecovery {
    private static final Logger log = LoggerFactory.getLogger(LogRecovery.class);

    /**
     * The end of the valid log. {@code lastVersion == -1} for an empty log. {@code orphans} are
     * the objects recovery found not to be part of it, in key order; {@code firstVersions} lists
     * the objects of the valid log (those orphans excluded), oldest first.
     *
     * @param bareMarkers first versions (ascending) of the objects that hold neither a
     *                    transaction nor a ban, judged by their listed size (see
     *                    {@link BatchCodec#isBareMarkerSize}): reading their request ids is pointless
     * @param belowFloor  the objects listed below the truncation floor, in key order: left by a
     *                    truncation pass that has not deleted them yet, or written after it into
     *                    names it freed; none is part of the log (not among {@code orphans})
     */
    public record Tail(long term, long lastVersion, long lastTxnVersion, String lastLeaderId,
                       List<String> orphans, long objects, long[] firstVersions, long[] bareMarkers,
                       List<String> belowFloor) {}

    /** Another server claimed the version first. */
    public static final class LostClaimException extends Exception {
        public LostClaimException(String message) {
            super(message);
        }
    }

    private final ObjectStore store;
    private final LogLayout layout;
    private final int window;
    private final long timeoutMs;

    public LogRecovery(ObjectStore store, LogLayout layout, int window, long timeoutMs) {
        this.store = store;
        this.layout = layout;
        this.window = window;
        this.timeoutMs = timeoutMs;
    }

    /** The newest object of the valid log: its key and header. */
    public record End(String key, BatchHeader header) {}

    /**
     * Headers read (in key order, {@code readKeys}), which of them are orphans, and the index of
     * the valid log's newest object among them.
     */
    private record Scan(List<String> readKeys, List<BatchHeader> headers, boolean[] orphan, int end) {
        End logEnd() {
            return new End(readKeys.get(end), headers.get(end));
        }
    }

    /** Lists the log and walks the newest objects' headers to the end of the valid chain. */
    public Tail findTail() throws CorruptBatchException {
        Listed listed = listLog(null);
        List<ObjectStore.Entry> entries = listed.log();
        if (entries.isEmpty()) {
            return new Tail(0, -1, -1, null, List.of(), 0, new long[0], new long[0], List.of());
        }
        List<String> keys = new ArrayList<>(entries.size());
        for (ObjectStore.Entry e : entries) {
            keys.add(e.key());
        }
        Scan scan = scanNewest(keys);
        List<String> orphans = new ArrayList<>();
        for (int i = 0; i < scan.orphan().length; i++) {
            if (scan.orphan()[i]) {
                orphans.add(scan.readKeys().get(i));
            }
        }
        BatchHeader last = scan.headers().get(scan.end());
        java.util.Set<String> orphanSet = new java.util.HashSet<>(orphans);
        long[] firsts = keys.stream().filter(k -> !orphanSet.contains(k)).mapToLong(layout::versionOf).toArray();
        long[] bare = entries.stream().filter(e -> !orphanSet.contains(e.key()) && BatchCodec.isBareMarkerSize(e.size()))
                .mapToLong(e -> layout.versionOf(e.key())).toArray();
        return new Tail(last.term(), last.lastVersion(), last.lastTxnVersion(), last.leaderId(), orphans, keys.size(),
                firsts, bare, listed.belowFloor());
    }

    /** The valid log's newest object (a standby's answer to {@code /v1/version}), or null for an empty log. */
    public End findEnd() throws CorruptBatchException {
        List<String> keys = keysAfter(null);
        return keys.isEmpty() ? null : scanNewest(keys).logEnd();
    }

    /**
     * The valid log's newest object, from {@code known}, an object of the valid log: lists the
     * objects from it on and walks their headers from it. Past {@code 2 * window} new objects only
     * the newest are read, as {@link #findTail} does. If truncation deleted {@code known} (or is
     * about to: it lies below the truncation floor), the objects after it may be gone too, and the
     * gap they leave is no hole: what is listed is then what is left of the log, scanned as
     * {@link #findEnd} does.
     */
    public End advance(End known) throws CorruptBatchException {
        long first = known.header().firstVersion();
        List<String> listed = keysAfter(first == 0 ? null : layout.objectKey(first - 1));
        boolean truncated = listed.isEmpty() || !listed.get(0).equals(known.key());
        List<String> keys = truncated ? listed : listed.subList(1, listed.size());
        if (keys.isEmpty()) {
            return known;
        }
        if (truncated || keys.size() > 2 * window) {
            return scanNewest(keys).logEnd();
        }
        List<BatchHeader> headers = new ArrayList<>(listed.size());
        headers.add(known.header());
        headers.addAll(readHeaders(keys));
        return walk(listed, headers, 0, truncatedWithoutFloor).logEnd(); // listed: known, then keys
    }

    /**
     * The truncation floor: the highest version a truncation recorded under {@link
     * LogLayout#floorPrefix} before deleting the log objects below it, or 0 with none.
     */
    public long truncationFloor() {
        long floor = 0;
        for (String k : floorRecords(store, layout, timeoutMs)) {
            floor = Math.max(floor, layout.floorOf(k));
        }
        return floor;
    }

    /**
     * The keys of the truncation floor records stored ({@link LogLayout#floorPrefix}), in key
     * order, each listing page awaited at most {@code timeoutMs}: read by recovery and a claim,
     * and by the truncation that writes the next record.
     */
    public static List<String> floorRecords(ObjectStore store, LogLayout layout, long timeoutMs) {
        List<String> keys = new ArrayList<>();
        String token = null;
        do {
            ObjectStore.ListPage page = await(store.list(layout.floorPrefix(), null, token, 1000), timeoutMs);
            for (ObjectStore.Entry e : page.entries()) {
                if (layout.floorOf(e.key()) >= 0) {
                    keys.add(e.key());
                }
            }
            token = page.continuationToken();
        } while (token != null);
        return keys;
    }

    /**
     * The truncation floor, read after a claim landed: tried three times, since a claim left
     * unconfirmed is a term start without a leader, which every standby then waits out.
     */
    private long floorAfterClaim() {
        for (int attempt = 1; ; attempt++) {
            try {
                return truncationFloor();
            } catch (StorageException e) {
                if (attempt == 3 || e.kind() != StorageException.Kind.TRANSIENT) {
                    throw e;
                }
                log.warn("reading the truncation floor after the claim failed ({}); trying again", e.getMessage());
            }
        }
    }

    /**
     * Log objects listed after {@code startAfter} that are at or above the truncation floor, and
     * the keys of those below it.
     */
    private record Listed(List<ObjectStore.Entry> log, List<String> belowFloor) {}

    /**
     * Whether the log listed last was truncated before truncation floors were recorded: no floor
     * stored, yet the log no longer starts at version 0. Only then can a deposed leader's strays in
     * freed names lie above every floor, for the backward walk's term rule to catch
     * ({@link #markUnchained}); a log never truncated has no freed names, and on one with a floor
     * they lie below it. Asked only when that rule is reached (rarely): without a floor, a look
     * that did not list the log from its start would list its oldest key for it.
     */
    private java.util.function.BooleanSupplier truncatedWithoutFloor = () -> false;

    /**
     * Lists the log after {@code startAfter}, then reads the truncation floor and sets aside what
     * lies below it: objects a truncation pass has yet to delete, and objects written after it
     * into names it had freed (a deposed leader's write in flight, or a claim that raced the
     * truncation), which were never acknowledged, however far back they are and whatever they
     * chain into. The floor is read after the listing, and a truncation records it before
     * deleting anything below it: any such write the listing shows was made after a record this
     * read sees. If a truncation passed everything listed meanwhile, the log is listed again from
     * the floor. An empty log above a floor is refused: its versions were used, and a log started
     * again from version 0 would lie wholly below the floor.
     */
    private Listed listLog(String startAfter) {
        List<ObjectStore.Entry> all = listAfter(startAfter);
        long floor = truncationFloor();
        truncatedWithoutFloor = floor > 0 ? () -> false : () -> oldestLogVersion(startAfter, all) > 0;
        int kept = 0;
        while (kept < all.size() && layout.versionOf(all.get(kept).key()) < floor) {
            kept++;
        }
        List<String> below = new ArrayList<>(kept);
        for (ObjectStore.Entry e : all.subList(0, kept)) {
            below.add(e.key());
        }
        List<ObjectStore.Entry> log = all.subList(kept, all.size());
        if (log.isEmpty() && floor > 0 && (startAfter == null || kept > 0)) {
            log = listAfter(layout.objectKey(floor - 1)); // the leader truncated past this listing
            if (log.isEmpty()) {
                throw new StorageException(StorageException.Kind.PERMANENT, 0, layout.floorKey(floor)
                        + ": the log was truncated below version " + floor + ", but no log object at or above it is"
                        + " stored; if the log was deleted on purpose, delete " + layout.floorPrefix()
                        + " too to start a new one", null);
            }
        }
        return new Listed(log, below);
    }

    /**
     * Reads the headers of the newest objects and walks them. The walk starts at the oldest of
     * the newest {@code window} objects, taken to be in the log: holes and orphans of the newest
     * term lie among its last {@code max_in_flight_puts} objects. An older term's orphan can sit
     * anywhere in the next term's first version range, though, so the headers read start
     * {@code window} further back, and the walk never starts at an object of a lower term than
     * one before it ({@link #orphansByTerm}).
     */
    private Scan scanNewest(List<String> keys) throws CorruptBatchException {
        int from = Math.max(0, keys.size() - window);
        int lead = Math.max(0, from - window);
        List<String> readKeys = keys.subList(lead, keys.size());
        return walk(readKeys, readHeaders(readKeys), from - lead, truncatedWithoutFloor);
    }

    /** Walks the chain over {@code headers} from the first object at or after {@code from} that is not an orphan. */
    private static Scan walk(List<String> readKeys, List<BatchHeader> headers, int from,
                             java.util.function.BooleanSupplier truncatedWithoutFloor) {
        boolean[] orphan = orphansByTerm(headers);
        int start = from;
        int firstOfNewest = firstOfNewestTerm(headers);
        if (firstOfNewest > from) {
            // The valid log ends at or past the newest term's first object read (that term began at
            // the end of the log before it): walking from an older object before it could follow
            // objects written after it, in names a truncation had freed (review 17).
            start = firstOfNewest;
        }
        while (start < orphan.length && orphan[start]) {
            start++;
        }
        while (start == orphan.length || orphan[start]) {
            start--; // only orphans from `from` on: the log ends before them (index 0 is never one)
        }
        markUnchained(readKeys, headers, orphan, start, truncatedWithoutFloor);
        int end = start;
        boolean hole = false;
        for (int i = start + 1; i < headers.size(); i++) {
            BatchHeader h = headers.get(i);
            if (orphan[i]) {
                continue;
            }
            BatchHeader last = headers.get(end);
            if (!hole && last.isFollowedBy(h)) {
                end = i;
            } else {
                // past a hole everything was never acknowledged; before one, an object that does
                // not continue the chain is an older term's leftover
                hole |= h.term() >= last.term() && h.firstVersion() > last.lastVersion() + 1;
                orphan[i] = true;
            }
        }
        return new Scan(readKeys, headers, orphan, end);
    }

    /**
     * Marks as orphans the objects read before {@code start} that are certainly not the log: the
     * valid log is one chain, so below its walk's start only its predecessors are the log. An
     * object that does not chain into the object above it ({@code following}) is an orphan if it
     * overlaps that object, or if an object further down chains into {@code following} (then it
     * lies inside that predecessor's range, or between). Otherwise it is the log below a hole:
     * the object between was deleted by hand, or a listing left it out. It and everything below
     * it are taken for the log, as objects older than the headers read are, and nothing more is
     * marked: an orphan is deleted, and deleting acknowledged history because one object is
     * missing lost it for good (audit 22; a missing term start marker too, review 25).
     *
     * <p>One exception, for a log truncated before truncation floors were recorded
     * ({@code truncatedWithoutFloor}): a leader paused or cut off past a newer term's claim and
     * truncation may have landed its writes in flight in the names freed below that term's oldest
     * object, with no floor to name them. Below an object that is not its term's start, a run of
     * at most {@link #MAX_STRAYS} lower-term objects that chains nowhere is marked (a deposed
     * leader has at most max_in_flight_puts writes in flight); below a term start of term
     * {@code w}, one of a term below {@code w - 1} (the log right below {@code w}'s start is of
     * term {@code w - 1}, claims being made at the term after the tail's). A longer run is a
     * hole. Once a pass of this version has truncated the log, it has a floor and this is off.
     *
     * <p>Where two overlapping objects end at the same version and both chain on, the one of the
     * higher term is the predecessor (a deposed leader's write that landed in a freed name below a
     * newer term's object it overlaps), the higher one if their terms are equal.
     */
    private static void markUnchained(List<String> keys, List<BatchHeader> headers, boolean[] orphan, int start,
                                      java.util.function.BooleanSupplier truncatedWithoutFloor) {
        int next = start;
        int i = start - 1;
        while (i >= 0) {
            BatchHeader following = headers.get(next);
            BatchHeader h = headers.get(i);
            if (orphan[i]) {
                i--;
                continue;
            }
            if (!h.isFollowedBy(following)) {
                int below = i - 1;
                while (below >= 0 && (orphan[below] || !headers.get(below).isFollowedBy(following))) {
                    below--;
                }
                if (below >= 0) {
                    for (int k = i; k > below; k--) {
                        orphan[k] = true; // inside the range of the predecessor further down, or between
                    }
                    i = below;
                    continue;
                }
                if (h.lastVersion() >= following.firstVersion()) {
                    // overlaps the object above, and nothing below chains into it (that one is
                    // missing): this object is no part of the log, but those below it are judged
                    // on their own, not marked with it
                    orphan[i] = true;
                    i--;
                    continue;
                }
                // Nothing below chains into following. On a log truncated without a floor, a short
                // run of possible strays reaching down to the oldest header read (the names below
                // them were freed too) is marked; anything else is a hole
                int run = 0;
                while (run <= MAX_STRAYS && i - run >= 0 && possibleStray(headers.get(i - run), following)) {
                    run++;
                }
                if (run <= MAX_STRAYS && i - run < 0 && truncatedWithoutFloor.getAsBoolean()) {
                    for (int k = i; k >= 0; k--) {
                        orphan[k] = true;
                    }
                    return;
                }
                log.error("the log has a hole: {} (versions {}..{}) does not continue into {} (from version {}); the object"
                        + " between is missing (deleted, or left out of the listing). Nothing below it is deleted, and"
                        + " readers replaying across it stop with 'log chain broken': restore the missing object from a"
                        + " backup (docs/operations.md, Backups)", keys.get(i), h.firstVersion(), h.lastVersion(),
                        keys.get(next), following.firstVersion());
                return;
            }
            int pick = i;
            for (int j = i - 1; j >= 0 && headers.get(j).lastVersion() >= headers.get(i).firstVersion(); j--) {
                if (!orphan[j] && headers.get(j).isFollowedBy(following)
                        && headers.get(j).term() > headers.get(pick).term()) {
                    pick = j;
                }
            }
            for (int k = pick + 1; k < next; k++) {
                orphan[k] = true;
            }
            next = pick;
            i = pick - 1;
        }
    }

    /** At most this many strays below a newer term's oldest object are recognised on a log truncated without a floor. */
    static final int MAX_STRAYS = 16;

    /**
     * Whether {@code h}, which does not chain into {@code following}, can be a deposed leader's
     * write into a name freed below it: of a lower term, and below a term start only if of a term
     * older than the one that term followed.
     */
    private static boolean possibleStray(BatchHeader h, BatchHeader following) {
        return following.kind() == BatchHeader.TERM_START ? h.term() < following.term() - 1 : h.term() < following.term();
    }

    /** The index of the first header of the highest term among {@code headers}. */
    private static int firstOfNewestTerm(List<BatchHeader> headers) {
        int first = 0;
        for (int i = 1; i < headers.size(); i++) {
            if (headers.get(i).term() > headers.get(first).term()) {
                first = i;
            }
        }
        return first;
    }

    private List<BatchHeader> readHeaders(List<String> keys) throws CorruptBatchException {
        List<CompletableFuture<byte[]>> reads = new ArrayList<>(keys.size());
        for (String k : keys) {
            reads.add(store.getRange(k, 0, BatchCodec.MAX_HEADER_BYTES));
        }
        List<BatchHeader> headers = new ArrayList<>(keys.size());
        for (int i = 0; i < keys.size(); i++) {
            BatchHeader h = BatchCodec.decodeHeader(keys.get(i), await(reads.get(i)));
            if (h.firstVersion() != layout.versionOf(keys.get(i))) {
                throw new CorruptBatchException(keys.get(i), "header says first version " + h.firstVersion());
            }
            headers.add(h);
        }
        return headers;
    }

    /**
     * Marks the objects (headers in key order) that are certainly orphans: those of a lower term
     * than an object before them. The valid log's terms never decrease with its versions, and
     * every object of a higher term {@code u} lies after the whole valid log of the terms before
     * it (term {@code u} began at its end), so an object of a lower term found after one of term
     * {@code u} was written past that end: never acknowledged. This catches an older term's
     * orphans that a newer term's object covers, wherever they are; an orphan past the end of the
     * newest term's objects (a hole at the tail) is found by walking the chain instead.
     */
    public static boolean[] orphansByTerm(List<BatchHeader> headers) {
        boolean[] orphan = new boolean[headers.size()];
        long highest = Long.MIN_VALUE;
        for (int i = 0; i < orphan.length; i++) {
            long term = headers.get(i).term();
            orphan[i] = term < highest;
            highest = Math.max(highest, term);
        }
        return orphan;
    }

    /**
     * Claims {@code tail.lastVersion() + 1} for a new term by writing its start marker with
     * {@code If-None-Match: *}. Returns the new term.
     */
    public Term claim(Tail tail, String leaderId, Clock clock) throws LostClaimException, CorruptBatchException {
        long version = tail.lastVersion() + 1;
        long newTerm = tail.term() + 1;
        BatchHeader marker = BatchHeader.termStart(newTerm, leaderId, version, tail.lastVersion(), tail.lastTxnVersion(),
                clock.epochMillis());
        byte[] object = BatchCodec.encodeEmpty(marker);
        String key = layout.objectKey(version);
        for (int attempt = 0; ; attempt++) {
            ObjectStore.PutResult r = await(store.putIfAbsent(key, object));
            if (r == ObjectStore.PutResult.CREATED) {
                break;
            }
            ObjectStore.Versioned existing;
            try {
                existing = await(store.getVersioned(key));
            } catch (StorageException e) {
                if (e.kind() == StorageException.Kind.NOT_FOUND && attempt < 5) {
                    continue; // it vanished meanwhile: try again
                }
                throw e;
            }
            if (java.util.Arrays.equals(existing.bytes(), object)) {
                break; // our own marker, written by an attempt whose reply was lost
            }
            BatchHeader other = BatchCodec.decodeHeader(key, existing.bytes());
            boolean continuesTheLog = other.prevVersion() == tail.lastVersion()
                    && other.firstVersion() == tail.lastVersion() + 1 && other.term() >= tail.term();
            if (!continuesTheLog && other.term() < newTerm && attempt < 5) {
                // A leftover that does not continue the log (an older term's write that landed
                // past a hole) was never acknowledged. Replace it atomically, only if it is still
                // that very object: deleting it first could race another writer.
                log.warn("{}: replacing an orphan of older term {} with the claim", key, other.term());
                if (await(store.putIfMatch(key, object, existing.etag())) == ObjectStore.PutResult.CREATED) {
                    break;
                }
                continue; // it changed meanwhile: look again
            }
            // The log grew since we listed it (the previous leader is still writing, and may have
            // acknowledged this object), or another server claimed first: never touch it.
            throw new LostClaimException("version " + version + " was written by leader " + other.leaderId()
                    + " (term " + other.term() + ")" + (continuesTheLog ? ", continuing the log" : ""));
        }
        long floor = floorAfterClaim();
        if (floor > version) {
            // The name was free because a truncation had deleted what was there: the leader that
            // truncated is alive and its log goes on past this version (it wrote the floor before
            // deleting, and this read follows the claim). The marker is a stray below the floor.
            try {
                await(store.delete(List.of(key)));
            } catch (StorageException e) {
                log.warn("{}: could not delete this claim's marker below the truncation floor ({}); readers skip it",
                        key, e.getMessage());
            }
            throw new LostClaimException("version " + version + " lies below the truncation floor " + floor
                    + ": the log's leader truncated past it after this server last listed the log");
        }
        if (!tail.orphans().isEmpty()) {
            // Left in place: readers skip them, this term's writes replace any whose name they
            // need (compare-and-swap), and truncation removes the rest.
            log.info("{} unacknowledged log objects of the previous term ignored: {}", tail.orphans().size(),
                    tail.orphans());
        }
        return new Term(newTerm, leaderId, version, tail.lastTxnVersion());
    }

    /**
     * The orphans that lie inside the valid log's versions (at or below {@code tail}'s end and not
     * the first version of an object of the log): recovery's own, and {@code found} (first
     * versions the request-id rebuild recognised further back). No term writes there again: a new
     * term starts past the end, and every object of the log keeps its name. Left in place, such an
     * orphan is recognised only while it is within a later recovery's windows; past them it would
     * be taken for part of the log. Orphans past the end stay: the new term replaces them by
     * compare-and-swap where it needs their names.
     */
    public List<String> orphansInsideTheLog(Tail tail, long[] found) {
        java.util.TreeSet<String> keys = new java.util.TreeSet<>();
        for (String k : tail.orphans()) {
            if (layout.versionOf(k) <= tail.lastVersion()) {
                keys.add(k);
            }
        }
        for (long first : found) {
            if (first <= tail.lastVersion()) {
                keys.add(layout.objectKey(first));
            }
        }
        return List.copyOf(keys);
    }

    /**
     * True if an object that is not one of {@code tail}'s known orphans now lies past its end: the
     * log moved since {@code tail} was found (its leader was only slow or paused). A claim made
     * anyway could land in a name a truncation freed past the tail, beside a log that went on.
     */
    public boolean movedSince(Tail tail) {
        if (tail.lastVersion() < 0) {
            return !listAfter(null).isEmpty();
        }
        java.util.Set<String> known = new java.util.HashSet<>(tail.orphans());
        for (ObjectStore.Entry e : listAfter(layout.objectKey(tail.lastVersion()))) {
            if (!known.contains(e.key())) {
                return true;
            }
        }
        return false;
    }

    private List<ObjectStore.Entry> listAfter(String startAfter) {
        List<ObjectStore.Entry> keys = new ArrayList<>();
        String token = null;
        do {
            ObjectStore.ListPage page = await(store.list(layout.logPrefix(), startAfter, token, 1000));
            for (ObjectStore.Entry e : page.entries()) {
                if (layout.versionOf(e.key()) >= 0) {
                    if (!keys.isEmpty() && keys.get(keys.size() - 1).key().compareTo(e.key()) >= 0) {
                        // S3 lists each key once, in order; recovery relies on it (audit 22: a
                        // repeated key read as "log index must grow in order", blaming availability)
                        throw new StorageException(StorageException.Kind.TRANSIENT, 0, "storage listed "
                                + e.key() + " after " + keys.get(keys.size() - 1).key() + ": a listing must"
                                + " name each key once, in key order (a proxy or gateway in front of storage?)", null);
                    }
                    keys.add(e);
                }
            }
            token = page.continuationToken();
        } while (token != null);
        return keys;
    }

    /** The first version of the oldest log object, from {@code all} if it was listed from the start. */
    private long oldestLogVersion(String startAfter, List<ObjectStore.Entry> all) {
        if (startAfter == null) {
            return all.isEmpty() ? 0 : layout.versionOf(all.get(0).key());
        }
        for (ObjectStore.Entry e : await(store.list(layout.logPrefix(), null, null, 1)).entries()) {
            return Math.max(0, layout.versionOf(e.key()));
        }
        return 0;
    }

    /** The keys of the log objects after {@code startAfter} at or above the truncation floor. */
    private List<String> keysAfter(String startAfter) {
        return listLog(startAfter).log().stream().map(ObjectStore.Entry::key).toList();
    }

    private <T> T await(CompletableFuture<T> f) {
        return await(f, timeoutMs);
    }

    private static <T> T await(CompletableFuture<T> f, long timeoutMs) {
        try {
            return f.get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(StorageException.Kind.TRANSIENT, 0, "interrupted", e);
        } catch (Exception e) {
            throw StorageException.of(e);
        }
    }
}
