package io.weaseldb.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Exact allocation sites per operation, from a JFR recording of a JVM run with
 * {@code -XX:-UseTLAB} and the {@code jdk.ObjectAllocationOutsideTLAB} event on. Without TLABs
 * every allocation the JIT did not eliminate is an event, so the bytes per operation are exact,
 * where JFR's usual allocation samples are weighted by TLAB refills and, in a loop that allocates
 * the same bytes per iteration, keep landing on the same few sites.
 *
 * <p>An "operation" is counted by a marker class allocated exactly once per operation (for a
 * commit through the HTTP path, {@code io.weaseldb.txn.CommitRequest}). Prints bytes and objects
 * per operation by thread role and class, then by allocation site (the innermost frames).
 *
 * <p>Run: {@code java -cp target/weaseldb.jar io.weaseldb.bench.AllocationSites FILE.jfr
 * [marker class] [frames]}; {@code docs/bench/alloc-sites.sh} records and runs it. Not thread-safe;
 * a command-line tool.
 */
public final class AllocationSites {
    private static final String EVENT = "jdk.ObjectAllocationOutsideTLAB";

    private final Map<String, long[]> byRole = new HashMap<>();
    private final Map<String, long[]> byClass = new HashMap<>();
    private final Map<String, long[]> bySite = new HashMap<>();
    private final String marker;
    private final int frames;
    private long operations;
    private long bytes;

    AllocationSites(String marker, int frames) {
        this.marker = marker;
        this.frames = frames;
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args[0].startsWith("-")) {
            System.err.println("usage: AllocationSites FILE.jfr [marker class, default io.weaseldb.txn.CommitRequest] [frames, default 8]");
            System.exit(2);
        }
        AllocationSites sites = new AllocationSites(args.length > 1 ? args[1] : "io.weaseldb.txn.CommitRequest",
                args.length > 2 ? Integer.parseInt(args[2]) : 8);
        try (RecordingFile file = new RecordingFile(Path.of(args[0]))) {
            while (file.hasMoreEvents()) {
                RecordedEvent e = file.readEvent();
                if (e.getEventType().getName().equals(EVENT)) {
                    sites.add(e);
                }
            }
        }
        sites.print(System.out, 40, 60);
    }

    void add(RecordedEvent e) {
        long size = e.getLong("allocationSize");
        String type = e.getClass("objectClass").getName();
        String thread = e.getThread() == null ? "?" : role(e.getThread().getJavaName());
        if (type.equals(marker)) {
            operations++;
        }
        bytes += size;
        String cls = thread + "  " + type;
        count(byRole, thread, size);
        count(byClass, cls, size);
        StringBuilder site = new StringBuilder(cls).append("  <-");
        RecordedStackTrace stack = e.getStackTrace();
        if (stack != null) {
            int n = 0;
            for (RecordedFrame f : stack.getFrames()) {
                if (n++ == frames) {
                    break;
                }
                String owner = f.getMethod().getType().getName();
                site.append(' ').append(owner, owner.lastIndexOf('.') + 1, owner.length()).append('.')
                        .append(f.getMethod().getName()).append(':').append(f.getLineNumber());
            }
        }
        count(bySite, site.toString(), size);
    }

    /** Thread names without their numbers, so the event loops add up as one role. */
    static String role(String threadName) {
        return threadName.replaceAll("[0-9]+", "N");
    }

    private static void count(Map<String, long[]> map, String key, long size) {
        long[] c = map.computeIfAbsent(key, k -> new long[2]);
        c[0] += size;
        c[1]++;
    }

    void print(PrintStream out, int classes, int sites) {
        if (operations == 0) {
            out.println("no " + marker + " allocated: is this a recording with -XX:-UseTLAB and " + EVENT + " on?");
            return;
        }
        out.printf("%,d bytes in %,d operations (%s allocated): %.0f bytes per operation%n%n", bytes, operations, marker,
                (double) bytes / operations);
        out.println("bytes/op  objects/op  thread role (all of its allocations)");
        top(out, byRole, Integer.MAX_VALUE);
        out.println();
        out.println("bytes/op  objects/op  thread role and class");
        top(out, byClass, classes);
        out.println();
        out.println("bytes/op  objects/op  thread role, class and allocation site (innermost frames first)");
        top(out, bySite, sites);
    }

    private void top(PrintStream out, Map<String, long[]> map, int limit) {
        map.entrySet().stream()
                .sorted(Comparator.comparingLong((Map.Entry<String, long[]> en) -> en.getValue()[0]).reversed())
                .limit(limit)
                .forEach(en -> out.printf("%8.1f  %10.2f  %s%n", (double) en.getValue()[0] / operations,
                        (double) en.getValue()[1] / operations, en.getKey()));
    }
}
