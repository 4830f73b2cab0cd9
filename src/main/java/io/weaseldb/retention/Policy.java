package io.weaseldb.retention;

/**
 * A retention policy: log data with versions greater than {@code version} is kept while the
 * policy lives. {@code ttlSeconds} and {@code expiresAtMillis} are null for a policy that does
 * not expire.
 */
public record Policy(String policyId, long version, Long ttlSeconds, Long expiresAtMillis, long updatedAtMillis) {

    public boolean expired(long nowMillis) {
        return expiresAtMillis != null && expiresAtMillis <= nowMillis;
    }

    /** 1 to 128 characters of {@code [A-Za-z0-9._-]}. */
    public static boolean validId(String id) {
        if (id == null || id.isEmpty() || id.length() > 128) {
            return false;
        }
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}
