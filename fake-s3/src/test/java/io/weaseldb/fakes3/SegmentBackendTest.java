package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SegmentBackendTest extends ObjectBackendContractTest {
    /** Small segments, so that a few dozen objects roll, compact and remove several. */
    private static final long SEGMENT = 4096;

    @TempDir
    Path dir;

    @Override
    protected ObjectBackend open() throws IOException {
        return SegmentBackend.open(dir.resolve("data"), true, clock, SEGMENT);
    }

    private SegmentBackend segments() {
        return (SegmentBackend) backend;
    }

    private SegmentBackend reopen() throws IOException {
        backend.close();
        SegmentBackend b = SegmentBackend.open(dir.resolve("data"), true, clock, SEGMENT);
        backend = b;
        return b;
    }

    private byte[] content(String key) {
        var r = backend.get("bkt", key, null);
        return assertInstanceOf(ObjectBackend.GetResult.Found.class, r).content();
    }

    @Test
    void reopeningReplaysPutsDeletesBucketsAndMetadata() throws IOException {
        var attrs = new ObjectAttributes("application/x-weasel", Optional.of(new ObjectChecksum(
                ChecksumAlgorithm.SHA256, ChecksumAlgorithm.SHA256.compute(bytes("v1"), 0, 2))), Map.of("k", "v"));
        var stored = assertInstanceOf(ObjectBackend.PutResult.Stored.class,
                backend.put("bkt", "log/0001", bytes("v1"), attrs, PutCondition.IF_ABSENT)).info();
        put("log/0002", "v2");
        put("log/0003", "v3");
        put("log/0002", "v2 again");
        assertEquals(ObjectBackend.DeleteResult.DELETED, backend.delete("bkt", "log/0003"));
        backend.createBucket("other");
        backend.createBucket("gone");
        assertEquals(ObjectBackend.DeleteBucketResult.DELETED, backend.deleteBucket("gone"));
        reopen();
        assertTrue(backend.bucketExists("other"));
        assertTrue(!backend.bucketExists("gone"));
        assertEquals(stored, assertInstanceOf(ObjectBackend.HeadResult.Found.class, backend.head("bkt", "log/0001")).info());
        assertEquals(List.of("log/0001", "log/0002"), keys(ListQuery.prefix("log/")));
        assertArrayEquals(bytes("v2 again"), content("log/0002"));
        assertInstanceOf(ObjectBackend.PutResult.PreconditionFailed.class,
                backend.put("bkt", "log/0001", bytes("x"), ObjectAttributes.DEFAULT, PutCondition.IF_ABSENT));
        // What is written after the restart lands in a new segment and is replayed too.
        put("log/0004", "v4");
        reopen();
        assertEquals(List.of("log/0001", "log/0002", "log/0004"), keys(ListQuery.prefix("log/")));
    }

    @Test
    void aTornLastRecordIsCutAndEverythingBeforeItKept() throws IOException {
        put("a", "first");
        put("b", "second");
        Path last = segments().segmentFiles().getLast();
        backend.close();
        long intact = Files.size(last);
        // A record that was being written when the machine stopped: its length claims more than
        // is there. Then the same with a complete length but garbage (a checksum that fails).
        try (FileChannel ch = FileChannel.open(last, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.allocate(15).putInt(0x57534547).putInt(0).putInt(5000).put((byte) 1)
                    .putShort((short) 3).flip());
        }
        backend = SegmentBackend.open(dir.resolve("data"), true, clock, SEGMENT);
        // Cut off (or, as a small old segment, already compacted into the new one and removed).
        assertTrue(!Files.exists(last) || Files.size(last) == intact, "the torn record is cut off");
        assertArrayEquals(bytes("first"), content("a"));
        assertArrayEquals(bytes("second"), content("b"));
        put("c", "third");

        // A complete length, but the bytes are not what was written: the checksum fails.
        Path lastNow = segments().segmentFiles().getLast();
        backend.close();
        long before = Files.size(lastNow);
        try (FileChannel ch = FileChannel.open(lastNow, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ByteBuffer junk = ByteBuffer.allocate(64).putInt(0x57534547).putInt(12345).putInt(64).put((byte) 1)
                    .putShort((short) 3).put(bytes("bkt"));
            ch.write(junk.position(64).flip());
        }
        backend = SegmentBackend.open(dir.resolve("data"), true, clock, SEGMENT);
        assertTrue(!Files.exists(lastNow) || Files.size(lastNow) == before, "the bad record is cut off");
        assertEquals(List.of("a", "b", "c"), keys(ListQuery.prefix("")));
        assertArrayEquals(bytes("first"), content("a"));
        assertArrayEquals(bytes("third"), content("c"));
    }

    @Test
    void objectsDeletedInOrderFreeTheirSegments() throws Exception {
        String value = "x".repeat(300);
        for (int i = 0; i < 200; i++) {
            put(String.format("log/%04d", i), value);
        }
        int filled = segments().segmentFiles().size();
        assertTrue(filled >= 10, "200 objects of 300 B fill many 4 KiB segments: " + filled);
        for (int i = 0; i < 190; i++) {
            assertEquals(ObjectBackend.DeleteResult.DELETED, backend.delete("bkt", String.format("log/%04d", i)));
        }
        // Removal is oldest first, so how many segments are left depends on how the compactor's
        // copies interleaved with the deletes; what is promised is the space: about twice what
        // is live, plus two segments.
        awaitOnDiskAtMost(2 * 10 * (value.length() + 200) + 2 * SEGMENT);
        assertTrue(segments().segmentFiles().size() < filled / 2, segments().segmentFiles().toString());
        for (int i = 190; i < 200; i++) {
            assertArrayEquals(bytes(value), content(String.format("log/%04d", i)));
        }
        reopen();
        assertEquals(10, keys(ListQuery.prefix("log/")).size());
        assertTrue(backend.bucketExists("bkt"), "the bucket's record was moved, not lost");
        for (int i = 190; i < 200; i++) {
            assertArrayEquals(bytes(value), content(String.format("log/%04d", i)));
        }
    }

    @Test
    void overwritingOneKeyKeepsTheSpaceBounded() throws Exception {
        put("pinned", "written first, kept forever");
        for (int i = 0; i < 500; i++) {
            put("policy", "version " + i + " " + "y".repeat(200));
        }
        awaitSegmentsAtMost(4);
        long bytes = 0;
        for (Path p : segments().segmentFiles()) {
            bytes += Files.size(p);
        }
        assertTrue(bytes < 4 * SEGMENT, "on disk: " + bytes);
        reopen();
        assertArrayEquals(bytes("version 499 " + "y".repeat(200)), content("policy"));
        assertArrayEquals(bytes("written first, kept forever"), content("pinned"));
    }

    @Test
    void aCopyReplayedNextToItsOriginalChangesNothing() throws IOException {
        // A compaction that stopped after copying records to the newest segment and before
        // removing the old one leaves both on disk; the later copy is the one that counts.
        put("a", "alpha");
        put("b", "beta");
        backend.close();
        Path first;
        try (var files = Files.list(dir.resolve("data").resolve(SegmentBackend.SEGMENTS_DIR))) {
            first = files.sorted().findFirst().orElseThrow();
        }
        Files.copy(first, first.resolveSibling(String.format("%020d.seg", 999)));
        backend = SegmentBackend.open(dir.resolve("data"), true, clock, SEGMENT);
        assertEquals(List.of("a", "b"), keys(ListQuery.prefix("")));
        assertArrayEquals(bytes("alpha"), content("a"));
        assertEquals(ObjectBackend.DeleteResult.DELETED, backend.delete("bkt", "a"));
        reopen();
        assertEquals(List.of("b"), keys(ListQuery.prefix("")));
    }

    @Test
    void aBucketListThatMayNotBeDurableLosesNoAcknowledgedPut() throws IOException {
        // The new list was renamed into place, but the directory sync failed: on disk the bucket
        // may or may not be gone. Whatever the backend answers next, what it acknowledges must
        // survive a restart.
        backend.createBucket("gone");
        segments().directorySyncFault = new IOException("injected: fsync of the directory failed");
        assertThrows(java.io.UncheckedIOException.class, () -> backend.deleteBucket("gone"));
        boolean stored;
        try {
            stored = backend.put("gone", "k", bytes("v"), ObjectAttributes.DEFAULT, PutCondition.NONE)
                    instanceof ObjectBackend.PutResult.Stored;
        } catch (java.io.UncheckedIOException refused) {
            stored = false;
        }
        reopen();
        if (stored) {
            var r = backend.get("gone", "k", null);
            assertArrayEquals(bytes("v"), assertInstanceOf(ObjectBackend.GetResult.Found.class, r).content());
        }
    }

    @Test
    void aSecondBackendCannotOpenTheSameDirectory() {
        IOException e = assertThrows(IOException.class,
                () -> SegmentBackend.open(dir.resolve("data"), true, clock, SEGMENT));
        assertTrue(e.getMessage().contains("in use"), e.getMessage());
    }

    @Test
    void concurrentWritesReadsAndCompactionAgreeWithAModel() throws Exception {
        int threads = 4;
        int keysPerThread = 40;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        Map<String, String> model = new ConcurrentHashMap<>();
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    // Each thread owns its keys, so its own view is the truth for them.
                    Map<String, String> mine = new HashMap<>();
                    for (int i = 0; i < 1500; i++) {
                        String key = "t" + thread + "/k" + random.nextInt(keysPerThread);
                        int op = random.nextInt(10);
                        if (op < 5) {
                            String value = key + "#" + i + "x".repeat(random.nextInt(400));
                            put(key, value);
                            mine.put(key, value);
                        } else if (op < 7) {
                            backend.delete("bkt", key);
                            mine.remove(key);
                        } else {
                            var r = backend.get("bkt", key, null);
                            String expected = mine.get(key);
                            if (expected == null) {
                                assertInstanceOf(ObjectBackend.GetResult.NoSuchKey.class, r);
                            } else {
                                assertArrayEquals(bytes(expected),
                                        assertInstanceOf(ObjectBackend.GetResult.Found.class, r).content(), key);
                            }
                        }
                    }
                    model.putAll(mine);
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        Map<String, String> expected = new TreeMap<>(model);
        assertEquals(expected, contents());
        reopen();
        assertEquals(expected, contents());
        long bytes = 0;
        for (Path p : segments().segmentFiles()) {
            bytes += Files.size(p);
        }
        long live = expected.values().stream().mapToLong(v -> v.length() + 200).sum();
        assertTrue(bytes <= 2 * live + 4 * SEGMENT, "on disk " + bytes + " for about " + live + " live");
    }

    private Map<String, String> contents() {
        Map<String, String> all = new TreeMap<>();
        for (String key : keys(ListQuery.prefix(""))) {
            all.put(key, new String(content(key), java.nio.charset.StandardCharsets.UTF_8));
        }
        return all;
    }

    private long onDisk() throws IOException {
        long bytes = 0;
        for (Path p : segments().segmentFiles()) {
            bytes += Files.size(p);
        }
        return bytes;
    }

    private void awaitOnDiskAtMost(long bytes) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (onDisk() > bytes) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("segments not compacted: " + onDisk() + " bytes in " + segments().segmentFiles());
            }
            Thread.sleep(10);
        }
    }

    @Test
    void anInterruptedCallerFailsAloneAndTheSegmentStaysReadable() throws IOException {
        put("a", "alpha");
        put("b", "beta");
        // A FileChannel closes itself when a thread is interrupted in one of its calls; the
        // channel is shared, so the others must not inherit the closed one.
        Thread.currentThread().interrupt();
        try {
            assertThrows(java.io.UncheckedIOException.class, () -> backend.get("bkt", "a", null));
        } finally {
            Thread.interrupted();
        }
        assertArrayEquals(bytes("beta"), content("b"));
        Thread.currentThread().interrupt();
        try {
            assertThrows(java.io.UncheckedIOException.class, () -> backend.put("bkt", "c", bytes("gamma"),
                    ObjectAttributes.DEFAULT, PutCondition.NONE));
        } finally {
            Thread.interrupted();
        }
        put("d", "delta"); // the newest segment takes writes again, and the backend did not stop
        assertArrayEquals(bytes("alpha"), content("a"));
        reopen();
        assertArrayEquals(bytes("delta"), content("d"));
        assertEquals(List.of("a", "b", "d"), keys(ListQuery.prefix("")));
    }

    @Test
    void segmentsWithoutTheirBucketListAreRefusedNotDropped() throws IOException {
        put("a", "alpha");
        backend.close();
        Files.delete(dir.resolve("data").resolve("buckets"));
        IOException e = assertThrows(IOException.class,
                () -> SegmentBackend.open(dir.resolve("data"), true, clock, SEGMENT));
        assertTrue(e.getMessage().contains("is missing"), e.getMessage());
        Files.writeString(dir.resolve("data").resolve("buckets"), "bkt\n");
        backend = SegmentBackend.open(dir.resolve("data"), true, clock, SEGMENT);
        assertArrayEquals(bytes("alpha"), content("a"));
    }

    private void awaitSegmentsAtMost(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (segments().segmentFiles().size() > n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("segments not compacted: " + segments().segmentFiles());
            }
            Thread.sleep(10);
        }
    }
}
