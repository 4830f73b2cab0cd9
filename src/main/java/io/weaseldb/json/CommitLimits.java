package io.weaseldb.json;

import io.weaseldb.config.WeaselConfig;

/** The validation limits the commit parser enforces (from {@code [commit]}). */
public record CommitLimits(
        int minRequestIdLength,
        int maxRequestIdLength,
        int maxKeyBytes,
        int maxPreconditions,
        int maxOperations) {

    public static CommitLimits from(WeaselConfig.Commit c) {
        return new CommitLimits(c.minRequestIdLength(), c.maxRequestIdLength(), c.maxKeyBytes(),
                c.maxPreconditions(), c.maxOperations());
    }
}
