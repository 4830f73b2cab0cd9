package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirectoryBackendTest extends ObjectBackendContractTest {
    @TempDir
    Path dir;

    @Override
    protected ObjectBackend open() throws IOException {
        return DirectoryBackend.open(dir.resolve("data"), true, clock);
    }

    private DirectoryBackend reopen() throws IOException {
        backend.close();
        DirectoryBackend b = DirectoryBackend.open(dir.resolve("data"), true, clock);
        backend = b;
        return b;
    }

    @Test
    void reopeningRebuildsTheIndexWithMetadata() throws IOException {
        var attrs = new ObjectAttributes("application/x-weasel", Optional.of(new ObjectChecksum(
                ChecksumAlgorithm.SHA256, ChecksumAlgorithm.SHA256.compute(bytes("v1"), 0, 2))), Map.of("k", "v"));
        var stored = assertInstanceOf(ObjectBackend.PutResult.Stored.class,
                backend.put("bkt", "log/0001", bytes("v1"), attrs, PutCondition.IF_ABSENT)).info();
        put("log/0002", "v2");
        backend.createBucket("other");
        reopen();
        assertTrue(backend.bucketExists("other"));
        assertEquals(stored, assertInstanceOf(ObjectBackend.HeadResult.Found.class, backend.head("bkt", "log/0001")).info());
        assertEquals(List.of("log/0001", "log/0002"), keys(ListQuery.prefix("log/")));
        assertInstanceOf(ObjectBackend.PutResult.PreconditionFailed.class,
                backend.put("bkt", "log/0001", bytes("x"), ObjectAttributes.DEFAULT, PutCondition.IF_ABSENT));
    }

    @Test
    void aBucketWithoutObjectsIsDeletedWithItsStrayFiles() throws IOException {
        backend.createBucket("stray");
        Path bucketDir = dir.resolve("data").resolve("stray");
        Path outside = Files.writeString(dir.resolve("outside.txt"), "keep me");
        Files.writeString(bucketDir.resolve("notes.txt"), "not an object");
        Files.createDirectories(bucketDir.resolve("sub"));
        Files.writeString(bucketDir.resolve("sub").resolve("k-x~"), "backup");
        Files.createSymbolicLink(bucketDir.resolve("link"), outside);
        assertInstanceOf(ObjectBackend.PutResult.Stored.class,
                backend.put("stray", "obj", bytes("v"), ObjectAttributes.DEFAULT, PutCondition.NONE));
        assertEquals(ObjectBackend.DeleteBucketResult.NOT_EMPTY, backend.deleteBucket("stray"));
        assertTrue(Files.exists(bucketDir.resolve("notes.txt")));
        backend.delete("stray", "obj");

        // Used to fail with DirectoryNotEmptyException (500 InternalError over HTTP).
        assertEquals(ObjectBackend.DeleteBucketResult.DELETED, backend.deleteBucket("stray"));
        assertFalse(Files.exists(bucketDir, java.nio.file.LinkOption.NOFOLLOW_LINKS));
        assertFalse(backend.bucketExists("stray"));
        assertEquals("keep me", Files.readString(outside)); // links are removed, not followed
        backend.createBucket("stray");
        reopen();
        assertTrue(backend.bucketExists("stray"));
        assertTrue(assertInstanceOf(ObjectBackend.ListResult.Page.class, backend.list("stray", ListQuery.prefix("")))
                .contents().isEmpty());
    }

    @Test
    void leftoverTempFilesAreDroppedAtStartup() throws IOException {
        put("k", "v");
        Path bucketDir = dir.resolve("data").resolve("bkt");
        Files.write(bucketDir.resolve(".tmp-999"), bytes("half-written"));
        reopen();
        assertFalse(Files.exists(bucketDir.resolve(".tmp-999")));
        assertEquals(List.of("k"), keys(ListQuery.prefix("")));
    }

    @Test
    void noTempFilesRemainAfterAFailedCondition() throws IOException {
        put("k", "v");
        backend.put("bkt", "k", bytes("w"), ObjectAttributes.DEFAULT, PutCondition.IF_ABSENT);
        backend.put("bkt", "k", bytes("w"), ObjectAttributes.DEFAULT, new PutCondition.IfMatch("nope"));
        try (Stream<Path> files = Files.list(dir.resolve("data").resolve("bkt"))) {
            assertEquals(List.of(DirectoryBackend.fileName("k")),
                    files.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void aCorruptObjectFileStopsStartupWithItsName() throws IOException {
        put("k", "v");
        Path file = dir.resolve("data").resolve("bkt").resolve(DirectoryBackend.fileName("k"));
        byte[] content = Files.readAllBytes(file);
        content[20] ^= 0x55; // inside the header: CRC mismatch
        Files.write(file, content);
        backend.close();
        IOException e = assertThrows(IOException.class, () -> DirectoryBackend.open(dir.resolve("data"), true, clock));
        assertTrue(e.getMessage().contains(file.getFileName().toString()), e.getMessage());
        backend = new MemoryBackend(clock); // for tearDown
    }

    @Test
    void aPutIsSyncedRenamedAndItsDirectorySyncedBeforeItReturns() throws IOException {
        // A process kill cannot show a missing fsync (the page cache survives it): the order of
        // the steps is the durability promise, so it is asserted as such.
        DirectoryBackend d = (DirectoryBackend) backend;
        List<String> steps = new java.util.concurrent.CopyOnWriteArrayList<>();
        d.observeSteps(steps::add);
        put("k", "v");
        assertEquals(3, steps.size(), steps.toString());
        assertTrue(steps.get(0).startsWith("fsync .tmp-"), steps.toString());
        assertTrue(steps.get(1).startsWith("rename .tmp-") && steps.get(1).endsWith(" " + DirectoryBackend.fileName("k")),
                steps.toString());
        assertEquals("fsync dir bkt", steps.get(2));
        steps.clear();
        backend.delete("bkt", "k");
        assertEquals(List.of("unlink " + DirectoryBackend.fileName("k"), "fsync dir bkt"), steps);
    }

    @Test
    void withFsyncOffNothingIsSynced() throws IOException {
        backend.close();
        DirectoryBackend d = DirectoryBackend.open(dir.resolve("nosync"), false, clock);
        backend = d;
        backend.createBucket("bkt");
        List<String> steps = new java.util.concurrent.CopyOnWriteArrayList<>();
        d.observeSteps(steps::add);
        put("k", "v");
        assertEquals(1, steps.size(), steps.toString());
        assertTrue(steps.get(0).startsWith("rename "), steps.toString());
    }

    @Test
    void aFailedWriteSaysWhyTheFileSystemRefusedIt() throws IOException {
        // A directory where the object's file goes: the rename fails (as a full disk or
        // an I/O error fails a write; root ignores permissions, so those cannot be staged here).
        Path blocker = dir.resolve("data").resolve("bkt").resolve(DirectoryBackend.fileName("k"));
        Files.createDirectories(blocker.resolve("inside"));
        var e = assertThrows(java.io.UncheckedIOException.class,
                () -> backend.put("bkt", "k", bytes("v"), ObjectAttributes.DEFAULT, PutCondition.NONE));
        // the first line of the log names the reason, not only "cannot store bkt/k"
        assertTrue(e.getMessage().startsWith("cannot store bkt/k: java.nio.file.FileSystemException: ")
                && e.getMessage().endsWith("Is a directory"), e.getMessage());
    }

    @Test
    void aTruncatedObjectFileStopsStartup() throws IOException {
        put("k", "value");
        Path file = dir.resolve("data").resolve("bkt").resolve(DirectoryBackend.fileName("k"));
        byte[] content = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(content, content.length - 1));
        backend.close();
        assertThrows(IOException.class, () -> DirectoryBackend.open(dir.resolve("data"), true, clock));
        backend = new MemoryBackend(clock);
    }

    @Test
    void aSecondBackendCannotOpenTheSameDirectory() {
        IOException e = assertThrows(IOException.class, () -> DirectoryBackend.open(dir.resolve("data"), true, clock));
        assertTrue(e.getMessage().contains("in use"), e.getMessage());
    }

    @Test
    void fileNamesAreSafeAndInjective() {
        assertEquals("k-log%2F00000000000000000001", DirectoryBackend.fileName("log/00000000000000000001"));
        assertEquals("k-%41bc", DirectoryBackend.fileName("Abc")); // no case collisions on macOS/Windows
        assertEquals("k-%25", DirectoryBackend.fileName("%"));
        assertTrue(DirectoryBackend.fileName("..").equals("k-.."));
        String longName = DirectoryBackend.fileName("x".repeat(300));
        assertTrue(longName.startsWith("h-") && longName.length() == 66, longName);
        assertFalse(DirectoryBackend.fileName("a/b").equals(DirectoryBackend.fileName("a%2Fb")));
    }

    @Test
    void contentIsReadFromDiskAfterReopen() throws IOException {
        byte[] big = new byte[1 << 20];
        new java.util.Random(1).nextBytes(big);
        backend.put("bkt", "big", big, ObjectAttributes.DEFAULT, PutCondition.NONE);
        reopen();
        var f = assertInstanceOf(ObjectBackend.GetResult.Found.class, backend.get("bkt", "big", null));
        assertArrayEquals(big, f.content());
        var p = assertInstanceOf(ObjectBackend.GetResult.Partial.class,
                backend.get("bkt", "big", new ByteRange.FromTo(1000, 1999)));
        assertArrayEquals(java.util.Arrays.copyOfRange(big, 1000, 2000), p.content());
    }
}
