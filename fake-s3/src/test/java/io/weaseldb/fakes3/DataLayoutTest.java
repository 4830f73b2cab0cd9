package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A data directory keeps the layout it was made with; the configured one is for new directories. */
class DataLayoutTest {
    @TempDir
    Path dir;

    @Test
    void aNewOrEmptyDirectoryGetsTheConfiguredLayout() throws Exception {
        Path missing = dir.resolve("missing");
        assertEquals(DataLayout.SEGMENTS, DataLayout.detect(missing, DataLayout.SEGMENTS));
        assertEquals(DataLayout.FILES, DataLayout.detect(missing, DataLayout.FILES));
        Path empty = Files.createDirectory(dir.resolve("empty"));
        Files.writeString(empty.resolve(".lock"), "");
        assertEquals(DataLayout.FILES, DataLayout.detect(empty, DataLayout.FILES));
        try (ObjectBackend b = DataLayout.open(empty, DataLayout.SEGMENTS, false, InstantSource.system())) {
            assertInstanceOf(SegmentBackend.class, b);
        }
    }

    @Test
    void aFirstStartThatStopsBeforeItsBucketListIsNotTakenForTheFileLayout() throws Exception {
        // The first start of the segment layout fails (or the machine stops) before the bucket
        // list that marks the layout is written. Here the list's temp file cannot be created.
        Path root = Files.createDirectory(dir.resolve("data"));
        Path blocker = Files.createDirectories(root.resolve(SegmentBackend.BUCKETS_FILE + ".tmp").resolve("x"));
        assertThrows(java.io.IOException.class, () -> SegmentBackend.open(root, true, InstantSource.system()));
        Files.delete(blocker);
        Files.delete(blocker.getParent());
        // Nothing was stored: the directory is new, not a file layout with a bucket "segments".
        assertEquals(DataLayout.SEGMENTS, DataLayout.detect(root, DataLayout.SEGMENTS));
        try (ObjectBackend b = DataLayout.open(root, DataLayout.SEGMENTS, true, InstantSource.system())) {
            assertInstanceOf(SegmentBackend.class, b);
            assertEquals(false, b.bucketExists(SegmentBackend.SEGMENTS_DIR));
        }
    }

    @Test
    void aDirectoryWithDataKeepsItsLayout() throws Exception {
        Path files = dir.resolve("files");
        try (ObjectBackend b = DataLayout.open(files, DataLayout.FILES, false, InstantSource.system())) {
            assertInstanceOf(DirectoryBackend.class, b);
            b.createBucket("weaseldb");
        }
        assertEquals(DataLayout.FILES, DataLayout.detect(files, DataLayout.SEGMENTS));
        try (ObjectBackend b = DataLayout.open(files, DataLayout.SEGMENTS, false, InstantSource.system())) {
            assertInstanceOf(DirectoryBackend.class, b);
        }

        Path segments = dir.resolve("segments");
        try (ObjectBackend b = DataLayout.open(segments, DataLayout.SEGMENTS, false, InstantSource.system())) {
            b.createBucket("weaseldb");
        }
        assertEquals(DataLayout.SEGMENTS, DataLayout.detect(segments, DataLayout.FILES));
        try (ObjectBackend b = DataLayout.open(segments, DataLayout.FILES, false, InstantSource.system())) {
            assertInstanceOf(SegmentBackend.class, b);
            assertEquals(true, b.bucketExists("weaseldb"));
        }
        // A bucket called "buckets" in the file layout is a directory, not the segment layout's file.
        Path named = dir.resolve("named");
        try (ObjectBackend b = DataLayout.open(named, DataLayout.FILES, false, InstantSource.system())) {
            b.createBucket("buckets");
        }
        assertEquals(DataLayout.FILES, DataLayout.detect(named, DataLayout.SEGMENTS));
    }
}
