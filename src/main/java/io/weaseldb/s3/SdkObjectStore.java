package io.weaseldb.s3;

import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkServiceException;
import software.amazon.awssdk.http.async.SdkAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * {@link ObjectStore} over aws-sdk-java-v2's async S3 client (Netty NIO HTTP client), path-style
 * with an endpoint override so it works against any S3-compatible server.
 *
 * <p>Writes go through a client with SDK retries disabled: the persister owns retry, backoff and
 * the in-flight bound, and must see every conditional-write outcome itself. Reads, listings and
 * deletes use the SDK's standard retries. Checksums are computed only when an operation requires
 * them, the setting that works across S3 implementations (see shared/notes/s3-servers.md);
 * log objects carry their own CRC32C.
 *
 * <p>Thread-safe. Completions run on SDK threads.
 */
public final class SdkObjectStore implements ObjectStore {
    private final SdkAsyncHttpClient http;
    private final S3AsyncClient writer;
    private final S3AsyncClient reader;
    private final String bucket;
    private final StoreMetrics metrics;

    public record Settings(
            URI endpoint,
            String region,
            String bucket,
            String accessKeyId,
            String secretAccessKey,
            Duration requestTimeout,
            int maxConnections) {}

    public SdkObjectStore(Settings s, MeterRegistry registry) {
        this.bucket = s.bucket();
        this.metrics = new StoreMetrics(registry);
        this.http = NettyNioAsyncHttpClient.builder()
                .maxConcurrency(s.maxConnections())
                .maxPendingConnectionAcquires(10_000)
                .connectionTimeout(Duration.ofSeconds(5))
                .connectionAcquisitionTimeout(s.requestTimeout())
                .build();
        AwsCredentialsProvider credentials = s.accessKeyId().isEmpty()
                ? DefaultCredentialsProvider.builder().build()
                : StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKeyId(), s.secretAccessKey()));
        this.writer = client(s, credentials, false);
        this.reader = client(s, credentials, true);
    }

    private S3AsyncClient client(Settings s, AwsCredentialsProvider credentials, boolean retries) {
        return S3AsyncClient.builder()
                .httpClient(http)
                .endpointOverride(s.endpoint())
                .region(Region.of(s.region()))
                .forcePathStyle(true)
                .credentialsProvider(credentials)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .overrideConfiguration(o -> {
                    o.apiCallTimeout(s.requestTimeout());
                    o.retryStrategy(retries ? AwsRetryStrategy.standardRetryStrategy() : AwsRetryStrategy.doNotRetry());
                })
                .build();
    }

    @Override
    public CompletableFuture<PutResult> putIfAbsent(String key, byte[] body) {
        long start = System.nanoTime();
        return writer.putObject(b -> b.bucket(bucket).key(key).ifNoneMatch("*").contentLength((long) body.length),
                        AsyncRequestBody.fromBytesUnsafe(body))
                .handle((r, t) -> {
                    if (t == null) {
                        record("put", "ok", start);
                        return PutResult.CREATED;
                    }
                    StorageException e = classify(t, key);
                    int status = e.statusCode();
                    if (status == 412 || status == 409) {
                        // 412 PreconditionFailed, or 409 ConditionalRequestConflict on a concurrent race
                        record("put", "exists", start);
                        return PutResult.ALREADY_EXISTS;
                    }
                    fail("put", e, start);
                    throw e;
                });
    }

    @Override
    public CompletableFuture<PutResult> putIfMatch(String key, byte[] body, String etag) {
        long start = System.nanoTime();
        return writer.putObject(b -> b.bucket(bucket).key(key).ifMatch(etag).contentLength((long) body.length),
                        AsyncRequestBody.fromBytesUnsafe(body))
                .handle((r, t) -> {
                    if (t == null) {
                        record("put", "ok", start);
                        return PutResult.CREATED;
                    }
                    StorageException e = classify(t, key);
                    if (e.statusCode() == 412 || e.statusCode() == 409 || e.statusCode() == 404) {
                        record("put", "exists", start);
                        return PutResult.ALREADY_EXISTS;
                    }
                    fail("put", e, start);
                    throw e;
                });
    }

    @Override
    public CompletableFuture<Versioned> getVersioned(String key) {
        long start = System.nanoTime();
        return observe("get", key, start, reader.getObject(b -> b.bucket(bucket).key(key), AsyncResponseTransformer.toBytes()),
                r -> new Versioned(r.asByteArrayUnsafe(), r.response().eTag()));
    }

    @Override
    public CompletableFuture<Void> put(String key, byte[] body) {
        long start = System.nanoTime();
        return observe("put", key, start, writer.putObject(b -> b.bucket(bucket).key(key).contentLength((long) body.length),
                AsyncRequestBody.fromBytesUnsafe(body)), r -> null);
    }

    @Override
    public CompletableFuture<byte[]> get(String key) {
        long start = System.nanoTime();
        return observe("get", key, start, reader.getObject(b -> b.bucket(bucket).key(key), AsyncResponseTransformer.toBytes()),
                ResponseBytes::asByteArrayUnsafe);
    }

    @Override
    public CompletableFuture<byte[]> getRange(String key, long offset, int length) {
        long start = System.nanoTime();
        String range = "bytes=" + offset + "-" + (offset + length - 1);
        return observe("get", key, start,
                reader.getObject(b -> b.bucket(bucket).key(key).range(range), AsyncResponseTransformer.toBytes()),
                ResponseBytes::asByteArrayUnsafe);
    }

    @Override
    public CompletableFuture<ListPage> list(String prefix, String startAfter, String continuationToken, int maxKeys) {
        long start = System.nanoTime();
        return observe("list", prefix, start, reader.listObjectsV2(b -> {
            b.bucket(bucket).prefix(prefix).maxKeys(maxKeys);
            if (continuationToken != null) {
                b.continuationToken(continuationToken);
            } else if (startAfter != null) {
                b.startAfter(startAfter);
            }
        }), r -> {
            List<Entry> entries = new ArrayList<>(r.contents().size());
            for (S3Object o : r.contents()) {
                entries.add(new Entry(o.key(), o.size() == null ? -1 : o.size(), o.eTag()));
            }
            boolean more = Boolean.TRUE.equals(r.isTruncated());
            return new ListPage(entries, more ? r.nextContinuationToken() : null);
        });
    }

    @Override
    public CompletableFuture<Void> delete(List<String> keys) {
        if (keys.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        if (keys.size() > 1000) {
            throw new IllegalArgumentException("at most 1000 keys per delete");
        }
        long start = System.nanoTime();
        List<ObjectIdentifier> ids = new ArrayList<>(keys.size());
        for (String k : keys) {
            ids.add(ObjectIdentifier.builder().key(k).build());
        }
        return reader.deleteObjects(b -> b.bucket(bucket).delete(Delete.builder().objects(ids).quiet(true).build()))
                .handle((r, t) -> {
                    if (t != null) {
                        StorageException e = classify(t, keys.get(0));
                        fail("delete", e, start);
                        throw e;
                    }
                    if (r.hasErrors() && !r.errors().isEmpty()) {
                        var err = r.errors().get(0);
                        StorageException e = new StorageException(StorageException.Kind.TRANSIENT, 500,
                                "delete of " + err.key() + " failed: " + err.code() + " " + err.message(), null);
                        fail("delete", e, start);
                        throw e;
                    }
                    record("delete", "ok", start);
                    return null;
                });
    }

    @Override
    public CompletableFuture<Void> ensureBucket(boolean create) {
        return reader.headBucket(b -> b.bucket(bucket)).handle((r, t) -> {
            if (t == null) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            StorageException e = classify(t, bucket);
            if (e.kind() == StorageException.Kind.NOT_FOUND && create) {
                return reader.createBucket(b -> b.bucket(bucket)).handle((cr, ct) -> {
                    if (ct != null) {
                        StorageException ce = classify(ct, bucket);
                        if (ce.statusCode() != 409) { // BucketAlreadyOwnedByYou: someone created it meanwhile
                            throw ce;
                        }
                    }
                    return (Void) null;
                });
            }
            if (e.kind() == StorageException.Kind.NOT_FOUND) {
                throw new StorageException(StorageException.Kind.PERMANENT, 404,
                        "bucket " + bucket + " does not exist (set [s3].create_bucket = true to create it)", e);
            }
            throw e;
        }).thenCompose(f -> f);
    }

    @Override
    public void close() {
        writer.close();
        reader.close();
        http.close();
    }

    /**
     * The common shape of a call: {@code op} started at {@code startNanos} is recorded as ok or
     * failed, and an SDK failure becomes a {@link StorageException} naming {@code key}.
     */
    private <R, T> CompletableFuture<T> observe(String op, String key, long startNanos, CompletableFuture<R> call,
                                                 Function<R, T> onSuccess) {
        return call.handle((r, t) -> {
            if (t != null) {
                StorageException e = classify(t, key);
                fail(op, e, startNanos);
                throw e;
            }
            record(op, "ok", startNanos);
            return onSuccess.apply(r);
        });
    }

    private void record(String op, String outcome, long startNanos) {
        metrics.record(op, outcome, startNanos);
    }

    private void fail(String op, StorageException e, long startNanos) {
        metrics.fail(op, e, startNanos);
    }

    static StorageException classify(Throwable t, String key) {
        Throwable c = t;
        while ((c instanceof java.util.concurrent.CompletionException) && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof StorageException s) {
            return s;
        }
        if (c instanceof SdkServiceException se) {
            int status = se.statusCode();
            StorageException.Kind kind;
            if (status == 404) {
                kind = StorageException.Kind.NOT_FOUND;
            } else if (status >= 500 || status == 429 || status == 408 || se.isThrottlingException()) {
                kind = StorageException.Kind.TRANSIENT;
            } else {
                kind = StorageException.Kind.PERMANENT;
            }
            return new StorageException(kind, status, key + ": " + status + " " + se.getMessage(), se);
        }
        if (c instanceof SdkClientException) {
            return new StorageException(StorageException.Kind.TRANSIENT, 0, key + ": " + c.getMessage(), c);
        }
        return new StorageException(StorageException.Kind.TRANSIENT, 0, key + ": " + c, c);
    }
}
