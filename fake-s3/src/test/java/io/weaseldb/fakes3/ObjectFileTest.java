package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The object header's bytes are an on-disk format: every data directory already written holds them. */
class ObjectFileTest {
    @Test
    void theHeaderIsByteForByteTheFormatDirectoriesHoldAndDecodesBack() throws IOException {
        byte[] content = "content".getBytes(StandardCharsets.UTF_8);
        List<ObjectInfo> infos = List.of(
                new ObjectInfo("log/00000000000000000042", 7, Digests.etag(content),
                        Instant.parse("2026-11-25T08:00:00Z"), ObjectAttributes.DEFAULT),
                new ObjectInfo("Ünïcödé/kéy", 0, Digests.etag(new byte[0]), Instant.ofEpochMilli(0),
                        ObjectAttributes.ofContentType("application/x-weasel")),
                new ObjectInfo("", 123456789012L, "\"not-an-md5\"", Instant.parse("1999-12-31T23:59:59Z"),
                        new ObjectAttributes("text/plain; charset=utf-8", Optional.of(new ObjectChecksum(
                                ChecksumAlgorithm.SHA256, ChecksumAlgorithm.SHA256.compute(content, 0, content.length))),
                                Map.of("leader", "L1", "ümlaut", "wert", "empty", ""))));
        for (ObjectInfo info : infos) {
            byte[] encoded = ObjectFile.encodeHeader(info);
            assertArrayEquals(formatVersion1(info), encoded, info.key());
            ObjectFile.Header decoded = ObjectFile.decode(ByteBuffer.wrap(encoded));
            assertEquals(info, decoded.info());
            assertEquals(encoded.length, decoded.contentOffset());
        }
    }

    /** The encoder as it was written when the format was defined (streams), kept as the reference. */
    private static byte[] formatVersion1(ObjectInfo info) throws IOException {
        ByteArrayOutputStream headerBytes = new ByteArrayOutputStream();
        DataOutputStream h = new DataOutputStream(headerBytes);
        writeString(h, info.key());
        h.writeLong(info.size());
        writeString(h, info.etag());
        h.writeLong(info.lastModified().toEpochMilli());
        ObjectAttributes a = info.attributes();
        writeString(h, a.contentType());
        writeString(h, a.checksum().map(c -> c.algorithm().name()).orElse(""));
        writeString(h, a.checksum().map(ObjectChecksum::value).orElse(""));
        h.writeInt(a.userMetadata().size());
        for (var e : a.userMetadata().entrySet()) {
            writeString(h, e.getKey());
            writeString(h, e.getValue());
        }
        byte[] header = headerBytes.toByteArray();
        CRC32C crc = new CRC32C();
        crc.update(header);
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(all);
        out.write("WDBS3OBJ".getBytes(StandardCharsets.US_ASCII));
        out.writeInt(1);
        out.writeInt(header.length);
        out.write(header);
        out.writeInt((int) crc.getValue());
        return all.toByteArray();
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }
}
