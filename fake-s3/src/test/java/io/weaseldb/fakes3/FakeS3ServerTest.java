package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.CommonPrefix;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.DeleteObjectsResponse;
import software.amazon.awssdk.services.s3.model.DeletedObject;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.PutObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/** Every operation, driven by the real AWS SDK v2 over TCP, with SigV4 verification on. */
@org.junit.jupiter.api.Timeout(120)
class FakeS3ServerTest {
    private static final String BUCKET = "test-bucket";
    private static FakeS3Server server;
    private static S3AsyncClient s3;

    @BeforeAll
    static void start() throws Exception {
        server = FakeS3Server.start(FakeS3Config.builder()
                .credentials(S3Clients.ACCESS_KEY, S3Clients.SECRET_KEY)
                .bucket(BUCKET)
                .build());
        s3 = S3Clients.client(server.endpoint());
    }

    @AfterAll
    static void stop() {
        if (s3 != null) {
            s3.close();
        }
        if (server != null) {
            server.close();
        }
    }

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static String md5Etag(byte[] content) throws Exception {
        return '"' + HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(content)) + '"';
    }

    static PutObjectResponse put(S3AsyncClient client, String key, byte[] content) {
        return client.putObject(b -> b.bucket(BUCKET).key(key), AsyncRequestBody.fromBytes(content)).join();
    }

    static byte[] get(String key) {
        return s3.getObject(b -> b.bucket(BUCKET).key(key), AsyncResponseTransformer.toBytes()).join().asByteArray();
    }

    static S3Exception s3Error(Runnable call) {
        CompletionException e = assertThrows(CompletionException.class, call::run);
        return assertInstanceOf(S3Exception.class, e.getCause(), () -> "expected an S3 error, got " + e.getCause());
    }

    static int s3ErrorStatus(Runnable call) {
        return s3Error(call).statusCode();
    }

    @ParameterizedTest
    @EnumSource(S3Clients.UploadForm.class)
    void putThenGetRoundTripsInEveryUploadForm(S3Clients.UploadForm form) throws Exception {
        // Larger than the SDK's 128 KiB chunk so that aws-chunked bodies have several chunks.
        byte[] content = randomBytes(300_000, form.ordinal());
        String key = "forms/" + form;
        long chunkedBefore = server.payloadEncodingCount(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER);
        try (S3AsyncClient client = S3Clients.client(server.endpoint(), form)) {
            PutObjectResponse put = put(client, key, content);
            assertEquals(md5Etag(content), put.eTag());
            var got = client.getObject(b -> b.bucket(BUCKET).key(key), AsyncResponseTransformer.toBytes()).join();
            assertArrayEquals(content, got.asByteArray());
            assertEquals(md5Etag(content), got.response().eTag());
        }
        if (form == S3Clients.UploadForm.DEFAULT_TRAILER) {
            assertEquals(chunkedBefore + 1, server.payloadEncodingCount(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER),
                    "the SDK default must have used aws-chunked with a trailer");
            // The CRC32 trailer was verified and stored; the SDK validates it on a full GET.
            HeadObjectResponse head = s3.headObject(b -> b.bucket(BUCKET).key(key).checksumMode(ChecksumMode.ENABLED))
                    .join();
            assertEquals(ChecksumAlgorithm.CRC32.compute(content, 0, content.length), head.checksumCRC32());
        }
    }

    /**
     * Bodies of unknown length: S3 takes them only as aws-chunked with a decoded length. The SDK
     * buffers them (unchunked form), refuses client-side (default form) or sends no length at all
     * (WHEN_REQUIRED form), which S3 answers with 411 MissingContentLength and so does this server.
     */
    @ParameterizedTest
    @EnumSource(S3Clients.UploadForm.class)
    void streamedBodiesOfUnknownLengthAreHandledLikeS3(S3Clients.UploadForm form) throws Exception {
        byte[] content = randomBytes(200_000, 100 + form.ordinal());
        String key = "streamed/" + form;
        try (S3AsyncClient client = S3Clients.client(server.endpoint(), form)) {
            // fromPublisher hides the length of the wrapped body.
            var body = AsyncRequestBody.fromPublisher(AsyncRequestBody.fromBytes(content));
            assertTrue(body.contentLength().isEmpty());
            var put = client.putObject(b -> b.bucket(BUCKET).key(key), body);
            try {
                assertEquals(md5Etag(content), put.join().eTag());
                assertArrayEquals(content, get(key));
            } catch (CompletionException | java.util.concurrent.CancellationException e) {
                assertTrue(form != S3Clients.UploadForm.UNCHUNKED, "the unchunked form must work: " + e);
                if (e.getCause() instanceof S3Exception s3e) {
                    // No length at all (what the SDK sends in the WHEN_REQUIRED form): 411, or
                    // HTTP chunking: 501 -- both as S3 answers.
                    assertTrue(s3e.statusCode() == 411 || s3e.statusCode() == 501, s3e::toString);
                }
                assertEquals(404, s3ErrorStatus(() -> s3.headObject(b -> b.bucket(BUCKET).key(key)).join()));
            }
        }
    }

    @Test
    void emptyObjectRoundTrips() throws Exception {
        PutObjectResponse put = put(s3, "empty", new byte[0]);
        assertEquals(md5Etag(new byte[0]), put.eTag());
        assertArrayEquals(new byte[0], get("empty"));
        assertEquals(0L, s3.headObject(b -> b.bucket(BUCKET).key("empty")).join().contentLength());
    }

    @Test
    void headReturnsStoredMetadata() throws Exception {
        byte[] content = "{\"hello\": 1}".getBytes(StandardCharsets.UTF_8);
        Instant before = Instant.now().minusSeconds(2);
        s3.putObject(b -> b.bucket(BUCKET).key("meta/obj").contentType("application/json")
                .metadata(Map.of("writer", "weasel", "batch", "42")), AsyncRequestBody.fromBytes(content)).join();
        HeadObjectResponse head = s3.headObject(b -> b.bucket(BUCKET).key("meta/obj")).join();
        assertEquals("application/json", head.contentType());
        assertEquals(content.length, head.contentLength());
        assertEquals(md5Etag(content), head.eTag());
        assertEquals(Map.of("writer", "weasel", "batch", "42"), head.metadata());
        assertTrue(!head.lastModified().isBefore(before) && !head.lastModified().isAfter(Instant.now().plusSeconds(2)),
                "last modified " + head.lastModified());
        GetObjectResponse get = s3.getObject(b -> b.bucket(BUCKET).key("meta/obj"), AsyncResponseTransformer.toBytes())
                .join().response();
        assertEquals("application/json", get.contentType());
        assertEquals(head.lastModified(), get.lastModified());
    }

    @Test
    void missingKeyIsNoSuchKey() {
        CompletionException e = assertThrows(CompletionException.class, () -> get("no/such/key"));
        assertInstanceOf(NoSuchKeyException.class, e.getCause());
        S3Exception head = s3Error(() -> s3.headObject(b -> b.bucket(BUCKET).key("no/such/key")).join());
        assertEquals(404, head.statusCode());
    }

    @Test
    void missingBucketIsNoSuchBucket() {
        S3Exception put = s3Error(() -> s3.putObject(b -> b.bucket("no-such-bucket").key("k"),
                AsyncRequestBody.fromString("x")).join());
        assertInstanceOf(NoSuchBucketException.class, put);
        assertEquals("NoSuchBucket", put.awsErrorDetails().errorCode());
        assertInstanceOf(NoSuchBucketException.class,
                s3Error(() -> s3.listObjectsV2(b -> b.bucket("no-such-bucket")).join()));
        assertInstanceOf(NoSuchKeyException.class, s3Error(() ->
                s3.getObject(b -> b.bucket(BUCKET).key("k"), AsyncResponseTransformer.toBytes()).join()));
        S3Exception get = s3Error(() ->
                s3.getObject(b -> b.bucket("no-such-bucket").key("k"), AsyncResponseTransformer.toBytes()).join());
        assertEquals("NoSuchBucket", get.awsErrorDetails().errorCode());
    }

    @Test
    void createHeadAndDeleteBucket() {
        s3.createBucket(b -> b.bucket("fresh-bucket")).join();
        s3.headBucket(b -> b.bucket("fresh-bucket")).join();
        assertInstanceOf(BucketAlreadyOwnedByYouException.class,
                s3Error(() -> s3.createBucket(b -> b.bucket("fresh-bucket")).join()));
        assertEquals(404, s3Error(() -> s3.headBucket(b -> b.bucket("missing-bucket")).join()).statusCode());

        put(s3, "x", new byte[0]); // in the shared bucket: unrelated
        s3.putObject(b -> b.bucket("fresh-bucket").key("k"), AsyncRequestBody.fromString("v")).join();
        assertEquals("BucketNotEmpty",
                s3Error(() -> s3.deleteBucket(b -> b.bucket("fresh-bucket")).join()).awsErrorDetails().errorCode());
        s3.deleteObject(b -> b.bucket("fresh-bucket").key("k")).join();
        s3.deleteBucket(b -> b.bucket("fresh-bucket")).join();
        assertEquals(404, s3Error(() -> s3.headBucket(b -> b.bucket("fresh-bucket")).join()).statusCode());
    }

    @Test
    void rangesServeTheRequestedBytes() {
        byte[] content = randomBytes(1000, 7);
        put(s3, "ranged", content);
        record Case(String range, int first, int last) {}
        for (Case c : List.of(new Case("bytes=0-0", 0, 0), new Case("bytes=10-19", 10, 19),
                new Case("bytes=990-", 990, 999), new Case("bytes=-5", 995, 999),
                new Case("bytes=900-5000", 900, 999), new Case("bytes=-5000", 0, 999))) {
            var r = s3.getObject(b -> b.bucket(BUCKET).key("ranged").range(c.range()),
                    AsyncResponseTransformer.toBytes()).join();
            byte[] expected = java.util.Arrays.copyOfRange(content, c.first(), c.last() + 1);
            assertArrayEquals(expected, r.asByteArray(), c.range());
            assertEquals("bytes " + c.first() + "-" + c.last() + "/1000", r.response().contentRange(), c.range());
            assertEquals(expected.length, r.response().contentLength());
        }
        S3Exception unsatisfiable = s3Error(() -> s3.getObject(b -> b.bucket(BUCKET).key("ranged").range("bytes=1000-"),
                AsyncResponseTransformer.toBytes()).join());
        assertEquals(416, unsatisfiable.statusCode());
        assertEquals("InvalidRange", unsatisfiable.awsErrorDetails().errorCode());
        HeadObjectResponse head = s3.headObject(b -> b.bucket(BUCKET).key("ranged").range("bytes=0-9")).join();
        assertEquals(10L, head.contentLength());
        assertEquals("bytes 0-9/1000", head.contentRange());
    }

    @Test
    void listPaginatesOverMoreThanAThousandKeys() {
        int n = 1234;
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String key = String.format("many/%05d", i);
            expected.add(key);
            // Seeded through the backend to keep the test fast; listing goes over HTTP.
            server.backend().put(BUCKET, key, new byte[] {(byte) i}, ObjectAttributes.DEFAULT, PutCondition.NONE);
        }
        ListObjectsV2Response first = s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("many/")).join();
        assertEquals(1000, first.keyCount());
        assertEquals(1000, first.contents().size());
        assertTrue(first.isTruncated());
        assertTrue(first.nextContinuationToken() != null && !first.nextContinuationToken().isEmpty());
        S3Object one = first.contents().get(0);
        assertEquals(1L, one.size());
        assertEquals("STANDARD", one.storageClassAsString());
        assertTrue(one.eTag().startsWith("\"") && one.lastModified() != null);

        List<String> listed = new ArrayList<>();
        s3.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix("many/"))
                .subscribe(page -> page.contents().forEach(o -> listed.add(o.key()))).join();
        assertEquals(expected, listed);

        // Small pages, continuation and start-after.
        List<String> small = new ArrayList<>();
        String token = null;
        int pages = 0;
        do {
            String t = token;
            ListObjectsV2Response page = s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("many/").maxKeys(100)
                    .startAfter("many/00999").continuationToken(t)).join();
            page.contents().forEach(o -> small.add(o.key()));
            assertTrue(page.keyCount() <= 100);
            token = page.isTruncated() ? page.nextContinuationToken() : null;
            pages++;
        } while (token != null);
        assertEquals(expected.subList(1000, n), small);
        assertEquals(3, pages);
        // max-keys above 1000 is capped like S3 does.
        assertEquals(1000, s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("many/").maxKeys(5000)).join().keyCount());
    }

    @Test
    void maxKeysZeroAnswersAnEmptyPageThatIsNotTruncated() throws Exception {
        put(s3, "zero/a", "a".getBytes(StandardCharsets.UTF_8));
        put(s3, "zero/b", "b".getBytes(StandardCharsets.UTF_8));
        ListObjectsV2Response r = s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("zero/").maxKeys(0)).join();
        assertEquals(0, r.keyCount());
        assertEquals(0, r.maxKeys());
        assertTrue(r.contents().isEmpty() && r.commonPrefixes().isEmpty());
        assertEquals(Boolean.FALSE, r.isTruncated());
        assertEquals(null, r.nextContinuationToken());
        // A paginator used to follow the same token forever.
        java.util.concurrent.atomic.AtomicInteger pages = new java.util.concurrent.atomic.AtomicInteger();
        s3.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix("zero/").maxKeys(0))
                .subscribe(page -> {
                    if (pages.incrementAndGet() > 5) {
                        throw new IllegalStateException("paginator does not stop");
                    }
                }).get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(1, pages.get());
    }

    @Test
    void listWithDelimiterRollsUpCommonPrefixes() {
        for (String k : List.of("d/a/1", "d/a/2", "d/b/1", "d/c", "d/d/x/y", "d/e")) {
            put(s3, k, new byte[0]);
        }
        ListObjectsV2Response r = s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("d/").delimiter("/")).join();
        assertEquals(List.of("d/c", "d/e"), r.contents().stream().map(S3Object::key).toList());
        assertEquals(List.of("d/a/", "d/b/", "d/d/"), r.commonPrefixes().stream().map(CommonPrefix::prefix).toList());
        assertEquals(5, r.keyCount());

        // Paging through with max-keys=2 yields the same entries, each once.
        List<String> entries = new ArrayList<>();
        String token = null;
        do {
            String t = token;
            ListObjectsV2Response p = s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("d/").delimiter("/")
                    .maxKeys(2).continuationToken(t)).join();
            p.commonPrefixes().forEach(c -> entries.add(c.prefix()));
            p.contents().forEach(o -> entries.add(o.key()));
            token = p.isTruncated() ? p.nextContinuationToken() : null;
        } while (token != null);
        entries.sort(null);
        assertEquals(List.of("d/a/", "d/b/", "d/c", "d/d/", "d/e"), entries);
    }

    @Test
    void listOrdersKeysByUtf8BytesAndRoundTripsOddKeys() {
        // U+E000 sorts before U+1F600 in UTF-8 but after it in UTF-16 (String.compareTo).
        List<String> keys = List.of("odd/a b+c%d", "odd/plain", "odd/\uE000", "odd/\uD83D\uDE00", "odd/ü/x?y=z&w");
        for (String k : keys) {
            put(s3, k, k.getBytes(StandardCharsets.UTF_8));
            assertArrayEquals(k.getBytes(StandardCharsets.UTF_8), get(k), k);
        }
        List<String> listed = s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("odd/")).join()
                .contents().stream().map(S3Object::key).toList();
        assertEquals(List.of("odd/a b+c%d", "odd/plain", "odd/ü/x?y=z&w", "odd/\uE000", "odd/\uD83D\uDE00"), listed);
    }

    @Test
    void listReturnsKeysWithCarriageReturnsNewlinesAndTabsExactly() {
        // A raw CR in XML text is read back as LF (end-of-line handling), so the SDK used to list
        // "ws/cr\nx" for the key "ws/cr\rx"; the listing must carry character references.
        List<String> keys = List.of("ws/cr\rx", "ws/crlf\r\nx", "ws/lf\nx", "ws/tab\tx");
        for (String k : keys) {
            put(s3, k, k.getBytes(StandardCharsets.UTF_8));
        }
        List<String> listed = s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("ws/")).join()
                .contents().stream().map(S3Object::key).toList();
        assertEquals(keys, listed);
        for (String k : listed) {
            assertArrayEquals(k.getBytes(StandardCharsets.UTF_8), get(k), k); // the listed key is the real one
        }
        ListObjectsV2Response byPrefix = s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("ws/cr\r")).join();
        assertEquals("ws/cr\r", byPrefix.prefix());
        assertEquals(List.of("ws/cr\rx"), byPrefix.contents().stream().map(S3Object::key).toList());
    }

    @Test
    void deleteObjectIsIdempotent() {
        put(s3, "del/one", "x".getBytes(StandardCharsets.UTF_8));
        s3.deleteObject(b -> b.bucket(BUCKET).key("del/one")).join();
        assertInstanceOf(NoSuchKeyException.class, assertThrows(CompletionException.class, () -> get("del/one")).getCause());
        s3.deleteObject(b -> b.bucket(BUCKET).key("del/one")).join(); // missing: still 204, like S3
    }

    @Test
    void deleteObjectsReportsEveryKey() {
        for (String k : List.of("bulk/1", "bulk/2", "bulk/3")) {
            put(s3, k, new byte[0]);
        }
        List<ObjectIdentifier> ids = List.of("bulk/1", "bulk/2", "bulk/missing").stream()
                .map(k -> ObjectIdentifier.builder().key(k).build()).toList();
        DeleteObjectsResponse r = s3.deleteObjects(b -> b.bucket(BUCKET).delete(Delete.builder().objects(ids).build()))
                .join();
        assertEquals(List.of("bulk/1", "bulk/2", "bulk/missing"), r.deleted().stream().map(DeletedObject::key).toList());
        assertTrue(r.errors().isEmpty());
        List<String> left = s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("bulk/")).join()
                .contents().stream().map(S3Object::key).toList();
        assertEquals(List.of("bulk/3"), left);

        DeleteObjectsResponse quiet = s3.deleteObjects(b -> b.bucket(BUCKET).delete(Delete.builder().quiet(true)
                .objects(ObjectIdentifier.builder().key("bulk/3").build()).build())).join();
        assertTrue(quiet.deleted().isEmpty() && quiet.errors().isEmpty());
        assertTrue(s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("bulk/")).join().contents().isEmpty());
    }

    @Test
    void conditionalPutsFollowTheirPreconditions() throws Exception {
        byte[] v1 = "v1".getBytes(StandardCharsets.UTF_8);
        byte[] v2 = "v2".getBytes(StandardCharsets.UTF_8);
        PutObjectResponse first = s3.putObject(b -> b.bucket(BUCKET).key("cond").ifNoneMatch("*"),
                AsyncRequestBody.fromBytes(v1)).join();
        S3Exception exists = s3Error(() -> s3.putObject(b -> b.bucket(BUCKET).key("cond").ifNoneMatch("*"),
                AsyncRequestBody.fromBytes(v2)).join());
        assertEquals(412, exists.statusCode());
        assertEquals("PreconditionFailed", exists.awsErrorDetails().errorCode());

        S3Exception wrongEtag = s3Error(() -> s3.putObject(b -> b.bucket(BUCKET).key("cond").ifMatch(md5Etag2(v2)),
                AsyncRequestBody.fromBytes(v2)).join());
        assertEquals(412, wrongEtag.statusCode());
        assertArrayEquals(v1, get("cond"));

        PutObjectResponse second = s3.putObject(b -> b.bucket(BUCKET).key("cond").ifMatch(first.eTag()),
                AsyncRequestBody.fromBytes(v2)).join();
        assertEquals(md5Etag(v2), second.eTag());
        assertArrayEquals(v2, get("cond"));
        assertEquals(412, s3Error(() -> s3.putObject(b -> b.bucket(BUCKET).key("never").ifMatch(first.eTag()),
                AsyncRequestBody.fromBytes(v2)).join()).statusCode());

        // Conditional reads.
        assertEquals(412, s3Error(() -> s3.getObject(b -> b.bucket(BUCKET).key("cond").ifMatch(first.eTag()),
                AsyncResponseTransformer.toBytes()).join()).statusCode());
        assertArrayEquals(v2, s3.getObject(b -> b.bucket(BUCKET).key("cond").ifMatch(second.eTag()),
                AsyncResponseTransformer.toBytes()).join().asByteArray());
    }

    private static String md5Etag2(byte[] b) {
        try {
            return md5Etag(b);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void contentMd5MismatchIsBadDigest() throws Exception {
        byte[] content = "payload".getBytes(StandardCharsets.UTF_8);
        String wrongMd5 = Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(new byte[1]));
        try (S3AsyncClient plain = S3Clients.client(server.endpoint(), S3Clients.UploadForm.UNCHUNKED)) {
            S3Exception e = s3Error(() -> plain.putObject(PutObjectRequest.builder().bucket(BUCKET).key("md5")
                    .contentMD5(wrongMd5).build(), AsyncRequestBody.fromBytes(content)).join());
            assertEquals(400, e.statusCode());
            assertEquals("BadDigest", e.awsErrorDetails().errorCode());
            String rightMd5 = Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(content));
            plain.putObject(PutObjectRequest.builder().bucket(BUCKET).key("md5").contentMD5(rightMd5).build(),
                    AsyncRequestBody.fromBytes(content)).join();
        }
        assertArrayEquals(content, get("md5"));
    }

    @Test
    void manyConcurrentRequestsOnFewConnectionsAllSucceed() {
        AtomicInteger ok = new AtomicInteger();
        List<java.util.concurrent.CompletableFuture<?>> all = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            String key = "conc/" + i;
            byte[] content = randomBytes(1000 + i, i);
            all.add(s3.putObject(b -> b.bucket(BUCKET).key(key), AsyncRequestBody.fromBytes(content))
                    .thenCompose(r -> s3.getObject(b -> b.bucket(BUCKET).key(key), AsyncResponseTransformer.toBytes()))
                    .thenAccept(r -> {
                        assertArrayEquals(content, r.asByteArray());
                        ok.incrementAndGet();
                    }));
        }
        java.util.concurrent.CompletableFuture.allOf(all.toArray(java.util.concurrent.CompletableFuture<?>[]::new))
                .orTimeout(60, java.util.concurrent.TimeUnit.SECONDS).join();
        assertEquals(200, ok.get());
        assertEquals(200, s3.listObjectsV2(b -> b.bucket(BUCKET).prefix("conc/")).join().keyCount());
    }

    @Test
    void unsupportedOperationsAreNotImplemented() {
        S3Exception v1 = s3Error(() -> s3.listObjects(b -> b.bucket(BUCKET)).join());
        assertEquals(501, v1.statusCode());
        assertEquals("NotImplemented", v1.awsErrorDetails().errorCode());
        S3Exception copy = s3Error(() -> s3.copyObject(b -> b.sourceBucket(BUCKET).sourceKey("a")
                .destinationBucket(BUCKET).destinationKey("b")).join());
        assertEquals(501, copy.statusCode());
        S3Exception multipart = s3Error(() -> s3.createMultipartUpload(b -> b.bucket(BUCKET).key("mp")).join());
        assertEquals(501, multipart.statusCode());
        assertEquals(501, s3Error(() -> s3.listBuckets().join()).statusCode());
        assertFalse(server.stats().requests() == 0);
    }

    @Test
    void headersOfUnsupportedFeaturesAreNotImplementedInsteadOfIgnored() throws Exception {
        List<java.util.function.Consumer<PutObjectRequest.Builder>> unsupported = List.of(
                b -> b.acl("public-read"),
                b -> b.grantRead("id=123"),
                b -> b.tagging("a=b"),
                b -> b.storageClass("GLACIER"),
                b -> b.objectLockMode("GOVERNANCE").objectLockRetainUntilDate(Instant.now().plusSeconds(3600)),
                b -> b.objectLockLegalHoldStatus("ON"),
                b -> b.websiteRedirectLocation("/x"),
                b -> b.expectedBucketOwner("123456789012"),
                b -> b.serverSideEncryption("aws:kms"),
                b -> b.requestPayer("requester"));
        for (int i = 0; i < unsupported.size(); i++) {
            var option = unsupported.get(i);
            String key = "unsupported/" + i;
            S3Exception e = s3Error(() -> s3.putObject(b -> option.accept(b.bucket(BUCKET).key(key)),
                    AsyncRequestBody.fromString("x")).join());
            assertEquals(501, e.statusCode(), key);
            assertEquals("NotImplemented", e.awsErrorDetails().errorCode(), key);
            assertEquals(404, s3ErrorStatus(() -> s3.headObject(b -> b.bucket(BUCKET).key(key)).join()), key);
        }
        S3Exception owner = s3Error(() -> s3.listObjectsV2(b -> b.bucket(BUCKET).expectedBucketOwner("123456789012"))
                .join());
        assertEquals(501, owner.statusCode());
        // What every object here is anyway: accepted.
        s3.putObject(b -> b.bucket(BUCKET).key("supported/standard").storageClass("STANDARD")
                .serverSideEncryption("AES256"), AsyncRequestBody.fromString("x")).join();

        // Presigned URLs without credentials configured used to be served as unsigned requests.
        put(s3, "presigned", "x".getBytes(StandardCharsets.UTF_8));
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("GET /" + BUCKET + "/presigned?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00 HTTP/1.1\n"
                    + "Host: x", new byte[0]);
            RawHttp.Response r = raw.read();
            assertEquals(501, r.status(), r.bodyText());
            assertTrue(r.bodyText().contains("<Code>NotImplemented</Code>"), r.bodyText());
            raw.request("PUT /" + BUCKET + "/presigned-put?X-Amz-Signature=00 HTTP/1.1\nHost: x\nContent-Length: 1",
                    new byte[] {'x'});
            assertEquals(501, raw.read().status());
        }
        assertEquals(404, s3ErrorStatus(() -> s3.headObject(b -> b.bucket(BUCKET).key("presigned-put")).join()));
    }

    @Test
    void errorResponsesCarryS3Fields() {
        S3Exception e = s3Error(() -> s3.getObject(b -> b.bucket(BUCKET).key("nope"),
                AsyncResponseTransformer.toBytes()).join());
        assertEquals("NoSuchKey", e.awsErrorDetails().errorCode());
        assertEquals("The specified key does not exist.", e.awsErrorDetails().errorMessage());
        assertTrue(e.requestId() != null && e.requestId().matches("[0-9A-F]{16}"), e.requestId());
    }
}
