package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;

/** A server on a data directory, closed and started again: everything acknowledged is still there. */
@org.junit.jupiter.api.Timeout(120)
class DirectoryRestartTest {
    @TempDir
    Path dir;

    private DataLayout layout = DataLayout.SEGMENTS;

    private FakeS3Server start() throws InterruptedException {
        return FakeS3Server.start(FakeS3Config.builder().dataDir(dir.resolve("s3")).fsync(true).layout(layout)
                .credentials(S3Clients.ACCESS_KEY, S3Clients.SECRET_KEY).bucket("weaseldb").build());
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(DataLayout.class)
    void contentsMetadataAndListingSurviveARestart(DataLayout layout) throws Exception {
        this.layout = layout;
        Map<String, byte[]> objects = new LinkedHashMap<>();
        for (int i = 0; i < 30; i++) {
            objects.put(String.format("log/%020d", i * 100), FakeS3ServerTest.randomBytes(100 + 1000 * i, i));
        }
        objects.put("retention/policy one", "{\"min\": 1}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        objects.put("Ünïcödé/key", new byte[0]);

        Map<String, HeadObjectResponse> heads = new LinkedHashMap<>();
        List<S3Object> listing;
        try (FakeS3Server server = start(); S3AsyncClient s3 = S3Clients.client(server.endpoint())) {
            for (var e : objects.entrySet()) {
                s3.putObject(b -> b.bucket("weaseldb").key(e.getKey()).contentType("application/octet-stream")
                        .ifNoneMatch("*").metadata(Map.of("leader", "L1")), AsyncRequestBody.fromBytes(e.getValue()))
                        .join();
            }
            s3.createBucket(b -> b.bucket("second")).join();
            s3.deleteObject(b -> b.bucket("weaseldb").key("log/00000000000000000000")).join();
            objects.remove("log/00000000000000000000");
            for (String key : objects.keySet()) {
                heads.put(key, s3.headObject(b -> b.bucket("weaseldb").key(key).checksumMode(ChecksumMode.ENABLED))
                        .join());
            }
            listing = s3.listObjectsV2(b -> b.bucket("weaseldb")).join().contents();
        }

        // Started again asking for the other layout: the directory keeps the one it was made with.
        this.layout = layout == DataLayout.SEGMENTS ? DataLayout.FILES : DataLayout.SEGMENTS;
        assertEquals(layout, DataLayout.detect(dir.resolve("s3"), this.layout));
        try (FakeS3Server server = start(); S3AsyncClient s3 = S3Clients.client(server.endpoint())) {
            assertEquals(listing, s3.listObjectsV2(b -> b.bucket("weaseldb")).join().contents());
            List<String> keys = new ArrayList<>(objects.keySet());
            keys.sort(KeyOrder.INSTANCE);
            assertEquals(keys, listing.stream().map(S3Object::key).toList());
            for (var e : objects.entrySet()) {
                var got = s3.getObject(b -> b.bucket("weaseldb").key(e.getKey()), AsyncResponseTransformer.toBytes())
                        .join();
                assertArrayEquals(e.getValue(), got.asByteArray(), e.getKey());
                HeadObjectResponse before = heads.get(e.getKey());
                HeadObjectResponse after = s3.headObject(b -> b.bucket("weaseldb").key(e.getKey())
                        .checksumMode(ChecksumMode.ENABLED)).join();
                assertEquals(before.eTag(), after.eTag());
                assertEquals(before.lastModified(), after.lastModified());
                assertEquals(before.contentType(), after.contentType());
                assertEquals(before.metadata(), after.metadata());
                assertEquals(before.checksumCRC32(), after.checksumCRC32());
                assertTrue(after.checksumCRC32() != null, "the upload's CRC32 is stored with the object");
            }
            s3.headBucket(b -> b.bucket("second")).join();
            // The restarted server still fences: the log objects exist.
            assertEquals(412, FakeS3ServerTest.s3ErrorStatus(() -> s3.putObject(b -> b.bucket("weaseldb")
                    .key("log/00000000000000000100").ifNoneMatch("*"), AsyncRequestBody.fromString("x")).join()));
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(DataLayout.class)
    void twoServersCannotShareADataDirectory(DataLayout layout) throws Exception {
        this.layout = layout;
        try (FakeS3Server first = start()) {
            UncheckedIOException e = assertThrows(UncheckedIOException.class, this::start);
            assertTrue(e.getCause().getMessage().contains("in use"), e.getCause().getMessage());
            // the top line, which `startup failed: …` shows, says why too (troubleshooting.md)
            assertTrue(e.getMessage().startsWith("cannot open data directory ")
                    && e.getMessage().endsWith("is in use by another fake S3 server"), e.getMessage());
            assertTrue(first.port() > 0);
        }
    }
}
