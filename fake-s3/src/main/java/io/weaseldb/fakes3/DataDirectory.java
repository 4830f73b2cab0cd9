package io.weaseldb.fakes3;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.locks.ReentrantLock;

/** What the two on-disk backends share: the directory's lock, directory syncs, per-key locks. */
final class DataDirectory {
    private static final String LOCK_FILE = ".lock";
    private static final java.util.Set<java.nio.file.OpenOption> READING = java.util.Set.of(StandardOpenOption.READ);
    private static final java.nio.file.attribute.FileAttribute<?>[] NO_ATTRIBUTES = {};

    private DataDirectory() {}

    /** The OS lock on a data directory, held while a backend has it open. */
    record Lock(FileChannel channel, FileLock lock) {
        void release() throws IOException {
            lock.release();
            channel.close();
        }
    }

    /**
     * Creates {@code dir} if needed and takes its lock.
     *
     * @throws IOException if it cannot be used, or another backend (in this process or another)
     *                     holds it
     */
    static Lock lock(Path dir, boolean fsync) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            if (fsync && dir.getParent() != null) {
                sync(dir.getParent());
            }
        }
        FileChannel channel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            channel.close();
            throw new IOException("data directory " + dir + " is in use by another fake S3 server");
        }
        return new Lock(channel, lock);
    }

    static boolean isLockFile(String name) {
        return name.equals(LOCK_FILE);
    }

    /** fsync of a directory: makes a rename, creation or unlink in it durable. */
    static void sync(Path dir) throws IOException {
        // Opening a directory for reading and forcing it is how the JDK exposes fsync(dirfd) on
        // Linux and macOS. Fixed options: FileChannel.open(path, OpenOption...) copies them into a
        // new set per call, and the file layout syncs a directory per write.
        try (FileChannel ch = FileChannel.open(dir, READING, NO_ATTRIBUTES)) {
            ch.force(true);
        }
    }

    /** Striped locks per (bucket, key): what serialises writes of one key. */
    static final class KeyLocks {
        private static final int STRIPES = 256;
        private final ReentrantLock[] locks = new ReentrantLock[STRIPES];

        KeyLocks() {
            for (int i = 0; i < STRIPES; i++) {
                locks[i] = new ReentrantLock();
            }
        }

        ReentrantLock of(String bucket, String key) {
            int h = (bucket.hashCode() * 31 + key.hashCode()) * 0x9E3779B9;
            return locks[(h >>> 24) & (STRIPES - 1)];
        }
    }

    /** Whether a put under {@code condition} may replace an object whose ETag is {@code currentEtag} (null: none). */
    static boolean holds(PutCondition condition, String currentEtag) {
        return switch (condition) {
            case PutCondition.None n -> true;
            case PutCondition.IfAbsent a -> currentEtag == null;
            case PutCondition.IfMatch m -> currentEtag != null && m.matches(currentEtag);
        };
    }
}
