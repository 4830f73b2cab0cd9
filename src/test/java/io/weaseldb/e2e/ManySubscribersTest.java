package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.SseClient;
import io.weaseldb.testing.TestServer;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A thousand subscribers over real TCP while commits flow: each receives every acknowledged
 * transaction exactly once, in order, with an unbroken {@code prev_version} chain. Prints the
 * server JVM's heap after a GC (the server runs in this JVM) for docs/performance.md.
 */
@Timeout(240)
class ManySubscribersTest {
    static final int SUBSCRIBERS = 1000;
    static final int WRITERS = 8;
    static final int COMMITS_EACH = 150;

    @TempDir
    Path dir;

    /** What one subscriber saw, checked as events arrive (nothing is kept per event). */
    static final class Tally {
        final long after;
        long lastTxn = Long.MIN_VALUE;
        long lastPrev;
        int count;
        String error;
        final CountDownLatch ended = new CountDownLatch(1);
        volatile long reached;

        Tally(long after) {
            this.after = after;
        }

        void accept(SseClient.Event e) {
            if (e == SseClient.END) {
                ended.countDown();
                return;
            }
            if (!"transaction".equals(e.type()) || error != null) {
                return;
            }
            Map<String, Object> j = e.json();
            long v = (Long) j.get("version");
            long prev = (Long) j.get("prev_version");
            if (lastTxn != Long.MIN_VALUE && prev != lastTxn) {
                error = "version " + v + " has prev_version " + prev + " after " + lastTxn;
            } else if (lastTxn != Long.MIN_VALUE && v <= lastTxn) {
                error = "version " + v + " after " + lastTxn;
            } else if (v <= after) {
                error = "version " + v + " is not after " + after;
            }
            lastTxn = v;
            count++;
            reached = v;
        }
    }

    @Test
    void aThousandSubscribersEachReceiveEveryCommitExactlyOnceInOrder() throws Exception {
        try (TestServer s = TestServer.start(dir, "[subscription]\nmax_subscribers = 2000\n")) {
            long start = s.get("/v1/version").version();
            List<Tally> tallies = new ArrayList<>();
            List<SseClient> clients = new ArrayList<>();
            try {
                for (int i = 0; i < SUBSCRIBERS; i++) {
                    Tally t = new Tally(start);
                    tallies.add(t);
                    clients.add(SseClient.open(s.port(), "/v1/subscribe?after=" + start, t::accept));
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (!s.get("/metrics").body().contains("weaseldb_subscribers " + SUBSCRIBERS + ".0")) {
                    assertTrue(System.nanoTime() < deadline, "not all subscribers connected");
                    Thread.sleep(100);
                }

                Map<Long, String> acked = new ConcurrentHashMap<>();
                ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
                List<Future<?>> writers = new ArrayList<>();
                for (int w = 0; w < WRITERS; w++) {
                    int id = w;
                    writers.add(pool.submit(() -> {
                        for (int i = 0; i < COMMITS_EACH; i++) {
                            var r = s.commit("{\"operations\":[" + write("w" + id + "-" + i, "v".repeat(100)) + "]}");
                            assertEquals(200, r.status(), r.body());
                            acked.put(r.version(), (String) r.get("request_id"));
                        }
                        return null;
                    }));
                }
                for (Future<?> f : writers) {
                    f.get(120, TimeUnit.SECONDS);
                }
                pool.shutdown();
                long last = acked.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
                long first = acked.keySet().stream().mapToLong(Long::longValue).min().orElseThrow();

                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                for (Tally t : tallies) {
                    while (t.reached < last && t.ended.getCount() > 0) {
                        assertTrue(System.nanoTime() < deadline, "a subscriber is stuck at " + t.reached + " of " + last);
                        Thread.sleep(10);
                    }
                }
                long heapAfterGc = heapUsedAfterGc();
                for (int i = 0; i < tallies.size(); i++) {
                    Tally t = tallies.get(i);
                    assertEquals(null, t.error, "subscriber " + i);
                    assertEquals(1, t.ended.getCount(), "subscriber " + i + "'s stream ended early");
                    assertEquals(acked.size(), t.count, "subscriber " + i + " got every commit once");
                    assertEquals(last, t.lastTxn, "subscriber " + i);
                }
                // the chain is unbroken and every event is after start: with as many events as
                // acknowledged commits (the only transactions), each one arrived exactly once
                assertEquals(acked.size(), last - first + 1, "only these commits ran (no markers between them)");
                System.out.printf("%d subscribers x %d commits: all delivered; heap in use after GC (this JVM: server and clients) with the "
                        + "subscribers attached: %.1f MiB%n", SUBSCRIBERS, acked.size(), heapAfterGc / 1048576.0);
            } finally {
                for (SseClient c : clients) {
                    c.close();
                }
            }
        }
    }

    private static long heapUsedAfterGc() {
        System.gc();
        long used = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getCollectionUsage() != null) {
                used += p.getCollectionUsage().getUsed();
            }
        }
        return used;
    }
}
