package io.weaseldb.json;

import io.weaseldb.config.WeaselConfig;

/** The validation limits the commit parser enforces (from {@code [commit]}). */
public record CommitLimits(
        int minRequestIdLength,
        int maxRequestIdLength,
        int maxKeyBytes,
        int maxPreconditions,
        int maxOperations) {

    /**
     * A request id's length as the limits count it: in characters (Unicode code points), as the
     * API and JSON Schema's {@code minLength} do, not in UTF-16 units (an emoji is one, not two).
     */
    public static int idLength(String requestId) {
        return requestId.codePointCount(0, requestId.length());
    }

    public static CommitLimits from(WeaselConfig.Commit c) {
        return new CommitLimits(c.minRequestIdLength(), c.maxRequestIdLength(), c.maxKeyBytes(),
                c.maxPreconditions(), c.maxOperations());
    }
}
