package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.net.URI;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class ServerLifecycleTest {
    @Test
    void aTakenPortFailsToStartAndCloseFreesThePort() throws Exception {
        int port;
        try (FakeS3Server first = FakeS3Server.start(FakeS3Config.defaults())) {
            port = first.port();
            assertEquals(URI.create("http://127.0.0.1:" + port), first.endpoint());
            FakeS3Config same = FakeS3Config.builder().port(port).build();
            assertThrows(UncheckedIOException.class, () -> FakeS3Server.start(same));
        }
        // Closed: the same port can be bound again.
        try (FakeS3Server again = FakeS3Server.start(FakeS3Config.builder().port(port).build())) {
            assertEquals(port, again.port());
        }
    }

    @Test
    void closeIsIdempotentAndDoesNotWaitForHeldConnections() throws Exception {
        FakeS3Server server = FakeS3Server.start(FakeS3Config.builder().bucket("held")
                .fault(FaultRule.parse("kind=timeout")).build());
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("GET /held/k HTTP/1.1\nHost: x", new byte[0]);
            assertTrue(Poll.until(java.time.Duration.ofSeconds(5), () -> server.stats().requests() == 1));
            long start = System.nanoTime();
            server.close();
            assertTrue((System.nanoTime() - start) / 1_000_000 < 8000, "close waited for a held connection");
            assertTrue(raw.closedByPeer(), "held connections are closed by close()");
            server.close();
        }
    }

    @Test
    void configIsValidatedWithPreciseMessages() {
        record Bad(FakeS3Config.Builder builder, String mentions) {}
        for (Bad b : java.util.List.of(
                new Bad(FakeS3Config.builder().port(70000), "port"),
                new Bad(FakeS3Config.builder().credentials("ak", null), "secretKey"),
                new Bad(FakeS3Config.builder().bucket("x"), "buckets"),
                new Bad(FakeS3Config.builder().maxObjectBytes(0), "maxObjectBytes"),
                new Bad(FakeS3Config.builder().maxConnections(0), "maxConnections"),
                new Bad(FakeS3Config.builder().ioThreads(0), "ioThreads"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b.builder()::build);
            assertTrue(e.getMessage().contains(b.mentions()), e.getMessage());
        }
        assertTrue(!FakeS3Config.builder().credentials("ak", "very-secret").build().toString().contains("very-secret"));
    }
}
