package io.weaseldb.testing;

import io.weaseldb.s3.ObjectStore;
import io.weaseldb.s3.StorageException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * An in-memory object store whose requests complete only when the test says so (or at once in
 * auto mode), so pipeline tests can reorder, fail and delay storage deterministically without
 * threads or sleeps. Conditional writes are checked when a request is completed, like a real
 * server applying it. Thread-safe (synchronized) because completions may be triggered from any
 * test thread.
 */
public final class ManualObjectStore implements ObjectStore {
    /** A request waiting for the test to complete it. */
    public final class Pending {
        public final String op;
        public final String key;
        final Supplier<Object> apply;
        final CompletableFuture<Object> future;

        Pending(String op, String key, Supplier<Object> apply, CompletableFuture<Object> future) {
            this.op = op;
            this.key = key;
            this.apply = apply;
            this.future = future;
        }

        /** Applies the request and completes it with what storage answers (a missing key fails it, as in auto mode). */
        public void succeed() {
            Object r;
            try {
                synchronized (ManualObjectStore.this) {
                    r = apply.get();
                }
            } catch (StorageException e) {
                future.completeExceptionally(e);
                return;
            }
            future.complete(r);
        }

        /** Applies the request but fails the reply (a lost success reply). */
        public void applyAndLoseReply() {
            synchronized (ManualObjectStore.this) {
                apply.get();
            }
            future.completeExceptionally(new StorageException(StorageException.Kind.TRANSIENT, 0, "reply lost", null));
        }

        /** Fails without applying. */
        public void fail(int status) {
            StorageException.Kind kind = status == 0 || status >= 500 || status == 429
                    ? StorageException.Kind.TRANSIENT : StorageException.Kind.PERMANENT;
            future.completeExceptionally(new StorageException(kind, status, op + " " + key + " failed with " + status, null));
        }

        @Override
        public String toString() {
            return op + " " + key;
        }
    }

    private final TreeMap<String, byte[]> objects = new TreeMap<>();
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private boolean auto;
    private int puts;
    private int rangedReads;
    private int gets;

    /** Complete every request immediately. */
    public synchronized ManualObjectStore auto(boolean on) {
        this.auto = on;
        return this;
    }

    public synchronized List<Pending> pending() {
        return new ArrayList<>(pending);
    }

    public synchronized Pending take() {
        Pending p = pending.pollFirst();
        if (p == null) {
            throw new AssertionError("no pending storage request");
        }
        return p;
    }

    public synchronized Pending takeFor(String key) {
        for (Pending p : pending) {
            if (p.key.equals(key)) {
                pending.remove(p);
                return p;
            }
        }
        throw new AssertionError("no pending request for " + key + "; pending: " + pending);
    }

    public synchronized int pendingCount() {
        return pending.size();
    }

    public synchronized int putCount() {
        return puts;
    }

    /** Ranged reads asked for so far. */
    /** Whole-object reads asked for so far. */
    public synchronized int getCount() {
        return gets;
    }

    public synchronized int rangedReadCount() {
        return rangedReads;
    }

    public synchronized Map<String, byte[]> objects() {
        return new TreeMap<>(objects);
    }

    public synchronized void putDirect(String key, byte[] body) {
        objects.put(key, body.clone());
    }

    @SuppressWarnings("unchecked")
    private synchronized <T> CompletableFuture<T> submit(String op, String key, Supplier<Object> apply) {
        CompletableFuture<Object> f = new CompletableFuture<>();
        Pending p = new Pending(op, key, apply, f);
        if (auto) {
            Object r;
            try {
                r = apply.get();
            } catch (StorageException e) {
                f.completeExceptionally(e);
                return (CompletableFuture<T>) (CompletableFuture<?>) f;
            }
            f.complete(r);
        } else {
            pending.addLast(p);
        }
        return (CompletableFuture<T>) (CompletableFuture<?>) f;
    }

    @Override
    public CompletableFuture<PutResult> putIfAbsent(String key, byte[] body) {
        byte[] copy = body.clone();
        synchronized (this) {
            puts++;
        }
        return submit("putIfAbsent", key, () -> {
            if (objects.containsKey(key)) {
                return PutResult.ALREADY_EXISTS;
            }
            objects.put(key, copy);
            return PutResult.CREATED;
        });
    }

    /** Entity tag of stored bytes (content hash, like S3's MD5 ETag). */
    static String etag(byte[] b) {
        return Integer.toHexString(java.util.Arrays.hashCode(b)) + ":" + b.length;
    }

    @Override
    public CompletableFuture<PutResult> putIfMatch(String key, byte[] body, String etag) {
        byte[] copy = body.clone();
        synchronized (this) {
            puts++;
        }
        return submit("putIfMatch", key, () -> {
            byte[] existing = objects.get(key);
            if (existing == null || !etag(existing).equals(etag)) {
                return PutResult.ALREADY_EXISTS;
            }
            objects.put(key, copy);
            return PutResult.CREATED;
        });
    }

    @Override
    public CompletableFuture<Versioned> getVersioned(String key) {
        return submit("get", key, () -> {
            byte[] b = objects.get(key);
            if (b == null) {
                throw new StorageException(StorageException.Kind.NOT_FOUND, 404, key + " not found", null);
            }
            return new Versioned(b.clone(), etag(b));
        });
    }

    @Override
    public CompletableFuture<Void> put(String key, byte[] body) {
        byte[] copy = body.clone();
        return submit("put", key, () -> {
            objects.put(key, copy);
            return null;
        });
    }

    @Override
    public CompletableFuture<byte[]> get(String key) {
        synchronized (this) {
            gets++;
        }
        return submit("get", key, () -> {
            byte[] b = objects.get(key);
            if (b == null) {
                throw new StorageException(StorageException.Kind.NOT_FOUND, 404, key + " not found", null);
            }
            return b.clone();
        });
    }

    @Override
    public CompletableFuture<byte[]> getRange(String key, long offset, int length) {
        synchronized (this) {
            rangedReads++;
        }
        return submit("get", key, () -> {
            byte[] b = objects.get(key);
            if (b == null) {
                throw new StorageException(StorageException.Kind.NOT_FOUND, 404, key + " not found", null);
            }
            int from = (int) Math.min(offset, b.length);
            return Arrays.copyOfRange(b, from, (int) Math.min(b.length, offset + length));
        });
    }

    @Override
    public CompletableFuture<ListPage> list(String prefix, String startAfter, String continuationToken, int maxKeys) {
        String after = continuationToken != null ? continuationToken : startAfter;
        return submit("list", prefix, () -> {
            List<Entry> out = new ArrayList<>();
            var tail = after == null ? objects.tailMap(prefix, true) : objects.tailMap(after, false);
            String last = null;
            boolean more = false;
            for (var e : tail.entrySet()) {
                if (!e.getKey().startsWith(prefix)) {
                    if (e.getKey().compareTo(prefix) > 0) {
                        break;
                    }
                    continue;
                }
                if (out.size() == maxKeys) {
                    more = true;
                    break;
                }
                // an etag that changes with the content, as S3's does
                out.add(new Entry(e.getKey(), e.getValue().length,
                        "\"" + Integer.toHexString(java.util.Arrays.hashCode(e.getValue())) + "-" + e.getValue().length + "\""));
                last = e.getKey();
            }
            return new ListPage(out, more ? last : null);
        });
    }

    @Override
    public CompletableFuture<Void> delete(List<String> keys) {
        List<String> copy = List.copyOf(keys);
        return submit("delete", keys.isEmpty() ? "" : keys.get(0), () -> {
            copy.forEach(objects::remove);
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> ensureBucket(boolean create) {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public void close() {}
}
