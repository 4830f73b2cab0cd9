package io.weaseldb.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.LogLayout;
import io.weaseldb.log.LogRecovery;
import io.weaseldb.log.Term;
import io.weaseldb.testing.ManualClock;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What WeaselDB needs from an S3-compatible server, checked through {@link SdkObjectStore} (the
 * AWS SDK) over real HTTP. Subclasses run it against each server: the fake S3, S3Proxy, MinIO.
 */
abstract class ObjectStoreContract {
    protected SdkObjectStore store;
    private static final AtomicInteger BUCKETS = new AtomicInteger();

    protected abstract URI endpoint();

    protected abstract String accessKey();

    protected abstract String secretKey();

    @BeforeEach
    void connect() throws Exception {
        String bucket = "contract-" + ProcessHandle.current().pid() + "-" + BUCKETS.incrementAndGet();
        store = new SdkObjectStore(new SdkObjectStore.Settings(endpoint(), "us-east-1", bucket, accessKey(), secretKey(),
                Duration.ofSeconds(10), 32), new SimpleMeterRegistry());
        store.ensureBucket(true).get(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void disconnect() {
        store.close();
    }

    static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void conditionalCreateSucceedsOnceAndReportsExisting() throws Exception {
        assertEquals(ObjectStore.PutResult.CREATED, await(store.putIfAbsent("log/a", b("first"))));
        assertEquals(ObjectStore.PutResult.ALREADY_EXISTS, await(store.putIfAbsent("log/a", b("second"))));
        assertArrayEquals(b("first"), await(store.get("log/a")));
    }

    @Test
    void exactlyOneOfManyConcurrentConditionalCreatesWins() throws Exception {
        for (int round = 0; round < 5; round++) {
            String key = "race/" + round;
            List<CompletableFuture<ObjectStore.PutResult>> racers = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                racers.add(store.putIfAbsent(key, b("racer-" + i)));
            }
            int created = 0;
            for (var r : racers) {
                if (await(r) == ObjectStore.PutResult.CREATED) {
                    created++;
                }
            }
            assertEquals(1, created, "round " + round);
        }
    }

    @Test
    void readsWholeObjectsAndRanges() throws Exception {
        byte[] data = new byte[100_000];
        new java.util.Random(3).nextBytes(data);
        await(store.put("obj", data));
        assertArrayEquals(data, await(store.get("obj")));
        assertArrayEquals(java.util.Arrays.copyOfRange(data, 10, 110), await(store.getRange("obj", 10, 100)));
        assertArrayEquals(java.util.Arrays.copyOfRange(data, 99_990, 100_000), await(store.getRange("obj", 99_990, 100)));
        var e = assertThrows(ExecutionException.class, () -> await(store.get("missing")));
        assertEquals(StorageException.Kind.NOT_FOUND, StorageException.of(e).kind());
    }

    @Test
    void listsInKeyOrderWithPaginationAndStartAfter() throws Exception {
        List<CompletableFuture<Void>> puts = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            puts.add(store.put(String.format("p/%03d", i), b("x")));
        }
        await(store.put("q/other", b("x")));
        for (var p : puts) {
            await(p);
        }
        List<String> keys = new ArrayList<>();
        String token = null;
        int pages = 0;
        do {
            var page = await(store.list("p/", null, token, 10));
            page.entries().forEach(en -> keys.add(en.key()));
            token = page.continuationToken();
            pages++;
        } while (token != null);
        assertEquals(3, pages);
        assertEquals(25, keys.size());
        assertEquals("p/000", keys.get(0));
        assertEquals("p/024", keys.get(24));
        var after = await(store.list("p/", "p/020", null, 100));
        assertEquals(List.of("p/021", "p/022", "p/023", "p/024"), after.entries().stream().map(ObjectStore.Entry::key).toList());
    }

    @Test
    void deletesInBulkAndIgnoresMissingKeys() throws Exception {
        await(store.put("d/1", b("x")));
        await(store.put("d/2", b("x")));
        await(store.delete(List.of("d/1", "d/2", "d/never")));
        assertEquals(0, await(store.list("d/", null, null, 10)).entries().size());
    }

    @Test
    void recoveryFindsTheTailAndTheClaimFencesARacer() throws Exception {
        LogLayout layout = new LogLayout("db/");
        LogRecovery recovery = new LogRecovery(store, layout, 64, 30_000);
        Term first = recovery.claim(recovery.findTail(), "A", new ManualClock());
        assertEquals(0, first.startVersion());
        BatchHeader h = new BatchHeader(BatchHeader.DATA, 1, "A", 1, 1, 0, -1, 1, 0, 1, 0);
        BatchCodec.Encoder e = new BatchCodec.Encoder();
        e.append(new io.weaseldb.txn.Transaction("r", 1, -1, 0, List.of()));
        assertEquals(ObjectStore.PutResult.CREATED, await(store.putIfAbsent(layout.objectKey(1), e.seal(h))));

        LogRecovery.Tail tail = recovery.findTail();
        assertEquals(1, tail.lastVersion());
        Term second = recovery.claim(tail, "B", new ManualClock());
        assertEquals(new Term(2, "B", 2, 1), second);
        // a third server that listed before B's claim loses the race for version 2
        assertThrows(LogRecovery.LostClaimException.class, () -> recovery.claim(tail, "C", new ManualClock()));
    }
}
