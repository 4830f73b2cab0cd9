package io.weaseldb.fakes3;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.InstantSource;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps buckets and objects in a directory, durably: a successful put or delete has been fsynced
 * (file and directory) before the method returns, so an acknowledged write survives a crash or
 * power loss. With {@code fsync=false} (tests that only care about restarts) the syncs are skipped.
 *
 * <h2>Layout</h2>
 * <pre>
 *   root/.lock                 held (OS file lock) while a backend has the directory open
 *   root/&lt;bucket&gt;/              one directory per bucket (valid bucket names are safe file names)
 *   root/&lt;bucket&gt;/k-&lt;escaped&gt;  one {@link ObjectFile} per object: header with the key and metadata,
 *                              then the content
 *   root/&lt;bucket&gt;/h-&lt;sha256&gt;   the same, for keys whose escaped form would be too long
 *   root/&lt;bucket&gt;/.tmp-&lt;n&gt;     a put in progress; deleted at startup
 * </pre>
 * The file name is a function of the key: bytes outside {@code [a-z0-9._-]} are escaped as
 * {@code %XX}, so any key (with {@code /}, uppercase on case-insensitive file systems, control
 * characters) is one flat, safe name; names over 240 characters become the SHA-256 of the key. The
 * authoritative key is the one in the header.
 *
 * <h2>Writes</h2>
 * A put writes the header and content to a temp file and fsyncs it (without any lock), then under
 * the key's lock checks the precondition, renames the temp file over the object's name, fsyncs
 * the directory and only then updates the in-memory index. Reads of metadata and listings use the
 * index, so they only ever see durable objects.
 *
 * <h2>Thread-safety</h2>
 * Safe for any threads. A striped lock per key serialises puts and deletes of the same key (that
 * is what makes conditional puts atomic) and lets a get open the file consistent with the index.
 * A read-write lock keeps bucket creation and deletion apart from object operations. The index is
 * a {@link ConcurrentSkipListMap} per bucket, rebuilt by scanning the directory at startup.
 * All of these calls block on disk I/O: never call them from an event loop.
 */
public final class DirectoryBackend implements ObjectBackend {
    private static final Logger log = LoggerFactory.getLogger(DirectoryBackend.class);

    private static final String TEMP_PREFIX = ".tmp-";
    private static final int MAX_ESCAPED_NAME = 240;
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private record Bucket(Path dir, ConcurrentSkipListMap<String, ObjectInfo> index) {}

    private final Path root;
    private final boolean fsync;
    /** Tests: told of each durability step of a put or delete, in the order taken; null otherwise. */
    private volatile java.util.function.Consumer<String> steps;
    private final InstantSource clock;
    private final DataDirectory.Lock dirLock;
    private final ReentrantReadWriteLock bucketsLock = new ReentrantReadWriteLock();
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
    private final DataDirectory.KeyLocks keyLocks = new DataDirectory.KeyLocks();
    private final AtomicLong tempCounter = new AtomicLong();
    private volatile boolean closed;

    private DirectoryBackend(Path root, boolean fsync, InstantSource clock, DataDirectory.Lock dirLock) {
        this.root = root;
        this.fsync = fsync;
        this.clock = clock;
        this.dirLock = dirLock;
    }

    /**
     * Opens (creating if needed) a data directory, locks it against other processes and rebuilds
     * the index from its contents.
     *
     * @throws IOException if the directory cannot be used, is locked by another backend, or holds
     *                     a corrupt object file (named in the message)
     */
    public static DirectoryBackend open(Path root, boolean fsync, InstantSource clock) throws IOException {
        Objects.requireNonNull(root, "root");
        Objects.requireNonNull(clock, "clock");
        Path dir = root.toAbsolutePath().normalize();
        DirectoryBackend backend = new DirectoryBackend(dir, fsync, clock, DataDirectory.lock(dir, fsync));
        try {
            backend.scan();
        } catch (IOException | RuntimeException e) {
            backend.close();
            throw e;
        }
        return backend;
    }

    public Path root() {
        return root;
    }

    private void scan() throws IOException {
        int objects = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(root)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (DataDirectory.isLockFile(name)) {
                    continue;
                }
                if (!Files.isDirectory(entry) || BucketNames.problem(name) != null) {
                    log.warn("ignoring {}: not a bucket directory", entry);
                    continue;
                }
                Bucket bucket = new Bucket(entry, new ConcurrentSkipListMap<>(KeyOrder.INSTANCE));
                objects += scanBucket(bucket);
                buckets.put(name, bucket);
            }
        }
        log.info("opened {}: {} buckets, {} objects", root, buckets.size(), objects);
    }

    private int scanBucket(Bucket bucket) throws IOException {
        boolean removedTemp = false;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(bucket.dir())) {
            for (Path file : files) {
                String name = file.getFileName().toString();
                if (name.startsWith(TEMP_PREFIX)) {
                    // A put that never published: it was not acknowledged, so dropping it is right.
                    Files.deleteIfExists(file);
                    removedTemp = true;
                    continue;
                }
                if (!(name.startsWith("k-") || name.startsWith("h-")) || !Files.isRegularFile(file)) {
                    log.warn("ignoring {}: not an object file", file);
                    continue;
                }
                ObjectInfo info;
                try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                    info = ObjectFile.readHeader(ch).info();
                } catch (IOException e) {
                    throw new IOException("corrupt object file " + file + ": " + e.getMessage(), e);
                }
                if (!fileName(info.key()).equals(name)) {
                    throw new IOException("object file " + file + " holds key '" + info.key()
                            + "' which belongs in " + fileName(info.key()));
                }
                bucket.index().put(info.key(), info);
            }
        }
        if (removedTemp) {
            syncDirectory(bucket.dir());
        }
        return bucket.index().size();
    }

    /** The file name of {@code key} inside its bucket directory. */
    static String fileName(String key) {
        byte[] utf8 = key.getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(utf8.length + 2).append("k-");
        for (byte b : utf8) {
            int c = b & 0xFF;
            boolean plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
            if (plain) {
                sb.append((char) c);
            } else {
                sb.append('%').append(HEX[c >>> 4]).append(HEX[c & 0xF]);
            }
            if (sb.length() > MAX_ESCAPED_NAME) {
                return "h-" + Digests.hex(Digests.sha256(utf8, 0, utf8.length));
            }
        }
        return sb.toString();
    }

    @Override
    public CreateBucketResult createBucket(String bucket) {
        BucketNames.requireValid(bucket);
        bucketsLock.writeLock().lock();
        try {
            ensureOpen();
            if (buckets.containsKey(bucket)) {
                return CreateBucketResult.ALREADY_EXISTS;
            }
            Path dir = root.resolve(bucket);
            Files.createDirectory(dir);
            syncDirectory(root);
            buckets.put(bucket, new Bucket(dir, new ConcurrentSkipListMap<>(KeyOrder.INSTANCE)));
            return CreateBucketResult.CREATED;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create bucket " + bucket + ": " + e, e);
        } finally {
            bucketsLock.writeLock().unlock();
        }
    }

    @Override
    public boolean bucketExists(String bucket) {
        return buckets.containsKey(bucket);
    }

    @Override
    public DeleteBucketResult deleteBucket(String bucket) {
        bucketsLock.writeLock().lock();
        try {
            ensureOpen();
            Bucket b = buckets.get(bucket);
            if (b == null) {
                return DeleteBucketResult.NO_SUCH_BUCKET;
            }
            if (!b.index().isEmpty()) {
                return DeleteBucketResult.NOT_EMPTY;
            }
            // No objects, but the directory may hold files that are not objects (an editor's
            // backup, notes; ignored at startup): S3 would see an empty bucket, so they go too.
            deleteTree(b.dir());
            syncDirectory(root);
            buckets.remove(bucket);
            return DeleteBucketResult.DELETED;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete bucket " + bucket + ": " + e, e);
        } finally {
            bucketsLock.writeLock().unlock();
        }
    }

    /** Deletes {@code dir} and everything under it, without following symbolic links. */
    private static void deleteTree(Path dir) throws IOException {
        Files.walkFileTree(dir, new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes attrs)
                    throws IOException {
                log.warn("deleting {} with its bucket: not an object file", file);
                Files.delete(file);
                return java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return java.nio.file.FileVisitResult.CONTINUE;
            }
        });
    }

    @Override
    public PutResult put(String bucket, String key, byte[] content, ObjectAttributes attributes,
                         PutCondition condition) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(content, "content");
        Objects.requireNonNull(attributes, "attributes");
        Objects.requireNonNull(condition, "condition");
        bucketsLock.readLock().lock();
        try {
            ensureOpen();
            Bucket b = buckets.get(bucket);
            if (b == null) {
                return new PutResult.NoSuchBucket();
            }
            // Cheap early answer for the common losing racer; re-checked under the key lock.
            if (!holds(condition, b.index().get(key))) {
                return new PutResult.PreconditionFailed();
            }
            ObjectInfo info = new ObjectInfo(key, content.length, Digests.etag(content),
                    clock.instant().truncatedTo(ChronoUnit.SECONDS), attributes);
            Path temp = b.dir().resolve(TEMP_PREFIX + tempCounter.incrementAndGet());
            boolean renamed = false;
            try {
                writeFile(temp, ObjectFile.encodeHeader(info), content);
                ReentrantLock keyLock = keyLocks.of(bucket, key);
                keyLock.lock();
                try {
                    if (!holds(condition, b.index().get(key))) {
                        return new PutResult.PreconditionFailed();
                    }
                    Files.move(temp, b.dir().resolve(fileName(key)),
                            StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    renamed = true;
                    step("rename " + temp.getFileName() + " " + fileName(key));
                    try {
                        syncDirectory(b.dir());
                    } finally {
                        // Even if the directory sync failed the new file is what is on disk now;
                        // the index must not disagree with it (the caller still sees the error).
                        b.index().put(key, info);
                    }
                } finally {
                    keyLock.unlock();
                }
            } finally {
                if (!renamed) {
                    deleteQuietly(temp);
                }
            }
            return new PutResult.Stored(info);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store " + bucket + "/" + key + ": " + e, e);
        } finally {
            bucketsLock.readLock().unlock();
        }
    }

    private static boolean holds(PutCondition condition, ObjectInfo current) {
        return DataDirectory.holds(condition, current == null ? null : current.etag());
    }

    @Override
    public GetResult get(String bucket, String key, ByteRange range) {
        bucketsLock.readLock().lock();
        try {
            ensureOpen();
            Bucket b = buckets.get(bucket);
            if (b == null) {
                return new GetResult.NoSuchBucket();
            }
            FileChannel channel;
            ObjectInfo indexed;
            // Open under the key lock: the file then matches the index (a put renames and updates
            // the index under the same lock). Reading happens outside it; the open channel keeps
            // seeing this version even if a later put replaces the name.
            ReentrantLock keyLock = keyLocks.of(bucket, key);
            keyLock.lock();
            try {
                indexed = b.index().get(key);
                if (indexed == null) {
                    return new GetResult.NoSuchKey();
                }
                channel = FileChannel.open(b.dir().resolve(fileName(key)), StandardOpenOption.READ);
            } finally {
                keyLock.unlock();
            }
            try (channel) {
                ObjectFile.Header header = ObjectFile.readHeader(channel);
                ObjectInfo info = header.info();
                if (!info.key().equals(key) || !info.etag().equals(indexed.etag())) {
                    throw new IOException("file for key '" + key + "' does not match the index");
                }
                if (range == null) {
                    return new GetResult.Found(info, read(channel, header.contentOffset(), info.size()));
                }
                Optional<ByteRange.Resolved> resolved = range.resolve(info.size());
                if (resolved.isEmpty()) {
                    return new GetResult.RangeNotSatisfiable(info);
                }
                ByteRange.Resolved r = resolved.get();
                return new GetResult.Partial(info, read(channel, header.contentOffset() + r.first(), r.length()), r);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + bucket + "/" + key + ": " + e, e);
        } finally {
            bucketsLock.readLock().unlock();
        }
    }

    private static byte[] read(FileChannel channel, long position, long length) throws IOException {
        if (length > Integer.MAX_VALUE - 8) {
            throw new IOException("object too large to read into memory: " + length);
        }
        ByteBuffer buffer = ByteBuffer.allocate((int) length);
        ObjectFile.readFully(channel, buffer, position);
        return buffer.array();
    }

    @Override
    public HeadResult head(String bucket, String key) {
        ensureOpen();
        Bucket b = buckets.get(bucket);
        if (b == null) {
            return new HeadResult.NoSuchBucket();
        }
        ObjectInfo info = b.index().get(key);
        return info == null ? new HeadResult.NoSuchKey() : new HeadResult.Found(info);
    }

    @Override
    public DeleteResult delete(String bucket, String key) {
        bucketsLock.readLock().lock();
        try {
            ensureOpen();
            Bucket b = buckets.get(bucket);
            if (b == null) {
                return DeleteResult.NO_SUCH_BUCKET;
            }
            ReentrantLock keyLock = keyLocks.of(bucket, key);
            keyLock.lock();
            try {
                if (!b.index().containsKey(key)) {
                    return DeleteResult.ABSENT;
                }
                Files.deleteIfExists(b.dir().resolve(fileName(key)));
                step("unlink " + fileName(key));
                try {
                    syncDirectory(b.dir());
                } finally {
                    b.index().remove(key);
                }
                return DeleteResult.DELETED;
            } finally {
                keyLock.unlock();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + bucket + "/" + key + ": " + e, e);
        } finally {
            bucketsLock.readLock().unlock();
        }
    }

    @Override
    public ListResult list(String bucket, ListQuery query) {
        ensureOpen();
        Bucket b = buckets.get(bucket);
        if (b == null) {
            return new ListResult.NoSuchBucket();
        }
        return Listings.page(b.index(), info -> info, query);
    }

    @Override
    public void close() {
        bucketsLock.writeLock().lock(); // waits for operations in progress
        try {
            if (closed) {
                return;
            }
            closed = true;
            try {
                dirLock.release();
            } catch (IOException e) {
                log.warn("cannot release the lock of {}", root, e);
            }
            buckets.clear();
        } finally {
            bucketsLock.writeLock().unlock();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("backend is closed");
        }
    }

    // Fixed open options: FileChannel.open(path, OpenOption...) copies its options into a new set per call.
    private static final java.util.Set<java.nio.file.OpenOption> CREATE_FOR_WRITING =
            java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    private static final java.util.Set<java.nio.file.OpenOption> READING = java.util.Set.of(StandardOpenOption.READ);
    private static final java.nio.file.attribute.FileAttribute<?>[] NO_ATTRIBUTES = {};

    private void writeFile(Path path, byte[] header, byte[] content) throws IOException {
        try (FileChannel ch = FileChannel.open(path, CREATE_FOR_WRITING, NO_ATTRIBUTES)) {
            ByteBuffer[] buffers = {ByteBuffer.wrap(header), ByteBuffer.wrap(content)};
            while (buffers[1].hasRemaining() || buffers[0].hasRemaining()) {
                ch.write(buffers);
            }
            if (fsync) {
                ch.force(true);
                step("fsync " + path.getFileName());
            }
        }
    }

    private void syncDirectory(Path dir) throws IOException {
        if (fsync) {
            DataDirectory.sync(dir);
            step("fsync dir " + dir.getFileName());
        }
    }

    /** Tests: {@code observer} is told of each durability step from now on ("fsync F", "rename F G", ...). */
    void observeSteps(java.util.function.Consumer<String> observer) {
        steps = observer;
    }

    private void step(String what) {
        java.util.function.Consumer<String> s = steps;
        if (s != null) {
            s.accept(what);
        }
    }


    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (NoSuchFileException ignored) {
            // already gone
        } catch (IOException e) {
            log.warn("cannot delete temp file {}", path, e);
        }
    }
}
