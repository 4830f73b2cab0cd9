package io.weaseldb.log;

/**
 * The header of one log object ({@code log/<20-digit firstVersion>}). Layout in
 * {@code docs/log-format.md}.
 *
 * <p>An object covers versions {@code firstVersion..lastVersion}, all consecutive with the
 * previous object's. Each version holds either one transaction or nothing (a marker: the start
 * of a term, a heartbeat, or a version taken to record status answers while no commit was in
 * flight). Objects may also record request ids that {@code /v1/status} declared never to commit
 * ("bans"), so that promise survives restarts and leader changes.
 *
 * @param kind           {@link #DATA}; {@link #TERM_START} for the marker that claims a new
 *                       term's first version (it holds no transaction); {@link #TERM_END} for the
 *                       last object of a term whose leader shut down cleanly
 * @param term           the leader term that wrote the object; terms only grow along the log
 * @param leaderId       the writing leader's id (opaque, unique per term)
 * @param prevVersion    {@code lastVersion} of the previous object in the log, -1 for the first;
 *                       links the objects into a chain so readers can tell orphans from the log
 * @param prevTxnVersion version of the last transaction before this object, -1 if none; the
 *                       {@code prev_version} of this object's first transaction
 * @param lastTxnVersion version of the last transaction up to and including this object
 * @param count          transactions in the object (at most the number of versions it covers)
 * @param banCount       request ids banned by this object
 */
public record BatchHeader(
        int kind,
        long term,
        String leaderId,
        long firstVersion,
        long lastVersion,
        long prevVersion,
        long prevTxnVersion,
        long lastTxnVersion,
        long timestampMillis,
        int count,
        int banCount) {

    public static final int DATA = 0;
    public static final int TERM_START = 1;
    /** The last object of a term whose leader stepped down cleanly: a successor need not wait. */
    public static final int TERM_END = 2;

    public BatchHeader {
        if (kind != DATA && kind != TERM_START && kind != TERM_END) {
            throw new IllegalArgumentException("unknown batch kind " + kind);
        }
        if (lastVersion < firstVersion || firstVersion < 0) {
            throw new IllegalArgumentException("invalid version range " + firstVersion + ".." + lastVersion);
        }
        if (count < 0 || count > lastVersion - firstVersion + 1 || banCount < 0) {
            throw new IllegalArgumentException("count " + count + " does not fit versions " + firstVersion + ".." + lastVersion);
        }
        if (kind == TERM_START && (count != 0 || firstVersion != lastVersion)) {
            throw new IllegalArgumentException("a term start holds no transaction and claims one version");
        }
        if (prevVersion != firstVersion - 1 && prevVersion != -1 && prevVersion >= firstVersion) {
            throw new IllegalArgumentException("previous version must precede " + firstVersion);
        }
        if (prevTxnVersion >= firstVersion) {
            throw new IllegalArgumentException("previous transaction must precede " + firstVersion);
        }
        if (count == 0 ? lastTxnVersion != prevTxnVersion
                : lastTxnVersion < firstVersion || lastTxnVersion > lastVersion) {
            throw new IllegalArgumentException("last transaction version " + lastTxnVersion + " is inconsistent");
        }
    }

    /** A term start marker. */
    public static BatchHeader termStart(long term, String leaderId, long version, long prevVersion, long prevTxnVersion,
                                        long timestampMillis) {
        return new BatchHeader(TERM_START, term, leaderId, version, version, prevVersion, prevTxnVersion,
                prevTxnVersion, timestampMillis, 0, 0);
    }

    /** Whether {@code next} directly follows this object in a valid log. */
    public boolean isFollowedBy(BatchHeader next) {
        return next.prevVersion == lastVersion && next.firstVersion == lastVersion + 1 && next.term >= term;
    }
}
