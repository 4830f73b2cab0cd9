package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * Garbage, oversize and abusive requests get an error (or a close) and never disturb other
 * connections.
 */
@org.junit.jupiter.api.Timeout(120)
class MalformedRequestTest {
    private static final int MAX_OBJECT = 64 * 1024;
    private static FakeS3Server server;
    private static S3AsyncClient s3;

    @BeforeAll
    static void start() throws Exception {
        server = FakeS3Server.start(FakeS3Config.builder().bucket("mal").maxObjectBytes(MAX_OBJECT)
                .maxConnections(20).build());
        s3 = S3Clients.client(server.endpoint());
        s3.putObject(b -> b.bucket("mal").key("alive"), AsyncRequestBody.fromString("yes")).join();
    }

    @AfterAll
    static void stop() {
        s3.close();
        server.close();
    }

    /** The server still answers real clients. */
    private static void assertStillServing() {
        assertArrayEquals("yes".getBytes(StandardCharsets.UTF_8), s3.getObject(b -> b.bucket("mal").key("alive"),
                AsyncResponseTransformer.toBytes()).join().asByteArray());
    }

    @Test
    void garbageGetsA400AndAClose() throws Exception {
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.send("THIS IS NOT HTTP AT ALL\r\n\r\n");
            RawHttp.Response r = raw.read();
            assertEquals(400, r.status());
            assertTrue(r.bodyText().contains("<Error>"), r.bodyText());
            assertTrue(raw.closedByPeer());
        }
        try (RawHttp raw = new RawHttp(server.port())) {
            byte[] junk = new byte[4096];
            new java.util.Random(3).nextBytes(junk);
            junk[junk.length - 2] = '\r';
            junk[junk.length - 1] = '\n';
            raw.send(junk);
            raw.send("\r\n\r\n");
            raw.setTimeoutMillis(5000);
            assertTrue(raw.closedByPeer() || raw.read().status() >= 400);
        } catch (java.io.IOException expected) {
            // a reset is an acceptable answer to binary junk
        }
        assertStillServing();
    }

    @Test
    void oversizeHeadersAreRejected() throws Exception {
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("GET /mal/alive HTTP/1.1\nHost: x\nX-Big: " + "a".repeat(32 * 1024), new byte[0]);
            RawHttp.Response r = raw.read();
            assertEquals(400, r.status());
            assertTrue(r.bodyText().contains("RequestHeaderSectionTooLarge"), r.bodyText());
        }
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("GET /mal/" + "k".repeat(20_000) + " HTTP/1.1\nHost: x", new byte[0]);
            assertEquals(400, raw.read().status());
        }
        assertStillServing();
    }

    @Test
    void errorsBeforeTheBodyKeepTheConnectionWhenTheBodyIsSmall() throws Exception {
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("PUT /no-such-bucket-here/k HTTP/1.1\nHost: x\nContent-Length: 5", "hello".getBytes());
            assertEquals(404, raw.read().status());
            raw.request("PUT /mal/k HTTP/1.1\nHost: x\nContent-Length: 5\nx-amz-checksum-foo: abc", "hello".getBytes());
            assertEquals(400, raw.read().status());
            raw.request("GET /mal/alive HTTP/1.1\nHost: x", new byte[0]);
            RawHttp.Response r = raw.read();
            assertEquals(200, r.status());
            assertEquals("yes", r.bodyText());
        }
    }

    @Test
    void missingContentLengthIsRejected() throws Exception {
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("PUT /mal/k HTTP/1.1\nHost: x\nTransfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n".getBytes());
            RawHttp.Response r = raw.read();
            assertEquals(501, r.status()); // like S3: HTTP chunking only under aws-chunked
            assertTrue(r.bodyText().contains("Transfer-Encoding"), r.bodyText());
        }
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("PUT /mal/k HTTP/1.1\nHost: x", new byte[0]);
            RawHttp.Response r = raw.read();
            assertEquals(411, r.status());
            assertTrue(r.bodyText().contains("MissingContentLength"));
        }
    }

    @Test
    void objectsOverTheLimitAreEntityTooLarge() throws Exception {
        // Through the SDK, in the default aws-chunked form (x-amz-decoded-content-length is checked)...
        byte[] big = new byte[MAX_OBJECT + 1];
        S3Exception e = FakeS3ServerTest.s3Error(() -> s3.putObject(b -> b.bucket("mal").key("big"),
                AsyncRequestBody.fromBytes(big)).join());
        assertEquals(400, e.statusCode());
        assertEquals("EntityTooLarge", e.awsErrorDetails().errorCode());
        // ... and plain.
        try (S3AsyncClient plain = S3Clients.client(server.endpoint(), S3Clients.UploadForm.UNCHUNKED)) {
            S3Exception p = FakeS3ServerTest.s3Error(() -> plain.putObject(b -> b.bucket("mal").key("big"),
                    AsyncRequestBody.fromBytes(new byte[4 * 1024 * 1024])).join());
            assertEquals("EntityTooLarge", p.awsErrorDetails().errorCode());
        }
        // A huge announced body is refused at once, without reading it.
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("PUT /mal/huge HTTP/1.1\nHost: x\nContent-Length: 10000000000", new byte[0]);
            RawHttp.Response r = raw.read();
            assertEquals(400, r.status());
            assertEquals("close", r.header("connection"));
        }
        // Expect: 100-continue gets the error instead of 100 Continue.
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("PUT /mal/huge HTTP/1.1\nHost: x\nExpect: 100-continue\nContent-Length: 100000", new byte[0]);
            assertEquals(400, raw.read().status());
        }
        assertEquals(404, FakeS3ServerTest.s3ErrorStatus(() -> s3.headObject(b -> b.bucket("mal").key("big")).join()));
        assertStillServing();
    }

    @Test
    void expectContinueIsHonoured() throws Exception {
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("PUT /mal/continued HTTP/1.1\nHost: x\nExpect: 100-continue\nContent-Length: 3", new byte[0]);
            raw.setTimeoutMillis(5000);
            // RawHttp.read skips the interim 100; the PUT cannot finish before we send the body,
            // so read the interim answer by hand first.
            RawHttp.Response interim = raw.readInterim();
            assertEquals(100, interim.status());
            raw.send("abc");
            assertEquals(200, raw.read().status());
        }
    }

    @Test
    void pipelinedRequestsAreRefused() throws Exception {
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.send("GET /mal/alive HTTP/1.1\r\nHost: x\r\n\r\nGET /mal/alive HTTP/1.1\r\nHost: x\r\n\r\n");
            RawHttp.Response r = raw.read();
            assertTrue(r.status() == 200 || r.status() == 400, "status " + r.status());
            assertTrue(raw.closedByPeer() || raw.read().status() == 400);
        }
        assertStillServing();
    }

    @Test
    void invalidUrisAndParametersAreRejected() throws Exception {
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("GET /mal/%ZZ HTTP/1.1\nHost: x", new byte[0]);
            assertEquals(400, raw.read().status());
            raw.request("GET /mal/%C3%28 HTTP/1.1\nHost: x", new byte[0]); // not UTF-8
            assertEquals(400, raw.read().status());
            raw.request("GET /mal?list-type=2&max-keys=abc HTTP/1.1\nHost: x", new byte[0]);
            assertEquals(400, raw.read().status());
            raw.request("GET /mal?list-type=2&continuation-token=bogus HTTP/1.1\nHost: x", new byte[0]);
            RawHttp.Response r = raw.read();
            assertEquals(400, r.status());
            assertTrue(r.bodyText().contains("InvalidArgument"));
            raw.request("GET /mal/alive HTTP/1.1\nHost: x\nRange: bytes=5-2", new byte[0]);
            assertEquals(400, raw.read().status());
            raw.request("GET /mal/alive HTTP/1.1\nHost: x\nRange: bytes=0-1,3-4", new byte[0]);
            assertEquals(501, raw.read().status());
            raw.request("PUT /Bad_Bucket HTTP/1.1\nHost: x\nContent-Length: 0", new byte[0]);
            r = raw.read();
            assertEquals(400, r.status());
            assertTrue(r.bodyText().contains("InvalidBucketName"));
            raw.request("PATCH /mal/alive HTTP/1.1\nHost: x\nContent-Length: 0", new byte[0]);
            assertEquals(405, raw.read().status());
            raw.request("GET /mal/" + "k".repeat(1025) + " HTTP/1.1\nHost: x", new byte[0]);
            r = raw.read();
            assertEquals(400, r.status());
            assertTrue(r.bodyText().contains("KeyTooLongError"));
            raw.request("GET /mal/alive HTTP/1.1\nHost: x", new byte[0]);
            assertEquals(200, raw.read().status());
        }
    }

    @Test
    void connectionsBeyondTheLimitAreClosed() throws Exception {
        List<RawHttp> open = new ArrayList<>();
        try {
            for (int i = 0; i < 20; i++) {
                open.add(new RawHttp(server.port()));
            }
            // The SDK's pooled connection may hold a slot: at least the 21st+ fails.
            assertTrue(Poll.until(java.time.Duration.ofSeconds(5), () -> server.stats().openConnections() >= 20));
            try (RawHttp extra = new RawHttp(server.port())) {
                extra.setTimeoutMillis(5000);
                assertTrue(extra.closedByPeer(), "connection beyond the limit must be closed");
            }
            assertTrue(server.stats().rejectedConnections() >= 1);
        } finally {
            for (RawHttp r : open) {
                r.close();
            }
        }
        assertTrue(Poll.until(java.time.Duration.ofSeconds(5), () -> server.stats().openConnections() < 20));
        assertStillServing();
    }
}
