package io.weaseldb.log;

/**
 * The header of one log object ({@code log/<20-digit firstVersion>}). See {@code docs/log-format.md}.
 *
 * @param kind           {@link #DATA} (transactions {@code firstVersion..lastVersion}) or
 *                       {@link #TERM_START} (a marker that claims version {@code firstVersion} for a
 *                       new leader term and holds no transaction)
 * @param term           the leader term that wrote the object; terms only grow along the log
 * @param leaderId       the writing leader's id (opaque, unique per term)
 * @param prevVersion    {@code lastVersion} of the previous object in the log, -1 for the first;
 *                       links the objects into a chain so readers can tell orphans from the log
 * @param prevTxnVersion version of the last transaction before this object, -1 if none; the
 *                       {@code prev_version} of this object's first transaction
 * @param count          number of transactions (0 for a term start)
 */
public record BatchHeader(
        int kind,
        long term,
        String leaderId,
        long firstVersion,
        long lastVersion,
        long prevVersion,
        long prevTxnVersion,
        long timestampMillis,
        int count) {

    public static final int DATA = 0;
    public static final int TERM_START = 1;

    public BatchHeader {
        if (kind != DATA && kind != TERM_START) {
            throw new IllegalArgumentException("unknown batch kind " + kind);
        }
        if (kind == TERM_START && (count != 0 || firstVersion != lastVersion)) {
            throw new IllegalArgumentException("a term start holds no transaction and claims one version");
        }
        if (kind == DATA && (count <= 0 || lastVersion - firstVersion + 1 != count)) {
            throw new IllegalArgumentException("a data batch holds consecutive versions " + firstVersion + ".." + lastVersion
                    + " but count is " + count);
        }
        if (prevVersion >= firstVersion || prevTxnVersion >= firstVersion) {
            throw new IllegalArgumentException("previous versions must precede " + firstVersion);
        }
    }

    /** Whether {@code next} directly follows this object in a valid log. */
    public boolean isFollowedBy(BatchHeader next) {
        return next.prevVersion == lastVersion && next.firstVersion == lastVersion + 1 && next.term >= term;
    }

    /** Version of the last transaction up to and including this object. */
    public long lastTxnVersion() {
        return kind == DATA ? lastVersion : prevTxnVersion;
    }
}
