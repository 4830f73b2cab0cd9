package io.weaseldb;

import io.weaseldb.fakes3.ListQuery;
import io.weaseldb.fakes3.ObjectAttributes;
import io.weaseldb.fakes3.ObjectBackend;
import io.weaseldb.fakes3.ObjectInfo;
import io.weaseldb.fakes3.PutCondition;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import io.weaseldb.s3.StoreMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The embedded default's storage: the fake S3's own backend called in-process, with the same
 * semantics as over HTTP (atomic conditional writes, fsync before answering) but without an HTTP
 * hop, request signing and the AWS SDK's per-request pipeline, which profiling showed cost more
 * CPU per log write than everything else in a commit. The fake S3 still listens on its URL for
 * other tools; servers that share storage use an S3 endpoint and the SDK.
 *
 * <p>Thread-safe. Storage calls run on a bounded pool of I/O threads (they fsync), never on the
 * caller's thread; completions run on those threads.
 */
final class EmbeddedObjectStore implements ObjectStore {
    private final ObjectBackend backend;
    private final String bucket;
    private final StoreMetrics metrics;
    private final ThreadPoolExecutor io;

    EmbeddedObjectStore(ObjectBackend backend, String bucket, int threads, StoreMetrics metrics) {
        this.backend = backend;
        this.bucket = bucket;
        this.metrics = metrics;
        this.io = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(4096), r -> {
            Thread t = new Thread(r, "weaseldb-storage-io");
            t.setDaemon(true);
            return t;
        });
    }

    private <T> CompletableFuture<T> run(String op, String key, Supplier<T> call) {
        CompletableFuture<T> f = new CompletableFuture<>();
        long start = System.nanoTime();
        try {
            io.execute(() -> {
                try {
                    T result = call.get();
                    metrics.record(op, result == PutResult.ALREADY_EXISTS ? "exists" : "ok", start);
                    f.complete(result);
                } catch (StorageException e) {
                    metrics.fail(op, e, start);
                    f.completeExceptionally(e);
                } catch (RuntimeException e) {
                    StorageException se = new StorageException(StorageException.Kind.TRANSIENT, 500, key + ": " + e, e);
                    metrics.fail(op, se, start);
                    f.completeExceptionally(se);
                }
            });
        } catch (RejectedExecutionException e) {
            f.completeExceptionally(new StorageException(StorageException.Kind.TRANSIENT, 503,
                    "storage I/O queue full", e));
        }
        return f;
    }

    private static StorageException noBucket(String bucket) {
        return new StorageException(StorageException.Kind.PERMANENT, 404, "bucket " + bucket + " does not exist", null);
    }

    private PutResult put(String key, byte[] body, PutCondition condition) {
        return switch (backend.put(bucket, key, body, ObjectAttributes.DEFAULT, condition)) {
            case ObjectBackend.PutResult.Stored s -> PutResult.CREATED;
            case ObjectBackend.PutResult.PreconditionFailed p -> PutResult.ALREADY_EXISTS;
            case ObjectBackend.PutResult.NoSuchBucket n -> throw noBucket(bucket);
        };
    }

    @Override
    public CompletableFuture<PutResult> putIfAbsent(String key, byte[] body) {
        return run("put", key, () -> put(key, body, new PutCondition.IfAbsent()));
    }

    @Override
    public CompletableFuture<PutResult> putIfMatch(String key, byte[] body, String etag) {
        return run("put", key, () -> put(key, body, new PutCondition.IfMatch(etag)));
    }

    @Override
    public CompletableFuture<Void> put(String key, byte[] body) {
        return run("put", key, () -> {
            put(key, body, new PutCondition.None());
            return null;
        });
    }

    private ObjectBackend.GetResult.Found found(String key) {
        return switch (backend.get(bucket, key, null)) {
            case ObjectBackend.GetResult.Found f -> f;
            case ObjectBackend.GetResult.NoSuchBucket n -> throw noBucket(bucket);
            default -> throw new StorageException(StorageException.Kind.NOT_FOUND, 404, key + " not found", null);
        };
    }

    @Override
    public CompletableFuture<byte[]> get(String key) {
        return run("get", key, () -> found(key).content());
    }

    @Override
    public CompletableFuture<Versioned> getVersioned(String key) {
        return run("get", key, () -> {
            ObjectBackend.GetResult.Found f = found(key);
            return new Versioned(f.content(), f.info().etag());
        });
    }

    @Override
    public CompletableFuture<byte[]> getRange(String key, long offset, int length) {
        return run("get", key, () -> {
            byte[] b = found(key).content();
            int from = (int) Math.min(offset, b.length);
            return java.util.Arrays.copyOfRange(b, from, (int) Math.min(b.length, offset + length));
        });
    }

    @Override
    public CompletableFuture<ListPage> list(String prefix, String startAfter, String continuationToken, int maxKeys) {
        String after = continuationToken != null ? continuationToken : startAfter == null ? "" : startAfter;
        return run("list", prefix, () -> switch (backend.list(bucket, new ListQuery(prefix, "", after, maxKeys))) {
            case ObjectBackend.ListResult.Page page -> {
                List<Entry> out = new ArrayList<>(page.contents().size());
                for (ObjectInfo i : page.contents()) {
                    out.add(new Entry(i.key(), i.size(), i.etag()));
                }
                yield new ListPage(out, page.truncated() ? page.lastKey() : null);
            }
            case ObjectBackend.ListResult.NoSuchBucket n -> throw noBucket(bucket);
        });
    }

    @Override
    public CompletableFuture<Void> delete(List<String> keys) {
        List<String> copy = List.copyOf(keys);
        return run("delete", copy.isEmpty() ? "" : copy.get(0), () -> {
            for (String k : copy) {
                backend.delete(bucket, k);
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> ensureBucket(boolean create) {
        return run("head", bucket, () -> {
            if (!backend.bucketExists(bucket)) {
                if (!create) {
                    throw noBucket(bucket);
                }
                backend.createBucket(bucket);
            }
            return null;
        });
    }

    @Override
    public void close() {
        io.shutdown();
        try {
            io.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
