package io.weaseldb.s3;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The object storage the log lives in, as the rest of WeaselDB sees it: asynchronous, keys are
 * full object keys (the caller adds the configured prefix), failures are {@link StorageException}s
 * classified for retry decisions. Implementations must be thread-safe; completions may run on
 * any thread, so callers hand results back to their owning stage.
 */
public interface ObjectStore extends AutoCloseable {

    /** Outcome of a conditional create. */
    enum PutResult { CREATED, ALREADY_EXISTS }

    /** Creates {@code key} only if absent ({@code If-None-Match: *}). */
    CompletableFuture<PutResult> putIfAbsent(String key, byte[] body);

    /**
     * Replaces {@code key} only if it still has entity tag {@code etag} ({@code If-Match}): a
     * compare-and-swap, used to replace an orphaned log object without racing another writer.
     * {@link PutResult#ALREADY_EXISTS} means the object changed (or vanished) meanwhile.
     */
    CompletableFuture<PutResult> putIfMatch(String key, byte[] body, String etag);

    /** The whole object and its entity tag; NOT_FOUND when absent. */
    CompletableFuture<Versioned> getVersioned(String key);

    /** An object's bytes with its entity tag. */
    record Versioned(byte[] bytes, String etag) {}

    /** Creates or replaces {@code key}. */
    CompletableFuture<Void> put(String key, byte[] body);

    /** The whole object; fails with {@link StorageException.Kind#NOT_FOUND} when absent. */
    CompletableFuture<byte[]> get(String key);

    /** Bytes {@code [offset, offset + length)} (fewer at the end of the object). */
    CompletableFuture<byte[]> getRange(String key, long offset, int length);

    /** One page of keys under {@code prefix} strictly after {@code startAfter} (nullable), in key order. */
    CompletableFuture<ListPage> list(String prefix, String startAfter, String continuationToken, int maxKeys);

    /** Deletes the keys (at most 1000); missing keys are not an error. */
    CompletableFuture<Void> delete(List<String> keys);

    /** Makes sure the bucket exists (creating it if allowed). */
    CompletableFuture<Void> ensureBucket(boolean create);

    @Override
    void close();

    /** A page of a listing. {@code continuationToken} is null on the last page. */
    record ListPage(List<Entry> entries, String continuationToken) {
        public ListPage {
            entries = List.copyOf(entries);
        }
    }

    /** A listed object; {@code etag} as the listing gave it (changes when the content does), or null if unknown. */
    record Entry(String key, long size, String etag) {
        public Entry(String key, long size) {
            this(key, size, null);
        }
    }
}
