package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.S3Exception;

/** SigV4: header signatures, chunk signature chains and trailer signatures are all verified. */
@org.junit.jupiter.api.Timeout(120)
class AuthenticationTest {
    private static FakeS3Server server;
    private static S3AsyncClient s3;

    @BeforeAll
    static void start() throws Exception {
        server = FakeS3Server.start(FakeS3Config.builder()
                .credentials(S3Clients.ACCESS_KEY, S3Clients.SECRET_KEY).bucket("auth").build());
        s3 = S3Clients.client(server.endpoint());
        s3.putObject(b -> b.bucket("auth").key("existing"), AsyncRequestBody.fromString("secret data")).join();
    }

    @AfterAll
    static void stop() {
        s3.close();
        server.close();
    }

    private static S3Exception failWith(S3AsyncClient client) {
        return FakeS3ServerTest.s3Error(() ->
                client.getObject(b -> b.bucket("auth").key("existing"), AsyncResponseTransformer.toBytes()).join());
    }

    @Test
    void wrongSecretIsSignatureDoesNotMatch() {
        try (S3AsyncClient bad = S3Clients.client(server.endpoint(), S3Clients.UploadForm.DEFAULT_TRAILER,
                S3Clients.ACCESS_KEY, "not-the-secret", b -> { })) {
            S3Exception get = failWith(bad);
            assertEquals(403, get.statusCode());
            assertEquals("SignatureDoesNotMatch", get.awsErrorDetails().errorCode());
            S3Exception put = FakeS3ServerTest.s3Error(() -> bad.putObject(b -> b.bucket("auth").key("existing"),
                    AsyncRequestBody.fromString("overwrite")).join());
            assertEquals(403, put.statusCode());
            assertEquals(403, FakeS3ServerTest.s3Error(() -> bad.listObjectsV2(b -> b.bucket("auth")).join()).statusCode());
        }
        // Nothing was overwritten.
        assertArrayEquals("secret data".getBytes(StandardCharsets.UTF_8), s3.getObject(
                b -> b.bucket("auth").key("existing"), AsyncResponseTransformer.toBytes()).join().asByteArray());
    }

    @Test
    void unknownAccessKeyIsInvalidAccessKeyId() {
        try (S3AsyncClient bad = S3Clients.client(server.endpoint(), S3Clients.UploadForm.DEFAULT_TRAILER,
                "AKIDSOMEONEELSE", S3Clients.SECRET_KEY, b -> { })) {
            S3Exception e = failWith(bad);
            assertEquals(403, e.statusCode());
            assertEquals("InvalidAccessKeyId", e.awsErrorDetails().errorCode());
        }
    }

    @Test
    void anonymousRequestsAreDenied() {
        try (S3AsyncClient anonymous = S3Clients.client(server.endpoint(), S3Clients.UploadForm.DEFAULT_TRAILER,
                "x", "y", b -> b.credentialsProvider(AnonymousCredentialsProvider.create()))) {
            S3Exception e = failWith(anonymous);
            assertEquals(403, e.statusCode());
            assertEquals("AccessDenied", e.awsErrorDetails().errorCode());
        }
    }

    @Test
    void skewedClocksAreRejected() throws Exception {
        // Signed by the SDK's signer with a clock an hour behind. (Not through an SDK client: the
        // SDK would learn the offset from the answer into a JVM-wide setting and skew other tests.)
        SignedRequests.Signed signed = SignedRequests.sign(server.port(), "GET", "/auth/existing", Map.of(),
                new byte[0], false, false, S3Clients.ACCESS_KEY, S3Clients.SECRET_KEY,
                java.time.Clock.offset(java.time.Clock.systemUTC(), Duration.ofHours(-1)));
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request(signed.head(), new byte[0]);
            RawHttp.Response r = raw.read();
            assertEquals(403, r.status());
            assertTrue(r.bodyText().contains("<Code>RequestTimeTooSkewed</Code>"), r.bodyText());
        }
    }

    @Test
    void serverWithoutCredentialsAcceptsAnySignatureAndNone() throws Exception {
        try (FakeS3Server open = FakeS3Server.start(FakeS3Config.builder().bucket("open").build());
             S3AsyncClient client = S3Clients.client(open.endpoint(), S3Clients.UploadForm.DEFAULT_TRAILER,
                     "whoever", "whatever", b -> { });
             RawHttp raw = new RawHttp(open.port())) {
            client.putObject(b -> b.bucket("open").key("k"), AsyncRequestBody.fromString("v")).join();
            raw.request("GET /open/k HTTP/1.1\nHost: x", new byte[0]);
            RawHttp.Response r = raw.read();
            assertEquals(200, r.status());
            assertEquals("v", r.bodyText());
        }
    }

    @ParameterizedTest(name = "trailer={0}")
    @ValueSource(booleans = {false, true})
    void signedChunkUploadsAreVerified(boolean trailer) throws Exception {
        // 300 000 bytes: three chunks of the SDK's 128 KiB plus the final empty one.
        byte[] content = FakeS3ServerTest.randomBytes(300_000, 99);
        String key = "signed-" + trailer;
        SignedRequests.Signed signed = SignedRequests.sign(server.port(), "PUT", "/auth/" + key,
                Map.of("Content-Type", "application/octet-stream"), content, true, trailer,
                S3Clients.ACCESS_KEY, S3Clients.SECRET_KEY);
        String mode = trailer ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" : "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
        assertTrue(signed.head().contains(mode), signed.head());
        PayloadSpec.Encoding encoding = trailer ? PayloadSpec.Encoding.CHUNKED_SIGNED_TRAILER
                : PayloadSpec.Encoding.CHUNKED_SIGNED;
        long before = server.payloadEncodingCount(encoding);

        // Tampering with one byte of chunk data breaks the chunk signature chain.
        byte[] tampered = signed.body().clone();
        int dataStart = new String(tampered, StandardCharsets.ISO_8859_1).indexOf("\r\n") + 2;
        tampered[dataStart + 1000] ^= 1;
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request(signed.head(), tampered);
            RawHttp.Response r = raw.read();
            assertEquals(403, r.status(), r.bodyText());
            assertTrue(r.bodyText().contains("<Code>SignatureDoesNotMatch</Code>"), r.bodyText());
        }
        assertEquals(404, FakeS3ServerTest.s3ErrorStatus(() -> s3.headObject(b -> b.bucket("auth").key(key)).join()));

        if (trailer) {
            // Changing the trailer value breaks the trailer signature.
            String body = new String(signed.body(), StandardCharsets.ISO_8859_1);
            int at = body.indexOf("x-amz-checksum-crc32:") + "x-amz-checksum-crc32:".length();
            byte[] badTrailer = signed.body().clone();
            badTrailer[at] = (byte) (badTrailer[at] == 'A' ? 'B' : 'A');
            try (RawHttp raw = new RawHttp(server.port())) {
                raw.request(signed.head(), badTrailer);
                RawHttp.Response r = raw.read();
                assertEquals(403, r.status(), r.bodyText());
            }
        }

        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request(signed.head(), signed.body());
            RawHttp.Response r = raw.read();
            assertEquals(200, r.status(), r.bodyText());
            assertEquals(FakeS3ServerTest.md5Etag(content), r.header("etag"));
        }
        int attempts = trailer ? 3 : 2; // tampered data, (tampered trailer,) intact
        assertEquals(before + attempts, server.payloadEncodingCount(encoding));
        assertArrayEquals(content, s3.getObject(b -> b.bucket("auth").key(key), AsyncResponseTransformer.toBytes())
                .join().asByteArray());
    }

    @Test
    void unsignedAmzHeadersAreRejected() throws Exception {
        SignedRequests.Signed signed = SignedRequests.sign(server.port(), "GET", "/auth/existing", Map.of(),
                new byte[0], false, false, S3Clients.ACCESS_KEY, S3Clients.SECRET_KEY);
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request(signed.head(), new byte[0]);
            assertEquals(200, raw.read().status());
            raw.request(signed.head() + "\nx-amz-meta-sneaky: yes", new byte[0]);
            RawHttp.Response r = raw.read();
            assertEquals(403, r.status());
            assertTrue(r.bodyText().contains("AccessDenied"), r.bodyText());
        }
    }

    @Test
    void payloadHashIsVerifiedAgainstTheBody() throws Exception {
        byte[] content = "signed payload".getBytes(StandardCharsets.UTF_8);
        SignedRequests.Signed signed = SignedRequests.sign(server.port(), "PUT", "/auth/hashed", Map.of(), content,
                false, false, S3Clients.ACCESS_KEY, S3Clients.SECRET_KEY);
        assertTrue(signed.headers().get("x-amz-content-sha256").get(0).matches("[0-9a-f]{64}"));
        try (RawHttp raw = new RawHttp(server.port())) {
            byte[] other = "signed paylOad".getBytes(StandardCharsets.UTF_8);
            raw.request(signed.head(), other);
            RawHttp.Response r = raw.read();
            assertEquals(400, r.status());
            assertTrue(r.bodyText().contains("XAmzContentSHA256Mismatch"), r.bodyText());
            raw.request(signed.head(), content);
            assertEquals(200, raw.read().status());
        }
    }
}
