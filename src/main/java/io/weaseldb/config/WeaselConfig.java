package io.weaseldb.config;

import java.nio.file.Path;
import java.util.List;

/**
 * The whole server configuration: immutable, validated once at startup by {@link ConfigLoader}.
 * Field names match the TOML keys (camelCase here, snake_case in the file); units are in the name.
 * {@code config/weaseldb.toml} documents every key with its default.
 */
public record WeaselConfig(
        Server server,
        Commit commit,
        Persistence persistence,
        S3 s3,
        Subscription subscription,
        Retention retention,
        Security security) {

    /** {@code [server]}: the HTTP listener and its limits. */
    public record Server(
            String host,
            int port,
            int ioThreads,
            long maxRequestSizeBytes,
            long maxInFlightRequestBytes,
            int maxConnections,
            int maxHeaderBytes,
            int maxPipelinedRequests,
            int idleTimeoutSeconds,
            int shutdownGraceMs,
            String advertiseUrl,
            int headerReadTimeoutMs,
            int bodyReadTimeoutMs,
            int bodyDeadlineMs,
            boolean accessLog) {

        /** The URL other servers and clients are told to use for this one ({@code https} when it serves TLS). */
        public String url(int boundPort, boolean tls) {
            if (!advertiseUrl.isEmpty()) {
                return advertiseUrl;
            }
            // an IPv6 literal goes in brackets (RFC 3986), or the port reads as part of it
            String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
            return (tls ? "https://" : "http://") + h + ":" + boundPort;
        }
    }

    /** {@code [commit]}: request validation, request ids and the conflict window. */
    public record Commit(
            int minRequestIdLength,
            int maxRequestIdLength,
            int maxKeyBytes,
            int maxPreconditions,
            int maxOperations,
            long conflictWindowMs,
            int requestIdRetentionHours,
            long requestIdRetentionVersions,
            int maxPendingCommits) {}

    /** {@code [persistence]}: batching of the log and the retry budget for S3 writes. */
    public record Persistence(
            long batchTimeoutMs,
            long batchMaxBytes,
            int maxInFlightPuts,
            long retryInitialBackoffMs,
            long retryMaxBackoffMs,
            long retryBudgetMs,
            long leaderHeartbeatMs,
            long leaderTimeoutMs) {}

    /**
     * {@code [s3]}: where the log lives. An empty {@code endpoint} starts the in-process fake S3
     * storing under {@code dataDir}.
     */
    public record S3(
            String endpoint,
            String region,
            String bucket,
            String prefix,
            String accessKeyId,
            String secretAccessKey,
            boolean createBucket,
            long requestTimeoutMs,
            int maxConnections,
            Path dataDir,
            boolean fsync,
            String fakeLayout,
            int fakePort,
            List<String> fakeFaults,
            boolean fakeOverHttp) {

        public boolean embedded() {
            return endpoint.isEmpty();
        }

        /** As a record's, without the secret key: a configuration printed in a log or a test failure must not leak it. */
        @Override
        public String toString() {
            return "S3[endpoint=" + endpoint + ", region=" + region + ", bucket=" + bucket + ", prefix=" + prefix
                    + ", accessKeyId=" + accessKeyId + ", secretAccessKey=" + (secretAccessKey.isEmpty() ? "" : "(set)")
                    + ", createBucket=" + createBucket + ", requestTimeoutMs=" + requestTimeoutMs + ", maxConnections="
                    + maxConnections + ", dataDir=" + dataDir + ", fsync=" + fsync + ", fakeLayout=" + fakeLayout + ", fakePort=" + fakePort
                    + ", fakeFaults=" + fakeFaults + ", fakeOverHttp=" + fakeOverHttp + "]";
        }
    }

    /** {@code [subscription]}: the SSE stream. */
    public record Subscription(
            long maxBufferSizeBytes,
            int keepaliveIntervalSeconds,
            int maxSubscribers,
            int historyReadAheadBatches,
            long memoryWindowBytes,
            long historyMemoryBytes) {}

    /** {@code [retention]}: log truncation. */
    public record Retention(int truncateIntervalSeconds, int maxDeletesPerRequest) {}

    /** What a bearer token may do. */
    public enum Role { COMMIT, SUBSCRIBE, ADMIN }

    /** A bearer token: known only by its SHA-256, never stored or logged in the clear. */
    public record Token(String name, byte[] sha256, java.util.Set<Role> roles) {}

    /**
     * {@code [security]}: bearer tokens with roles (none: no authentication), and TLS from PEM
     * files (both empty: plain HTTP).
     */
    public record Security(List<Token> tokens, Path tlsCertFile, Path tlsKeyFile) {
        public boolean authenticate() {
            return !tokens.isEmpty();
        }

        public boolean tls() {
            return tlsCertFile != null;
        }
    }
}
