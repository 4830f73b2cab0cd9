package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whatever user metadata a PUT accepts can be read back, also after a restart of a directory
 * backend: a count over {@link 1024} is refused up front.
 */
@org.junit.jupiter.api.Timeout(120)
class MetadataLimitTest {
    @TempDir
    Path dir;

    /** {@code n} distinct empty-valued x-amz-meta-* headers with 1–2 character names (under 2 KiB). */
    private static String putHead(String key, int n) {
        String chars = "abcdefghijklmnopqrstuvwxyz0123456789";
        List<String> names = new ArrayList<>();
        for (char c : chars.toCharArray()) {
            names.add(String.valueOf(c));
        }
        for (char a : chars.toCharArray()) {
            for (char b : chars.toCharArray()) {
                names.add("" + a + b);
            }
        }
        StringBuilder head = new StringBuilder("PUT /meta/" + key + " HTTP/1.1\nHost: x\nContent-Length: 1");
        for (String name : names.subList(0, n)) {
            head.append("\nx-amz-meta-").append(name).append(':');
        }
        return head.toString();
    }

    private FakeS3Server start() throws Exception {
        return FakeS3Server.start(FakeS3Config.builder().bucket("meta").dataDir(dir.resolve("data")).build());
    }

    @Test
    void tooManyMetadataEntriesAreRejectedAndTheLimitIsReadable() throws Exception {
        int max = ObjectAttributes.MAX_USER_METADATA_ENTRIES;
        try (FakeS3Server server = start(); RawHttp raw = new RawHttp(server.port())) {
            raw.request(putHead("over", max + 1), new byte[] {'x'});
            RawHttp.Response over = raw.read();
            assertEquals(400, over.status(), over.bodyText());
            assertTrue(over.bodyText().contains("<Code>MetadataTooLarge</Code>"), over.bodyText());
        }
        try (FakeS3Server server = start(); RawHttp raw = new RawHttp(server.port())) {
            raw.request(putHead("max", max), new byte[] {'x'});
            assertEquals(200, raw.read().status());
            raw.request("GET /meta/max HTTP/1.1\nHost: x", new byte[0]);
            RawHttp.Response get = raw.read();
            assertEquals(200, get.status(), get.bodyText());
            assertEquals("x", get.bodyText());
        }
        // The data directory still opens, and both objects are as the PUTs answered.
        try (FakeS3Server server = start(); RawHttp raw = new RawHttp(server.port())) {
            raw.request("HEAD /meta/max HTTP/1.1\nHost: x", new byte[0]);
            assertEquals(200, raw.read(true).status());
            raw.request("HEAD /meta/over HTTP/1.1\nHost: x", new byte[0]);
            assertEquals(404, raw.read(true).status());
        }
    }
}
