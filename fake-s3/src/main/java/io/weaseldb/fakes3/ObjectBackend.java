package io.weaseldb.fakes3;

import java.util.List;
import java.util.Objects;

/**
 * Where the fake S3 keeps buckets and objects. Free of HTTP and Netty types so that deterministic
 * simulation tests can drive it directly.
 *
 * <p>Thread-safety: implementations are safe for concurrent use from any threads and do not care
 * which thread calls them. Each method is atomic with respect to the others on the same key: a
 * conditional {@link #put} checks its {@link PutCondition} and writes in one step, so of N racing
 * {@code If-None-Match: *} puts exactly one succeeds. A method returns only once its effect is
 * durable (for the directory backend: fsynced), so a result that reports success may be
 * acknowledged to a client.
 *
 * <p>Expected outcomes (missing bucket or key, failed precondition) are typed results; I/O
 * failures are thrown as {@link java.io.UncheckedIOException}.
 */
public interface ObjectBackend extends AutoCloseable {

    /** Creates a bucket; the name must satisfy S3's naming rules. */
    CreateBucketResult createBucket(String bucket);

    boolean bucketExists(String bucket);

    /** Deletes an empty bucket. */
    DeleteBucketResult deleteBucket(String bucket);

    /**
     * Stores {@code content} under {@code key} if {@code condition} holds.
     *
     * @param content the whole object; the backend takes ownership, the caller must not modify it
     *                afterwards
     */
    PutResult put(String bucket, String key, byte[] content, ObjectAttributes attributes, PutCondition condition);

    /**
     * Reads an object, or the part of it selected by {@code range} ({@code null} for all of it).
     * The returned array belongs to the caller.
     */
    GetResult get(String bucket, String key, ByteRange range);

    HeadResult head(String bucket, String key);

    DeleteResult delete(String bucket, String key);

    ListResult list(String bucket, ListQuery query);

    /** Releases resources (file locks); further calls are not allowed. */
    @Override
    void close();

    enum CreateBucketResult { CREATED, ALREADY_EXISTS }

    enum DeleteBucketResult { DELETED, NO_SUCH_BUCKET, NOT_EMPTY }

    enum DeleteResult { DELETED, ABSENT, NO_SUCH_BUCKET }

    sealed interface PutResult {
        record Stored(ObjectInfo info) implements PutResult {}

        record PreconditionFailed() implements PutResult {}

        record NoSuchBucket() implements PutResult {}
    }

    sealed interface GetResult {
        /** The whole object. */
        record Found(ObjectInfo info, byte[] content) implements GetResult {}

        /** The bytes {@code range.first()..range.last()} of the object. */
        record Partial(ObjectInfo info, byte[] content, ByteRange.Resolved range) implements GetResult {}

        record RangeNotSatisfiable(ObjectInfo info) implements GetResult {}

        record NoSuchKey() implements GetResult {}

        record NoSuchBucket() implements GetResult {}
    }

    sealed interface HeadResult {
        record Found(ObjectInfo info) implements HeadResult {}

        record NoSuchKey() implements HeadResult {}

        record NoSuchBucket() implements HeadResult {}
    }

    sealed interface ListResult {
        /**
         * One page of a listing.
         *
         * @param contents       objects in UTF-8 binary key order
         * @param commonPrefixes rolled-up prefixes (with a delimiter), in order
         * @param truncated      whether more entries follow
         * @param lastKey        the greatest key covered by this page (including keys rolled up into
         *                       a common prefix); listing again with it as {@code startAfter}
         *                       continues where this page ended. Empty if the page is empty.
         */
        record Page(List<ObjectInfo> contents, List<String> commonPrefixes, boolean truncated, String lastKey)
                implements ListResult {
            public Page {
                contents = List.copyOf(contents);
                commonPrefixes = List.copyOf(commonPrefixes);
                Objects.requireNonNull(lastKey, "lastKey");
            }
        }

        record NoSuchBucket() implements ListResult {}
    }
}
