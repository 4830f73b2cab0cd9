package io.weaseldb.fakes3;

import java.util.Objects;

/**
 * One page request of a listing.
 *
 * @param prefix     only keys starting with this
 * @param delimiter  if not empty, keys containing it after the prefix are rolled up into common
 *                   prefixes
 * @param startAfter only keys strictly after this in UTF-8 binary order; empty for none
 * @param maxKeys    at most this many keys plus common prefixes (0..1000)
 */
public record ListQuery(String prefix, String delimiter, String startAfter, int maxKeys) {
    public static final int MAX_KEYS = 1000;

    public ListQuery {
        Objects.requireNonNull(prefix, "prefix");
        Objects.requireNonNull(delimiter, "delimiter");
        Objects.requireNonNull(startAfter, "startAfter");
        if (maxKeys < 0 || maxKeys > MAX_KEYS) {
            throw new IllegalArgumentException("maxKeys must be in 0.." + MAX_KEYS + ", got " + maxKeys);
        }
    }

    public static ListQuery prefix(String prefix) {
        return new ListQuery(prefix, "", "", MAX_KEYS);
    }
}
