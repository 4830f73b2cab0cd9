package io.weaseldb.http;

import io.weaseldb.config.WeaselConfig;
import io.weaseldb.json.CommitLimits;

/** The HTTP layer's limits and listener, from {@code [server]} and {@code [commit]}. */
public record HttpSettings(
        String host,
        int port,
        int ioThreads,
        long maxRequestSizeBytes,
        long maxInFlightRequestBytes,
        int maxConnections,
        int maxHeaderBytes,
        int maxPipelinedRequests,
        int idleTimeoutSeconds,
        CommitLimits commitLimits,
        long probeTimeoutMs,
        int retryAfterSeconds,
        int headerReadTimeoutMs,
        int bodyReadTimeoutMs,
        int bodyDeadlineMs,
        boolean accessLog,
        WeaselConfig.Security security) {

    public static HttpSettings from(WeaselConfig c) {
        var s = c.server();
        return new HttpSettings(s.host(), s.port(), s.ioThreads(), s.maxRequestSizeBytes(), s.maxInFlightRequestBytes(), s.maxConnections(),
                s.maxHeaderBytes(), s.maxPipelinedRequests(), s.idleTimeoutSeconds(), CommitLimits.from(c.commit()),
                5_000, 1, s.headerReadTimeoutMs(), s.bodyReadTimeoutMs(), s.bodyDeadlineMs(), s.accessLog(), c.security());
    }

    /** Bytes of an oversized body read and discarded before closing, so the client sees the 413. */
    long lingerBytes() {
        return Math.max(1L << 20, 4 * maxRequestSizeBytes);
    }
}
