package io.weaseldb.sim;

import io.weaseldb.fakes3.ListQuery;
import io.weaseldb.fakes3.MemoryBackend;
import io.weaseldb.fakes3.ObjectAttributes;
import io.weaseldb.fakes3.ObjectBackend;
import io.weaseldb.fakes3.ObjectInfo;
import io.weaseldb.fakes3.PutCondition;
import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The object store of a simulation: the fake S3's in-memory backend (its real conditional-write
 * semantics) behind simulated latency and faults — errors, timeouts, and writes whose success
 * reply is lost. Every completion happens later on the scheduler, never inside the call.
 * {@link #immediate} mode answers at once without faults, for blocking startup code.
 */
final class SimStore implements ObjectStore {
    static final String BUCKET = "weaseldb";

    final MemoryBackend backend = new MemoryBackend();
    private final SimScheduler scheduler;
    private final SplittableRandom random;
    private final double failure;
    private final double lostReply;
    boolean immediate;
    /** Set when a simulated crash drops the requests in flight (each of them may or may not have landed). */
    private long epoch;
    int puts;
    int inFlight;
    /** Writes and deletes applied to the backend (what the invariant checks re-read on). */
    int mutations;

    SimStore(SimScheduler scheduler, SplittableRandom random, double failure, double lostReply) {
        this.scheduler = scheduler;
        this.random = random;
        this.failure = failure;
        this.lostReply = lostReply;
        backend.createBucket(BUCKET);
    }

    /** Requests issued before a crash: each applies or not at random, and nobody hears back. */
    void crash() {
        epoch++;
    }

    private <T> CompletableFuture<T> submit(boolean write, Supplier<T> operation) {
        Supplier<T> apply = !write ? operation : () -> {
            mutations++;
            return operation.get();
        };
        CompletableFuture<T> f = new CompletableFuture<>();
        if (immediate) {
            try {
                f.complete(apply.get());
            } catch (StorageException e) {
                f.completeExceptionally(e);
            }
            return f;
        }
        long issuedIn = epoch;
        inFlight++;
        long latency = 200_000L + random.nextLong(20_000_000L); // 0.2 - 20 ms
        double r = random.nextDouble();
        scheduler.after(latency, () -> {
            inFlight--;
            if (issuedIn != epoch) { // the issuing process crashed: maybe it landed, nobody will know
                if (write && random.nextBoolean()) {
                    try {
                        apply.get();
                    } catch (StorageException ignored) {
                        // a failed write that nobody waits for
                    }
                }
                return;
            }
            if (r < failure) {
                f.completeExceptionally(new StorageException(StorageException.Kind.TRANSIENT, 503, "injected 503", null));
            } else if (write && r < failure + lostReply) {
                try {
                    apply.get();
                } catch (StorageException ignored) {
                    // applied or not: the reply is lost either way
                }
                f.completeExceptionally(new StorageException(StorageException.Kind.TRANSIENT, 0, "injected lost reply", null));
            } else {
                try {
                    f.complete(apply.get());
                } catch (StorageException e) {
                    f.completeExceptionally(e);
                }
            }
        });
        return f;
    }

    @Override
    public CompletableFuture<PutResult> putIfAbsent(String key, byte[] body) {
        puts++;
        byte[] copy = body.clone();
        return submit(true, () -> switch (backend.put(BUCKET, key, copy, ObjectAttributes.DEFAULT, new PutCondition.IfAbsent())) {
            case ObjectBackend.PutResult.Stored s -> PutResult.CREATED;
            case ObjectBackend.PutResult.PreconditionFailed p -> PutResult.ALREADY_EXISTS;
            case ObjectBackend.PutResult.NoSuchBucket n -> throw new StorageException(StorageException.Kind.PERMANENT, 404, "no bucket", null);
        });
    }

    @Override
    public CompletableFuture<PutResult> putIfMatch(String key, byte[] body, String etag) {
        puts++;
        byte[] copy = body.clone();
        return submit(true, () -> switch (backend.put(BUCKET, key, copy, ObjectAttributes.DEFAULT, new PutCondition.IfMatch(etag))) {
            case ObjectBackend.PutResult.Stored s -> PutResult.CREATED;
            case ObjectBackend.PutResult.PreconditionFailed p -> PutResult.ALREADY_EXISTS;
            case ObjectBackend.PutResult.NoSuchBucket n -> throw new StorageException(StorageException.Kind.PERMANENT, 404, "no bucket", null);
        });
    }

    @Override
    public CompletableFuture<Versioned> getVersioned(String key) {
        return submit(false, () -> switch (backend.get(BUCKET, key, null)) {
            case ObjectBackend.GetResult.Found f -> new Versioned(f.content(), f.info().etag());
            default -> throw new StorageException(StorageException.Kind.NOT_FOUND, 404, key + " not found", null);
        });
    }

    @Override
    public CompletableFuture<Void> put(String key, byte[] body) {
        byte[] copy = body.clone();
        return submit(true, () -> {
            backend.put(BUCKET, key, copy, ObjectAttributes.DEFAULT, new PutCondition.None());
            return null;
        });
    }

    @Override
    public CompletableFuture<byte[]> get(String key) {
        return submit(false, () -> read(key));
    }

    byte[] read(String key) {
        return switch (backend.get(BUCKET, key, null)) {
            case ObjectBackend.GetResult.Found f -> f.content();
            default -> throw new StorageException(StorageException.Kind.NOT_FOUND, 404, key + " not found", null);
        };
    }

    @Override
    public CompletableFuture<byte[]> getRange(String key, long offset, int length) {
        return submit(false, () -> {
            byte[] b = read(key);
            int from = (int) Math.min(offset, b.length);
            return java.util.Arrays.copyOfRange(b, from, (int) Math.min(b.length, offset + length));
        });
    }

    @Override
    public CompletableFuture<ListPage> list(String prefix, String startAfter, String continuationToken, int maxKeys) {
        String after = continuationToken != null ? continuationToken : startAfter == null ? "" : startAfter;
        return submit(false, () -> {
            var page = (ObjectBackend.ListResult.Page) backend.list(BUCKET, new ListQuery(prefix, "", after, maxKeys));
            List<Entry> out = new ArrayList<>();
            for (ObjectInfo i : page.contents()) {
                out.add(new Entry(i.key(), i.size(), i.etag()));
            }
            return new ListPage(out, page.truncated() ? page.lastKey() : null);
        });
    }

    @Override
    public CompletableFuture<Void> delete(List<String> keys) {
        List<String> copy = List.copyOf(keys);
        return submit(true, () -> {
            copy.forEach(k -> backend.delete(BUCKET, k));
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> ensureBucket(boolean create) {
        return CompletableFuture.completedFuture(null);
    }

    /** Every log object, in key order (for the invariant checks). */
    List<ObjectInfo> logObjects() {
        List<ObjectInfo> out = new ArrayList<>();
        String after = "";
        while (true) {
            var page = (ObjectBackend.ListResult.Page) backend.list(BUCKET, new ListQuery("log/", "", after, 1000));
            out.addAll(page.contents());
            if (!page.truncated()) {
                return out;
            }
            after = page.lastKey();
        }
    }

    @Override
    public void close() {}
}
