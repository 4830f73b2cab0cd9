package io.weaseldb.fakes3;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Immutable configuration of a {@link FakeS3Server}, validated once in the constructor with a
 * message naming the offending field.
 *
 * @param host           interface to bind, e.g. {@code 127.0.0.1}
 * @param port           TCP port; {@code 0} picks a free ephemeral port
 * @param dataDir        directory for the {@link DirectoryBackend}; {@code null} keeps objects in
 *                       memory ({@link MemoryBackend})
 * @param fsync          whether the directory backend fsyncs files and directories before
 *                       answering; only tests that do not care about power loss turn it off
 * @param layout         how a new data directory stores objects; one that holds data keeps its
 *                       own ({@link DataLayout#detect})
 * @param accessKey      access key id clients must sign with; {@code null} together with
 *                       {@code secretKey} accepts any (or no) signature
 * @param secretKey      secret key matching {@code accessKey}
 * @param buckets        buckets created at startup if they do not exist
 * @param maxObjectBytes largest accepted object body; larger uploads get 400 EntityTooLarge
 * @param maxConnections open connections beyond this are closed on accept
 * @param ioThreads      Netty event loop threads
 * @param faults         fault rules active from the start (more can be added at runtime)
 * @param seed           seed of the fault injector's random generator, for reproducible runs
 */
public record FakeS3Config(
        String host,
        int port,
        Path dataDir,
        boolean fsync,
        DataLayout layout,
        String accessKey,
        String secretKey,
        List<String> buckets,
        long maxObjectBytes,
        int maxConnections,
        int ioThreads,
        List<FaultRule> faults,
        long seed) {

    /** S3's own single-PUT limit is 5 GiB; the product's batches are far smaller. */
    public static final long DEFAULT_MAX_OBJECT_BYTES = 64L * 1024 * 1024;
    public static final int DEFAULT_MAX_CONNECTIONS = 1024;
    public static final int DEFAULT_IO_THREADS = 2;
    public static final long DEFAULT_SEED = 0x5EED_F00DL;

    public FakeS3Config {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(layout, "layout");
        if (host.isBlank()) {
            throw new IllegalArgumentException("host must not be blank");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in 0..65535, got " + port);
        }
        if ((accessKey == null) != (secretKey == null)) {
            throw new IllegalArgumentException(
                    "accessKey and secretKey must be set together (both null accepts any signature)");
        }
        if (accessKey != null && (accessKey.isBlank() || secretKey.isEmpty())) {
            throw new IllegalArgumentException("accessKey and secretKey must not be empty");
        }
        buckets = List.copyOf(Objects.requireNonNull(buckets, "buckets"));
        for (String bucket : buckets) {
            String problem = BucketNames.problem(bucket);
            if (problem != null) {
                throw new IllegalArgumentException("buckets: invalid bucket name '" + bucket + "': " + problem);
            }
        }
        if (maxObjectBytes <= 0 || maxObjectBytes > Integer.MAX_VALUE - 8) {
            // Bodies are buffered in one byte[] before they are stored, hence the int bound.
            throw new IllegalArgumentException(
                    "maxObjectBytes must be in 1.." + (Integer.MAX_VALUE - 8) + ", got " + maxObjectBytes);
        }
        if (maxConnections <= 0) {
            throw new IllegalArgumentException("maxConnections must be positive, got " + maxConnections);
        }
        if (ioThreads <= 0) {
            throw new IllegalArgumentException("ioThreads must be positive, got " + ioThreads);
        }
        faults = List.copyOf(Objects.requireNonNull(faults, "faults"));
    }

    /** In-memory server on an ephemeral port of 127.0.0.1, no credentials, no buckets. */
    public static FakeS3Config defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Whether clients must sign their requests with {@link #accessKey()}/{@link #secretKey()}. */
    public boolean authenticationEnabled() {
        return accessKey != null;
    }

    /** A builder starting from these values. */
    public Builder toBuilder() {
        Builder b = new Builder()
                .host(host).port(port).dataDir(dataDir).fsync(fsync).layout(layout)
                .maxObjectBytes(maxObjectBytes).maxConnections(maxConnections).ioThreads(ioThreads).seed(seed);
        b.accessKey = accessKey;
        b.secretKey = secretKey;
        b.buckets.addAll(buckets);
        b.faults.addAll(faults);
        return b;
    }

    @Override
    public String toString() {
        // Never print the secret.
        return "FakeS3Config[host=" + host + ", port=" + port + ", dataDir=" + dataDir + ", fsync=" + fsync + ", layout=" + layout
                + ", accessKey=" + accessKey + ", secretKey=" + (secretKey == null ? null : "***")
                + ", buckets=" + buckets + ", maxObjectBytes=" + maxObjectBytes
                + ", maxConnections=" + maxConnections + ", ioThreads=" + ioThreads
                + ", faults=" + faults + ", seed=" + seed + "]";
    }

    /** Mutable builder; not thread-safe. Validation happens in {@link #build()}. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = 0;
        private Path dataDir = null;
        private boolean fsync = true;
        private DataLayout layout = DataLayout.SEGMENTS;
        private String accessKey = null;
        private String secretKey = null;
        private final List<String> buckets = new ArrayList<>();
        private long maxObjectBytes = DEFAULT_MAX_OBJECT_BYTES;
        private int maxConnections = DEFAULT_MAX_CONNECTIONS;
        private int ioThreads = DEFAULT_IO_THREADS;
        private final List<FaultRule> faults = new ArrayList<>();
        private long seed = DEFAULT_SEED;

        private Builder() {}

        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Store objects under {@code dir}; {@code null} means in memory. */
        public Builder dataDir(Path dir) {
            this.dataDir = dir;
            return this;
        }

        public Builder memory() {
            this.dataDir = null;
            return this;
        }

        public Builder fsync(boolean fsync) {
            this.fsync = fsync;
            return this;
        }

        /** How a new data directory stores objects (default {@link DataLayout#SEGMENTS}). */
        public Builder layout(DataLayout layout) {
            this.layout = layout;
            return this;
        }

        public Builder credentials(String accessKey, String secretKey) {
            this.accessKey = accessKey;
            this.secretKey = secretKey;
            return this;
        }

        public Builder bucket(String bucket) {
            this.buckets.add(bucket);
            return this;
        }

        public Builder buckets(List<String> buckets) {
            this.buckets.clear();
            this.buckets.addAll(buckets);
            return this;
        }

        public Builder maxObjectBytes(long maxObjectBytes) {
            this.maxObjectBytes = maxObjectBytes;
            return this;
        }

        public Builder maxConnections(int maxConnections) {
            this.maxConnections = maxConnections;
            return this;
        }

        public Builder ioThreads(int ioThreads) {
            this.ioThreads = ioThreads;
            return this;
        }

        public Builder fault(FaultRule rule) {
            this.faults.add(Objects.requireNonNull(rule, "rule"));
            return this;
        }

        public Builder faults(List<FaultRule> rules) {
            this.faults.clear();
            this.faults.addAll(rules);
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public FakeS3Config build() {
            return new FakeS3Config(host, port, dataDir, fsync, layout, accessKey, secretKey, buckets,
                    maxObjectBytes, maxConnections, ioThreads, faults, seed);
        }
    }
}
