package io.weaseldb.fakes3;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Locale;
import java.util.Optional;

/**
 * How a data directory stores objects. A directory that already holds data keeps the layout it
 * was made with ({@link #detect}); the configured layout applies to new, empty directories.
 */
public enum DataLayout {
    /** An append-only log of segments ({@link SegmentBackend}): one shared sync per write. */
    SEGMENTS,
    /** A file per object ({@link DirectoryBackend}): two syncs per write, objects visible as files. */
    FILES;

    /** The name used in configuration and on the command line. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<DataLayout> fromConfigName(String name) {
        for (DataLayout l : values()) {
            if (l.configName().equals(name)) {
                return Optional.of(l);
            }
        }
        return Optional.empty();
    }

    /**
     * The layout of the data in {@code root}, or {@code forNew} if it holds none yet: a segment
     * log keeps a regular file {@code buckets} at its root (which a file-per-object directory
     * cannot have: its entries are bucket directories), a file-per-object directory has bucket
     * directories.
     */
    public static DataLayout detect(Path root, DataLayout forNew) throws IOException {
        if (!Files.isDirectory(root)) {
            return forNew;
        }
        if (Files.isRegularFile(root.resolve(SegmentBackend.BUCKETS_FILE))) {
            return SEGMENTS;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(root)) {
            for (Path entry : entries) {
                if (Files.isDirectory(entry) && BucketNames.problem(entry.getFileName().toString()) == null) {
                    return FILES;
                }
            }
        }
        return forNew;
    }

    /** Opens the backend for the data in {@code root}, in its detected layout. */
    public static ObjectBackend open(Path root, DataLayout forNew, boolean fsync, InstantSource clock)
            throws IOException {
        return switch (detect(root, forNew)) {
            case SEGMENTS -> SegmentBackend.open(root, fsync, clock);
            case FILES -> DirectoryBackend.open(root, fsync, clock);
        };
    }
}
