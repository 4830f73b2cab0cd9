package io.weaseldb.fakes3;

import java.time.InstantSource;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Keeps buckets and objects in memory; nothing survives {@link #close()}.
 *
 * <p>Thread-safety: lock-free. Each bucket is a {@link ConcurrentSkipListMap} in UTF-8 key order;
 * conditional puts are single compare-and-set operations on it ({@code putIfAbsent},
 * {@code replace(key, expected, new)}), which is what makes them atomic per key.
 */
public final class MemoryBackend implements ObjectBackend {

    /** An object's metadata and content; the content array is never modified after creation. */
    private record Stored(ObjectInfo info, byte[] content) {}

    private final InstantSource clock;
    private final ConcurrentHashMap<String, ConcurrentSkipListMap<String, Stored>> buckets = new ConcurrentHashMap<>();

    /** @param clock source of the objects' last-modified times */
    public MemoryBackend(InstantSource clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public MemoryBackend() {
        this(InstantSource.system());
    }

    @Override
    public CreateBucketResult createBucket(String bucket) {
        BucketNames.requireValid(bucket);
        return buckets.putIfAbsent(bucket, new ConcurrentSkipListMap<>(KeyOrder.INSTANCE)) == null
                ? CreateBucketResult.CREATED
                : CreateBucketResult.ALREADY_EXISTS;
    }

    @Override
    public boolean bucketExists(String bucket) {
        return buckets.containsKey(bucket);
    }

    @Override
    public DeleteBucketResult deleteBucket(String bucket) {
        var objects = buckets.get(bucket);
        if (objects == null) {
            return DeleteBucketResult.NO_SUCH_BUCKET;
        }
        if (!objects.isEmpty()) {
            return DeleteBucketResult.NOT_EMPTY;
        }
        // A put racing with this delete may land in the removed map and be lost; the directory
        // backend excludes that with a lock. Deleting buckets is not on any product path.
        return buckets.remove(bucket, objects) ? DeleteBucketResult.DELETED : DeleteBucketResult.NO_SUCH_BUCKET;
    }

    @Override
    public PutResult put(String bucket, String key, byte[] content, ObjectAttributes attributes,
                         PutCondition condition) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(content, "content");
        Objects.requireNonNull(attributes, "attributes");
        var objects = buckets.get(bucket);
        if (objects == null) {
            return new PutResult.NoSuchBucket();
        }
        ObjectInfo info = new ObjectInfo(key, content.length, Digests.etag(content),
                clock.instant().truncatedTo(ChronoUnit.SECONDS), attributes);
        Stored stored = new Stored(info, content);
        switch (condition) {
            case PutCondition.None n -> objects.put(key, stored);
            case PutCondition.IfAbsent a -> {
                if (objects.putIfAbsent(key, stored) != null) {
                    return new PutResult.PreconditionFailed();
                }
            }
            case PutCondition.IfMatch m -> {
                while (true) {
                    Stored current = objects.get(key);
                    if (current == null || !m.matches(current.info().etag())) {
                        return new PutResult.PreconditionFailed();
                    }
                    if (objects.replace(key, current, stored)) {
                        break;
                    }
                }
            }
        }
        return new PutResult.Stored(info);
    }

    @Override
    public GetResult get(String bucket, String key, ByteRange range) {
        var objects = buckets.get(bucket);
        if (objects == null) {
            return new GetResult.NoSuchBucket();
        }
        Stored stored = objects.get(key);
        if (stored == null) {
            return new GetResult.NoSuchKey();
        }
        byte[] content = stored.content();
        if (range == null) {
            return new GetResult.Found(stored.info(), content.clone());
        }
        Optional<ByteRange.Resolved> resolved = range.resolve(content.length);
        if (resolved.isEmpty()) {
            return new GetResult.RangeNotSatisfiable(stored.info());
        }
        ByteRange.Resolved r = resolved.get();
        byte[] part = Arrays.copyOfRange(content, (int) r.first(), (int) r.last() + 1);
        return new GetResult.Partial(stored.info(), part, r);
    }

    @Override
    public HeadResult head(String bucket, String key) {
        var objects = buckets.get(bucket);
        if (objects == null) {
            return new HeadResult.NoSuchBucket();
        }
        Stored stored = objects.get(key);
        return stored == null ? new HeadResult.NoSuchKey() : new HeadResult.Found(stored.info());
    }

    @Override
    public DeleteResult delete(String bucket, String key) {
        var objects = buckets.get(bucket);
        if (objects == null) {
            return DeleteResult.NO_SUCH_BUCKET;
        }
        return objects.remove(key) != null ? DeleteResult.DELETED : DeleteResult.ABSENT;
    }

    @Override
    public ListResult list(String bucket, ListQuery query) {
        var objects = buckets.get(bucket);
        if (objects == null) {
            return new ListResult.NoSuchBucket();
        }
        return Listings.page(objects, Stored::info, query);
    }

    @Override
    public void close() {
        buckets.clear();
    }
}
