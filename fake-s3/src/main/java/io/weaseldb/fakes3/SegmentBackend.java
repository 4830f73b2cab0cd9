package io.weaseldb.fakes3;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.InstantSource;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps buckets and objects durably in a directory as an append-only log of segments: every put
 * and delete is one checksummed record appended to the newest segment, and a method returns only
 * once its record is on disk ({@code fdatasync} of the segment,
 * shared by the writes in flight at that moment: group commit). Against the
 * {@link DirectoryBackend}'s file per object (create, write, fsync, rename, fsync the directory:
 * two journal commits per put), an acknowledged put here costs one append and a share of one
 * {@code fdatasync}; see {@code docs/performance.md}, finding 27.
 *
 * <h2>Layout</h2>
 * <pre>
 *   root/.lock                        held (OS file lock) while a backend has the directory open
 *   root/buckets                      the bucket names, one per line (replaced atomically: written,
 *                                     synced, renamed over, directory synced)
 *   root/segments/&lt;20-digit id&gt;.seg   the log, oldest first; records are appended only to the
 *                                     newest, and every start opens a new one
 * </pre>
 * A record: {@code u32 magic "WSEG", u32 CRC32C of everything after it, u32 record length, u8
 * type, u16 bucket length, bucket (UTF-8)}, then for a put the object's {@link ObjectFile} header
 * (key and metadata) and its content, for a delete {@code u32} key length and the key. At startup
 * the segments are replayed in order into the in-memory index (records of a bucket that no
 * longer exists are dead: it was empty when it was deleted); a segment's replay stops at the
 * first record that is incomplete or fails its checksum (a write in progress at a crash, never
 * acknowledged), and the segment is cut there.
 *
 * <h2>Space</h2>
 * An overwritten or deleted object's record is dead. Segments are removed oldest first only (a
 * delete's record must outlive the put it cancels), after their live records have been copied to
 * the newest segment: the oldest segment is compacted once at most half of it is live, once it is
 * small, or once the log holds more than twice the live bytes plus two segments. So a log whose
 * objects are deleted in the order they were written (WeaselDB's, under retention) is reclaimed
 * almost without copying, and the space on disk stays within about twice what is live.
 *
 * <h2>Thread-safety</h2>
 * Safe for any threads. A striped lock per key serialises puts, deletes and compaction moves of
 * the same key, held until the record is durable and the index updated (that is what makes
 * conditional puts atomic, and reads see only durable objects). Appends are serialised by one lock
 * and syncs by one monitor per segment. A read-write lock keeps bucket creation and deletion apart
 * from object operations. All calls block on disk I/O: never call them from an event loop.
 *
 * <p>A failed write (a full disk) fails only its own call. A failed {@code fdatasync} (or a failed
 * rename or directory sync of the bucket list) leaves it unknown what is on disk, so the backend
 * then refuses every further write (reads go on) until it is reopened.
 */
public final class SegmentBackend implements ObjectBackend {
    private static final Logger log = LoggerFactory.getLogger(SegmentBackend.class);

    /** The directory under the root that marks this layout. */
    public static final String SEGMENTS_DIR = "segments";
    public static final long DEFAULT_SEGMENT_BYTES = 64L << 20;

    private static final String SUFFIX = ".seg";
    private static final int MAGIC = 0x57534547; // "WSEG"
    /** magic, crc, length, type, bucket length. */
    private static final int FIXED = 4 + 4 + 4 + 1 + 2;
    /** The bucket list; as a regular file at the root, also what marks this layout. */
    static final String BUCKETS_FILE = "buckets";
    private static final byte PUT = 1;
    private static final byte DELETE = 2;

    /**
     * One segment file. {@code end} is guarded by the append lock, {@code synced} by the segment.
     *
     * <p>Every thread shares the segment's channel, and a {@link FileChannel} closes itself when a
     * thread is interrupted in one of its calls: the channel is then opened again ({@link
     * #reopen}) for the others, and only the interrupted call fails. A segment closed on purpose
     * (compacted away, or the backend closed) is retired and stays closed.
     */
    private static final class Segment {
        final long id;
        final Path path;
        /** Bytes of records still needed: the current version of an object. */
        final AtomicLong live = new AtomicLong();
        volatile long end;
        long synced;
        private final Object reopenLock = new Object();
        private volatile FileChannel channel;
        private volatile boolean retired;

        Segment(long id, Path path, FileChannel channel) {
            this.id = id;
            this.path = path;
            this.channel = channel;
        }

        FileChannel channel() {
            return channel;
        }

        /**
         * After {@code e} from {@code broken}: opens the file again if an interrupt closed it and
         * the segment is still in use. Rethrows {@code e} when the caller must not retry: it was
         * the interrupted one (its interrupt would close the new channel at once), or the
         * segment is retired.
         */
        void reopen(FileChannel broken, ClosedChannelException e) throws IOException {
            synchronized (reopenLock) {
                if (!retired && channel == broken && !broken.isOpen()) {
                    channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
                }
            }
            if (retired || e instanceof java.nio.channels.ClosedByInterruptException) {
                throw e;
            }
        }

        void retire() throws IOException {
            synchronized (reopenLock) {
                retired = true;
                channel.close();
            }
        }
    }

    /** Where the current version of an object is: its record and, inside it, the content. */
    /**
     * The current version of an object: its metadata, kept compact (the index holds one per stored
     * object, for as long as it is stored: the MD5 ETag as two longs instead of a string, the time
     * as a number; {@link #info()} makes the {@link ObjectInfo} when it is asked for), and where its
     * record is. The content is the record's last {@code size} bytes.
     */
    private record Entry(String key, long size, long etagHigh, long etagLow, String otherEtag, long modifiedMillis,
                         ObjectAttributes attributes, Segment segment, long position, int length) {

        static Entry of(ObjectInfo info, Segment segment, long position, int length) {
            String etag = info.etag();
            long high = 0;
            long low = 0;
            String other = etag;
            if (etag.length() == 34 && etag.charAt(0) == '"' && etag.charAt(33) == '"' && lowerHex(etag)) {
                high = Long.parseUnsignedLong(etag, 1, 17, 16);
                low = Long.parseUnsignedLong(etag, 17, 33, 16);
                other = null;
            }
            return new Entry(info.key(), info.size(), high, low, other, info.lastModified().toEpochMilli(),
                    info.attributes(), segment, position, length);
        }

        private static boolean lowerHex(String etag) {
            for (int i = 1; i < 33; i++) {
                char c = etag.charAt(i);
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                    return false;
                }
            }
            return true;
        }

        String etag() {
            if (otherEtag != null) {
                return otherEtag;
            }
            return '"' + Digests.HEX.toHexDigits(etagHigh) + Digests.HEX.toHexDigits(etagLow) + '"';
        }

        ObjectInfo info() {
            return new ObjectInfo(key, size, etag(), java.time.Instant.ofEpochMilli(modifiedMillis), attributes);
        }

        long contentPosition() {
            return position + length - size;
        }

        /** The same object, moved to the record {@code a}. */
        Entry at(Appended a) {
            return new Entry(key, size, etagHigh, etagLow, otherEtag, modifiedMillis, attributes, a.segment(),
                    a.position(), a.length());
        }
    }

    private record Bucket(ConcurrentSkipListMap<String, Entry> index) {}

    /** An appended record not yet known to be durable. */
    private record Appended(Segment segment, long position, int length) {}

    private final Path root;
    private final Path dir;
    private final boolean fsync;
    private final long segmentBytes;
    private final InstantSource clock;
    private final DataDirectory.Lock dirLock;
    private final ReentrantReadWriteLock bucketsLock = new ReentrantReadWriteLock();
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
    private final DataDirectory.KeyLocks keyLocks = new DataDirectory.KeyLocks();
    private final ReentrantLock appendLock = new ReentrantLock();
    /** Oldest first; the last is the one appended to. Changed under the append lock. */
    private final ArrayDeque<Segment> segments = new ArrayDeque<>();
    private final ExecutorService compactor;
    private final AtomicBoolean compactionQueued = new AtomicBoolean();
    private volatile Segment head;
    private volatile String failure;
    private volatile boolean closed;
    /** Tests: thrown by the next directory sync instead of syncing (a disk that fails it). */
    volatile IOException directorySyncFault;

    private SegmentBackend(Path root, boolean fsync, long segmentBytes, InstantSource clock,
                           DataDirectory.Lock dirLock) {
        this.root = root;
        this.dir = root.resolve(SEGMENTS_DIR);
        this.fsync = fsync;
        this.segmentBytes = segmentBytes;
        this.clock = clock;
        this.dirLock = dirLock;
        this.compactor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fake-s3-compactor");
            t.setDaemon(true);
            return t;
        });
    }

    /** As {@link #open(Path, boolean, InstantSource, long)} with 64 MiB segments. */
    public static SegmentBackend open(Path root, boolean fsync, InstantSource clock) throws IOException {
        return open(root, fsync, clock, DEFAULT_SEGMENT_BYTES);
    }

    /**
     * Opens (creating if needed) a data directory, locks it against other processes, replays its
     * log into the index and starts a new segment.
     *
     * @param fsync        whether records are synced before a call returns (off only for tests
     *                     that care about restarts, not crashes)
     * @param segmentBytes the size at which a new segment is started (a larger record gets a
     *                     segment of its own)
     * @throws IOException if the directory cannot be used or is locked by another backend
     */
    public static SegmentBackend open(Path root, boolean fsync, InstantSource clock, long segmentBytes)
            throws IOException {
        Objects.requireNonNull(root, "root");
        Objects.requireNonNull(clock, "clock");
        if (segmentBytes < 4096) {
            throw new IllegalArgumentException("segmentBytes must be at least 4096, got " + segmentBytes);
        }
        Path absolute = root.toAbsolutePath().normalize();
        DataDirectory.Lock lock = DataDirectory.lock(absolute, fsync);
        SegmentBackend backend = new SegmentBackend(absolute, fsync, segmentBytes, clock, lock);
        try {
            backend.recover();
        } catch (IOException | RuntimeException e) {
            backend.close();
            throw e;
        }
        return backend;
    }

    public Path root() {
        return root;
    }

    /** Tests and metrics: the segment files, oldest first. */
    List<Path> segmentFiles() {
        appendLock.lock();
        try {
            return segments.stream().map(s -> s.path).toList();
        } finally {
            appendLock.unlock();
        }
    }

    // ---- recovery

    private void recover() throws IOException {
        // The bucket list first: it is what marks the layout (DataLayout.detect), while a
        // directory "segments" alone would look like a bucket of the file layout.
        List<String> bucketNames = readBuckets();
        if (!Files.isDirectory(dir)) {
            Files.createDirectory(dir);
            syncIfDurable(root);
        }
        List<Long> ids = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                Long id = segmentId(name);
                if (id == null) {
                    log.warn("ignoring {}: not a segment", entry);
                    continue;
                }
                ids.add(id);
            }
        }
        ids.sort(null);
        Map<String, ConcurrentSkipListMap<String, Entry>> replayed = new HashMap<>();
        for (long id : ids) {
            Path path = dir.resolve(segmentName(id));
            Segment segment = new Segment(id, path, FileChannel.open(path, StandardOpenOption.READ,
                    StandardOpenOption.WRITE));
            segments.addLast(segment);
            replay(segment, replayed);
        }
        int objects = 0;
        for (String name : bucketNames) {
            ConcurrentSkipListMap<String, Entry> index = replayed.remove(name);
            index = index == null ? new ConcurrentSkipListMap<>(KeyOrder.INSTANCE) : index;
            objects += index.size();
            buckets.put(name, new Bucket(index));
        }
        for (var orphan : replayed.entrySet()) {
            if (!orphan.getValue().isEmpty()) {
                log.warn("{}: dropping {} objects of bucket {}, which does not exist", root,
                        orphan.getValue().size(), orphan.getKey());
            }
            for (Entry e : orphan.getValue().values()) {
                e.segment().live.addAndGet(-e.length());
            }
        }
        long next = ids.isEmpty() ? 1 : ids.get(ids.size() - 1) + 1;
        head = createSegment(next);
        segments.addLast(head);
        log.info("opened {}: {} segments, {} buckets, {} objects", root, segments.size(), buckets.size(), objects);
        maybeCompact();
    }

    private static Long segmentId(String name) {
        if (name.length() != 20 + SUFFIX.length() || !name.endsWith(SUFFIX)) {
            return null;
        }
        for (int i = 0; i < 20; i++) {
            if (name.charAt(i) < '0' || name.charAt(i) > '9') {
                return null;
            }
        }
        return Long.parseLong(name, 0, 20, 10);
    }

    private static String segmentName(long id) {
        return String.format("%020d%s", id, SUFFIX);
    }

    private List<String> readBuckets() throws IOException {
        Path file = root.resolve(BUCKETS_FILE);
        if (!Files.exists(file)) {
            if (Files.isDirectory(dir)) {
                try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
                    if (entries.iterator().hasNext()) {
                        // Opening would drop every object as belonging to no bucket.
                        throw new IOException(dir + " holds log segments but " + file + " is missing: restore it"
                                + " (one bucket name per line) or move " + dir + " away to start empty");
                    }
                }
            }
            writeBuckets(List.of()); // marks the directory as this layout from the start
            return List.of();
        }
        List<String> names = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isEmpty()) {
                if (BucketNames.problem(line) != null) {
                    throw new IOException(file + " names an invalid bucket: " + line);
                }
                names.add(line);
            }
        }
        return names;
    }

    /** Replaces the bucket list durably with {@code names}. */
    private void writeBuckets(java.util.Collection<String> names) throws IOException {
        Path file = root.resolve(BUCKETS_FILE);
        Path temp = root.resolve(BUCKETS_FILE + ".tmp");
        StringBuilder text = new StringBuilder();
        for (String n : new java.util.TreeSet<>(names)) {
            text.append(n).append('\n');
        }
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = StandardCharsets.UTF_8.encode(text.toString());
            while (b.hasRemaining()) {
                ch.write(b);
            }
            if (fsync) {
                ch.force(true);
            }
        }
        // Up to here the old list is intact. From the rename on, a failure leaves it unknown which
        // list a restart reads: were the backend to go on, a put into a bucket that it still
        // has but the disk no longer lists would be acknowledged and then dropped at the restart.
        try {
            Files.move(temp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            syncIfDurable(root);
        } catch (IOException e) {
            fail("cannot replace " + file + ": " + e);
            throw e;
        }
    }

    /** Applies a segment's intact records in order; cuts it at the first that is not. */
    private void replay(Segment segment, Map<String, ConcurrentSkipListMap<String, Entry>> replayed)
            throws IOException {
        long size = segment.channel().size();
        long position = 0;
        ByteBuffer fixed = ByteBuffer.allocate(FIXED);
        while (position + FIXED <= size) {
            fixed.clear();
            ObjectFile.readFully(segment.channel(), fixed, position);
            fixed.flip();
            int length = fixed.getInt(8);
            if (fixed.getInt(0) != MAGIC || length < FIXED || length > size - position) {
                break;
            }
            ByteBuffer record = ByteBuffer.allocate(length);
            ObjectFile.readFully(segment.channel(), record, position);
            record.flip();
            CRC32C crc = new CRC32C();
            crc.update(record.slice(8, length - 8));
            if ((int) crc.getValue() != record.getInt(4)) {
                break;
            }
            try {
                apply(segment, position, record, replayed);
            } catch (IOException | RuntimeException e) {
                // The checksum held, so this is not a torn write: refuse to guess.
                throw new IOException("corrupt record at " + position + " of " + segment.path + ": " + e.getMessage(), e);
            }
            position += length;
        }
        if (position < size) {
            log.warn("{}: cutting {} bytes after offset {}: a write that was in progress when the server stopped",
                    segment.path, size - position, position);
            segment.channel().truncate(position);
            if (fsync) {
                segment.channel().force(true);
            }
        }
        segment.end = position;
        segment.synced = position;
    }

    private static void apply(Segment segment, long position, ByteBuffer record,
                              Map<String, ConcurrentSkipListMap<String, Entry>> replayed) throws IOException {
        int length = record.limit();
        record.position(12);
        byte type = record.get();
        String bucket = readShortString(record);
        ConcurrentSkipListMap<String, Entry> index =
                replayed.computeIfAbsent(bucket, b -> new ConcurrentSkipListMap<>(KeyOrder.INSTANCE));
        switch (type) {
            case PUT -> {
                int headerStart = record.position();
                ObjectFile.Header header = ObjectFile.decode(record);
                long contentPosition = headerStart + header.contentOffset();
                if (contentPosition + header.info().size() != length) {
                    throw new IOException("record length does not match the object's size");
                }
                Entry previous = index.put(header.info().key(), Entry.of(header.info(), segment, position, length));
                if (previous != null) {
                    previous.segment().live.addAndGet(-previous.length());
                }
                segment.live.addAndGet(length);
            }
            case DELETE -> {
                int keyLength = record.getInt();
                if (keyLength < 0 || keyLength != record.remaining()) {
                    throw new IOException("bad key length " + keyLength);
                }
                String key = StandardCharsets.UTF_8.decode(record).toString();
                Entry previous = index.remove(key);
                if (previous != null) {
                    previous.segment().live.addAndGet(-previous.length());
                }
            }
            default -> throw new IOException("unknown record type " + type);
        }
    }

    private static String readShortString(ByteBuffer record) throws IOException {
        int n = Short.toUnsignedInt(record.getShort());
        if (n > record.remaining()) {
            throw new IOException("name runs past the record");
        }
        byte[] b = new byte[n];
        record.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    // ---- appending

    /** Builds a record: the fixed part (CRC filled in here) followed by {@code payload}. */
    private static ByteBuffer[] record(byte type, String bucket, ByteBuffer... payload) {
        byte[] name = bucket.getBytes(StandardCharsets.UTF_8);
        long length = FIXED + name.length;
        for (ByteBuffer p : payload) {
            length += p.remaining();
        }
        if (length > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("record too large: " + length);
        }
        ByteBuffer head = ByteBuffer.allocate(FIXED + name.length);
        head.putInt(MAGIC).putInt(0).putInt((int) length).put(type).putShort((short) name.length).put(name).flip();
        CRC32C crc = new CRC32C();
        crc.update(head.array(), 8, head.limit() - 8);
        for (ByteBuffer p : payload) {
            // heap buffers (wrapped arrays): summed in place, without a view per buffer
            crc.update(p.array(), p.arrayOffset() + p.position(), p.remaining());
        }
        head.putInt(4, (int) crc.getValue());
        ByteBuffer[] all = new ByteBuffer[payload.length + 1];
        all[0] = head;
        System.arraycopy(payload, 0, all, 1, payload.length);
        return all;
    }

    private static int length(ByteBuffer[] record) {
        return record[0].getInt(8);
    }

    /** Writes {@code record} at the end of the newest segment (starting a new one if it is full). */
    private Appended append(ByteBuffer[] record) throws IOException {
        checkWritable();
        int length = length(record);
        appendLock.lock();
        try {
            Segment s = head;
            if (s.end > 0 && s.end + length > segmentBytes) {
                s = createSegment(s.id + 1);
                segments.addLast(s);
                head = s;
            }
            long position = s.end;
            for (int attempt = 0; ; attempt++) {
                FileChannel ch = s.channel();
                try {
                    long at = position;
                    for (ByteBuffer b : record) {
                        ByteBuffer d = b.duplicate();
                        while (d.hasRemaining()) {
                            at += ch.write(d, at);
                        }
                    }
                    break;
                } catch (ClosedChannelException e) {
                    s.reopen(ch, e); // another thread's interrupt closed it: write the record again
                    if (attempt >= 10) {
                        throw e;
                    }
                }
            }
            s.end = position + length;
            return new Appended(s, position, length);
        } finally {
            // A failed write (a full disk) leaves the end where it was: the next record is written
            // over whatever part of this one reached the file, and nothing after it was synced.
            appendLock.unlock();
        }
    }

    /** Returns once {@code a} is on disk; one {@code fdatasync} covers every record written before it. */
    private void sync(Appended a) throws IOException {
        syncTo(a.segment(), a.position() + a.length());
    }

    private void syncTo(Segment s, long upTo) throws IOException {
        if (!fsync) {
            return;
        }
        synchronized (s) {
            if (s.synced >= upTo) {
                return;
            }
            long target = s.end; // everything written so far in this segment
            checkWritable();
            for (int attempt = 0; ; attempt++) {
                FileChannel ch = s.channel();
                try {
                    ch.force(false);
                    break;
                } catch (ClosedChannelException e) {
                    // Closed by an interrupt, not a failed sync: what was written is still in the
                    // page cache, and a sync through the reopened channel covers it.
                    s.reopen(ch, e);
                    if (attempt >= 10) {
                        throw e;
                    }
                } catch (IOException e) {
                    fail("cannot sync " + s.path + ": " + e);
                    throw e;
                }
            }
            s.synced = target;
        }
    }

    private Segment createSegment(long id) throws IOException {
        Path path = dir.resolve(segmentName(id));
        FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            syncIfDurable(dir);
        } catch (IOException e) {
            // Whether the new file's name is durable is unknown; nothing is written to it.
            channel.close();
            fail("cannot sync " + dir + " after creating " + path.getFileName() + ": " + e);
            throw e;
        }
        return new Segment(id, path, channel);
    }

    private void fail(String why) {
        if (failure == null) {
            failure = why;
            log.error("fake S3 storage at {} refuses writes until it is reopened: {}", root, why);
        }
    }

    private void checkWritable() throws IOException {
        String f = failure;
        if (f != null) {
            throw new IOException("storage failed earlier (" + f + "); writes are refused until the server restarts");
        }
    }

    // ---- buckets

    @Override
    public CreateBucketResult createBucket(String bucket) {
        BucketNames.requireValid(bucket);
        bucketsLock.writeLock().lock();
        try {
            ensureOpen();
            if (buckets.containsKey(bucket)) {
                return CreateBucketResult.ALREADY_EXISTS;
            }
            checkWritable();
            List<String> names = new ArrayList<>(buckets.keySet());
            names.add(bucket);
            writeBuckets(names);
            buckets.put(bucket, new Bucket(new ConcurrentSkipListMap<>(KeyOrder.INSTANCE)));
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
            checkWritable();
            List<String> names = new ArrayList<>(buckets.keySet());
            names.remove(bucket);
            writeBuckets(names);
            buckets.remove(bucket);
            return DeleteBucketResult.DELETED;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete bucket " + bucket + ": " + e, e);
        } finally {
            bucketsLock.writeLock().unlock();
        }
    }

    // ---- objects

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
            byte[] header = ObjectFile.encodeHeader(info);
            ByteBuffer[] record = record(PUT, bucket, ByteBuffer.wrap(header), ByteBuffer.wrap(content));
            ReentrantLock keyLock = keyLocks.of(bucket, key);
            keyLock.lock();
            try {
                if (!holds(condition, b.index().get(key))) {
                    return new PutResult.PreconditionFailed();
                }
                Appended a = append(record);
                sync(a);
                install(b, key, Entry.of(info, a.segment(), a.position(), a.length()));
            } finally {
                keyLock.unlock();
            }
            return new PutResult.Stored(info);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store " + bucket + "/" + key + ": " + e, e);
        } finally {
            bucketsLock.readLock().unlock();
        }
    }

    /** Points the index at a durable put record; its content starts {@code contentOffset} into it. */
    private void install(Bucket b, String key, Entry entry) {
        entry.segment().live.addAndGet(entry.length());
        Entry previous = b.index().put(key, entry);
        if (previous != null) {
            released(previous.segment(), previous.length());
        }
    }

    private static boolean holds(PutCondition condition, Entry current) {
        return DataDirectory.holds(condition, current == null ? null : current.etag());
    }

    @Override
    public GetResult get(String bucket, String key, ByteRange range) {
        ensureOpen();
        Bucket b = buckets.get(bucket);
        if (b == null) {
            return new GetResult.NoSuchBucket();
        }
        // A compaction may move the object and close the segment it was read from: look again.
        for (int attempt = 0; ; attempt++) {
            Entry e = b.index().get(key);
            if (e == null) {
                return new GetResult.NoSuchKey();
            }
            ObjectInfo info = e.info();
            try {
                if (range == null) {
                    return new GetResult.Found(info, read(e.segment(), e.contentPosition(), info.size()));
                }
                Optional<ByteRange.Resolved> resolved = range.resolve(info.size());
                if (resolved.isEmpty()) {
                    return new GetResult.RangeNotSatisfiable(info);
                }
                ByteRange.Resolved r = resolved.get();
                return new GetResult.Partial(info, read(e.segment(), e.contentPosition() + r.first(), r.length()), r);
            } catch (java.nio.channels.ClosedByInterruptException interrupted) {
                throw new UncheckedIOException("cannot read " + bucket + "/" + key + ": interrupted", interrupted);
            } catch (ClosedChannelException moved) {
                if (closed || attempt >= 100) {
                    throw new UncheckedIOException("cannot read " + bucket + "/" + key + ": " + moved, moved);
                }
            } catch (IOException ex) {
                throw new UncheckedIOException("cannot read " + bucket + "/" + key + ": " + ex, ex);
            }
        }
    }

    private static byte[] read(Segment segment, long position, long length) throws IOException {
        if (length > Integer.MAX_VALUE - 8) {
            throw new IOException("object too large to read into memory: " + length);
        }
        ByteBuffer buffer = ByteBuffer.allocate((int) length);
        readFully(segment, buffer, position);
        return buffer.array();
    }

    /**
     * Reads from a segment through whichever channel it has. Throws {@link ClosedChannelException}
     * when the segment was retired (the caller looks the object up again) or this thread was
     * interrupted.
     */
    private static void readFully(Segment segment, ByteBuffer buffer, long position) throws IOException {
        for (int attempt = 0; ; attempt++) {
            FileChannel ch = segment.channel();
            try {
                ObjectFile.readFully(ch, buffer.clear(), position);
                return;
            } catch (ClosedChannelException e) {
                segment.reopen(ch, e);
                if (attempt >= 10) {
                    throw e;
                }
            }
        }
    }

    @Override
    public HeadResult head(String bucket, String key) {
        ensureOpen();
        Bucket b = buckets.get(bucket);
        if (b == null) {
            return new HeadResult.NoSuchBucket();
        }
        Entry e = b.index().get(key);
        return e == null ? new HeadResult.NoSuchKey() : new HeadResult.Found(e.info());
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
                byte[] name = key.getBytes(StandardCharsets.UTF_8);
                ByteBuffer keyPart = ByteBuffer.allocate(4 + name.length).putInt(name.length).put(name).flip();
                sync(append(record(DELETE, bucket, keyPart)));
                Entry previous = b.index().remove(key);
                released(previous.segment(), previous.length());
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
        return Listings.page(b.index(), Entry::info, query);
    }

    // ---- space

    /** A record of {@code segment} is no longer needed. */
    private void released(Segment segment, int length) {
        segment.live.addAndGet(-length);
        maybeCompact();
    }

    /** Whether the oldest segment should be compacted and removed now. */
    private boolean compactionDue() {
        appendLock.lock();
        try {
            Segment oldest = segments.peekFirst();
            if (oldest == null || oldest == head) {
                return false;
            }
            long live = oldest.live.get();
            if (live * 2 <= oldest.end || oldest.end < segmentBytes / 8) {
                return true;
            }
            long total = 0;
            long totalLive = 0;
            for (Segment s : segments) {
                total += s.end;
                totalLive += s.live.get();
            }
            return total > 2 * totalLive + 2 * segmentBytes;
        } finally {
            appendLock.unlock();
        }
    }

    private void maybeCompact() {
        if (closed || failure != null || !compactionDue() || !compactionQueued.compareAndSet(false, true)) {
            return;
        }
        try {
            compactor.execute(() -> {
                compactionQueued.set(false);
                try {
                    while (!closed && failure == null && compactionDue()) {
                        compactOldest();
                    }
                } catch (IOException | RuntimeException e) {
                    if (!closed) {
                        log.warn("compaction of {} failed; the space stays in use", root, e);
                    }
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            compactionQueued.set(false); // closing
        }
    }

    /**
     * Copies the live records of the oldest segment to the newest, makes the copies durable, then
     * deletes the segment (durably, before any newer one may go).
     */
    private void compactOldest() throws IOException {
        Segment oldest;
        appendLock.lock();
        try {
            oldest = segments.peekFirst();
            if (oldest == null || oldest == head) {
                return;
            }
        } finally {
            appendLock.unlock();
        }
        long position = 0;
        long moved = 0;
        ByteBuffer fixed = ByteBuffer.allocate(FIXED);
        // The whole segment is read, even once nothing in it looks live: a put appended just
        // before the segment stopped being the newest becomes live only when its sync returns,
        // and moveIfLive waits for that on the key's lock.
        while (position < oldest.end && !closed) {
            fixed.clear();
            readFully(oldest, fixed, position);
            int length = fixed.getInt(8);
            byte type = fixed.get(12);
            if (type == PUT) {
                ByteBuffer record = ByteBuffer.allocate(length);
                readFully(oldest, record, position);
                record.flip();
                if (moveIfLive(oldest, position, record)) {
                    moved += length;
                }
            }
            position += length;
        }
        if (closed) {
            return;
        }
        if (oldest.live.get() != 0) {
            throw new IOException(oldest.path + " still has " + oldest.live.get() + " live bytes after compaction");
        }
        // A delete appended just before the segment stopped being the newest may still be on its
        // way to sync it (deletes are not moved: nothing older is left for them to cancel). Synced
        // to its end now, the segment answers such a sync without touching the channel closed below.
        syncTo(oldest, oldest.end);
        appendLock.lock();
        try {
            segments.removeFirst();
        } finally {
            appendLock.unlock();
        }
        oldest.retire();
        Files.delete(oldest.path);
        syncIfDurable(dir);
        log.debug("removed {} ({} bytes, {} moved)", oldest.path, oldest.end, moved);
    }

    /** Appends a copy of the record at {@code position} if it is still the current one. */
    private boolean moveIfLive(Segment from, long position, ByteBuffer record) throws IOException {
        record.position(FIXED - 2);
        String bucketName = readShortString(record);
        bucketsLock.readLock().lock();
        try {
            ensureOpen();
            Bucket b = buckets.get(bucketName);
            if (b == null) {
                return false;
            }
            String key = ObjectFile.decode(record).info().key();
            ReentrantLock keyLock = keyLocks.of(bucketName, key);
            keyLock.lock();
            try {
                Entry e = b.index().get(key);
                if (e == null || e.segment() != from || e.position() != position) {
                    return false;
                }
                Appended a = append(new ByteBuffer[] {record.rewind()});
                sync(a);
                install(b, key, e.at(a));
                return true;
            } finally {
                keyLock.unlock();
            }
        } finally {
            bucketsLock.readLock().unlock();
        }
    }

    // ---- lifecycle

    @Override
    public void close() {
        compactor.shutdown();
        bucketsLock.writeLock().lock(); // waits for operations in progress
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            bucketsLock.writeLock().unlock();
        }
        try {
            if (!compactor.awaitTermination(10, TimeUnit.SECONDS)) {
                log.warn("compaction of {} did not stop within 10 s", root);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        appendLock.lock();
        try {
            for (Segment s : segments) {
                try {
                    s.retire();
                } catch (IOException e) {
                    log.warn("cannot close {}", s.path, e);
                }
            }
            segments.clear();
        } finally {
            appendLock.unlock();
        }
        try {
            dirLock.release();
        } catch (IOException e) {
            log.warn("cannot release the lock of {}", root, e);
        }
        buckets.clear();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("backend is closed");
        }
    }

    private void syncIfDurable(Path directory) throws IOException {
        if (fsync) {
            IOException fault = directorySyncFault;
            if (fault != null) {
                directorySyncFault = null;
                throw fault;
            }
            DataDirectory.sync(directory);
        }
    }
}
