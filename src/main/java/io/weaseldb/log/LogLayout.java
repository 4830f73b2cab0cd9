package io.weaseldb.log;

/**
 * Object names under the configured prefix: {@code log/<20-digit first version>} for log
 * objects (zero-padded so key order is version order), {@code retention/<policy_id>} for policies,
 * {@code leader/<20-digit term>} for leader records and {@code truncated/<20-digit version>} for
 * the truncation floor.
 */
public record LogLayout(String prefix) {
    private static final int DIGITS = 20;

    public String logPrefix() {
        return prefix + "log/";
    }

    public String objectKey(long firstVersion) {
        if (firstVersion < 0) {
            throw new IllegalArgumentException("negative version " + firstVersion);
        }
        String digits = Long.toString(firstVersion);
        StringBuilder sb = new StringBuilder(prefix.length() + 4 + DIGITS);
        sb.append(prefix).append("log/");
        for (int i = digits.length(); i < DIGITS; i++) {
            sb.append('0');
        }
        return sb.append(digits).toString();
    }

    /** The first version a log object key names, or -1 if {@code key} is not a log object key. */
    public long versionOf(String key) {
        return numberAfter(logPrefix(), key);
    }

    private static long numberAfter(String lp, String key) {
        if (!key.startsWith(lp) || key.length() != lp.length() + DIGITS) {
            return -1;
        }
        long v = 0;
        for (int i = lp.length(); i < key.length(); i++) {
            char c = key.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            int digit = c - '0';
            if (v > (Long.MAX_VALUE - digit) / 10) {
                return -1; // past Long.MAX_VALUE (a check for a negative result misses 2^64 + 1, which wraps to 1)
            }
            v = v * 10 + digit;
        }
        return v;
    }

    /**
     * Where truncation records how far it deletes, before it deletes anything: every log object
     * whose first version is below the highest such record was deleted or is to be, so one found
     * there was written after the truncation, into a freed name, and is no part of the log.
     */
    public String floorPrefix() {
        return prefix + "truncated/";
    }

    public String floorKey(long version) {
        return floorPrefix() + String.format("%020d", version);
    }

    /** The version a truncation floor key names, or -1 if {@code key} is not one. */
    public long floorOf(String key) {
        return numberAfter(floorPrefix(), key);
    }

    public String leaderPrefix() {
        return prefix + "leader/";
    }

    /** Where the leader of {@code term} records itself (zero-padded: key order is term order). */
    public String leaderKey(long term) {
        return leaderPrefix() + String.format("%020d", term);
    }

    public String retentionPrefix() {
        return prefix + "retention/";
    }
}
