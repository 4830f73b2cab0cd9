package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The worker queue and the buffered-bytes budget are bounded; beyond them clients get 503 SlowDown. */
@org.junit.jupiter.api.Timeout(120)
class LimitsTest {

    /** A memory backend whose puts wait until released, to fill the worker pool on purpose. */
    private static final class BlockingBackend extends ForwardingBackend {
        final CountDownLatch release = new CountDownLatch(1);
        final java.util.concurrent.atomic.AtomicInteger blocked = new java.util.concurrent.atomic.AtomicInteger();

        BlockingBackend() {
            super(new MemoryBackend());
        }

        @Override
        public PutResult put(String bucket, String key, byte[] content, ObjectAttributes attributes,
                             PutCondition condition) {
            blocked.incrementAndGet();
            try {
                if (!release.await(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("never released");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            return super.put(bucket, key, content, attributes, condition);
        }
    }

    private static String putHead(String key, int length) {
        return "PUT /lim/" + key + " HTTP/1.1\nHost: x\nContent-Length: " + length;
    }

    @Test
    void aFullWorkerQueueAnswersSlowDown() throws Exception {
        BlockingBackend backend = new BlockingBackend();
        FakeS3Config config = FakeS3Config.builder().bucket("lim").build();
        try (FakeS3Server server = FakeS3Server.start(config, backend, InstantSource.system(),
                new FakeS3Server.Limits(1, 1, 1 << 20));
             RawHttp first = new RawHttp(server.port());
             RawHttp second = new RawHttp(server.port());
             RawHttp third = new RawHttp(server.port())) {
            first.request(putHead("a", 1), new byte[] {1});
            assertTrue(Poll.until(Duration.ofSeconds(10), () -> backend.blocked.get() == 1)); // worker busy
            second.request(putHead("b", 1), new byte[] {2}); // queued
            assertTrue(Poll.until(Duration.ofSeconds(10), () -> server.stats().requests() == 2));
            third.request(putHead("c", 1), new byte[] {3});
            RawHttp.Response r = third.read();
            assertEquals(503, r.status());
            assertTrue(r.bodyText().contains("<Code>SlowDown</Code>"), r.bodyText());
            assertEquals(1, server.stats().rejectedBusy());
            backend.release.countDown();
            assertEquals(200, first.read().status());
            assertEquals(200, second.read().status());
            assertTrue(Poll.until(Duration.ofSeconds(5), () -> server.stats().bufferedBytes() == 0));
        }
    }

    @Test
    void theBufferedBytesBudgetAnswersSlowDown() throws Exception {
        FakeS3Config config = FakeS3Config.builder().bucket("lim").build();
        try (FakeS3Server server = FakeS3Server.start(config, new MemoryBackend(), InstantSource.system(),
                new FakeS3Server.Limits(2, 10, 100));
             RawHttp raw = new RawHttp(server.port())) {
            raw.request(putHead("small", 100), new byte[100]);
            assertEquals(200, raw.read().status());
            raw.request(putHead("big", 101), new byte[101]);
            RawHttp.Response r = raw.read();
            assertEquals(503, r.status());
            assertTrue(r.bodyText().contains("SlowDown"));
            // A client that announces a body and disappears does not keep its reservation.
            try (RawHttp quitter = new RawHttp(server.port())) {
                quitter.request(putHead("gone", 60), new byte[10]);
                assertTrue(Poll.until(Duration.ofSeconds(5), () -> server.stats().bufferedBytes() == 60));
            }
            assertTrue(Poll.until(Duration.ofSeconds(5), () -> server.stats().bufferedBytes() == 0));
            raw.request(putHead("small2", 100), new byte[100]);
            assertEquals(200, raw.read().status());
        }
    }

    @Test
    void backendFailuresAreInternalErrorsAndTheServerGoesOn() throws Exception {
        ObjectBackend failing = new ForwardingBackend(new MemoryBackend()) {
            @Override
            public PutResult put(String bucket, String key, byte[] content, ObjectAttributes attributes,
                                 PutCondition condition) {
                if (key.startsWith("io-")) {
                    throw new java.io.UncheckedIOException(new java.io.IOException("disk on fire"));
                }
                if (key.startsWith("bug-")) {
                    throw new IllegalStateException("a bug");
                }
                return super.put(bucket, key, content, attributes, condition);
            }
        };
        try (FakeS3Server server = FakeS3Server.start(FakeS3Config.builder().bucket("lim").build(), failing,
                InstantSource.system());
             RawHttp raw = new RawHttp(server.port())) {
            for (String key : new String[] {"io-1", "bug-1"}) {
                raw.request(putHead(key, 1), new byte[] {1});
                RawHttp.Response r = raw.read();
                assertEquals(500, r.status());
                assertTrue(r.bodyText().contains("<Code>InternalError</Code>"), r.bodyText());
            }
            raw.request(putHead("fine", 1), new byte[] {1});
            assertEquals(200, raw.read().status());
            assertEquals(0, server.stats().bufferedBytes());
        }
    }
}
