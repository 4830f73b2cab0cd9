package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Body checks on uploads a careless client could send: each mismatch gets S3's error code. */
@org.junit.jupiter.api.Timeout(120)
class UploadVerificationTest {
    private static FakeS3Server server;

    @BeforeAll
    static void start() throws Exception {
        server = FakeS3Server.start(FakeS3Config.builder().bucket("upl").build());
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static final byte[] CONTENT = "hello, weasel".getBytes(StandardCharsets.UTF_8);

    private static String crc32(byte[] b) {
        return ChecksumAlgorithm.CRC32.compute(b, 0, b.length);
    }

    /** An aws-chunked unsigned body with the given chunks and trailer lines. */
    private static byte[] chunked(String trailer, byte[]... chunks) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] c : chunks) {
            out.writeBytes((Integer.toHexString(c.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.writeBytes(c);
            out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.writeBytes(("0\r\n" + trailer + "\r\n").getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    private static String chunkedHead(String key, int rawLength, int decodedLength) {
        return "PUT /upl/" + key + " HTTP/1.1\nHost: x\nContent-Encoding: aws-chunked\n"
                + "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\nx-amz-trailer: x-amz-checksum-crc32\n"
                + "x-amz-sdk-checksum-algorithm: CRC32\nx-amz-decoded-content-length: " + decodedLength
                + "\nContent-Length: " + rawLength;
    }

    private static RawHttp.Response send(String head, byte[] body) throws Exception {
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request(head, body);
            return raw.read();
        }
    }

    private static void assertError(RawHttp.Response r, int status, String code) {
        assertEquals(status, r.status(), r.bodyText());
        assertTrue(r.bodyText().contains("<Code>" + code + "</Code>"), r.bodyText());
    }

    @Test
    void unsignedTrailerUploadsAreDecodedAndVerified() throws Exception {
        byte[] a = java.util.Arrays.copyOfRange(CONTENT, 0, 5);
        byte[] b = java.util.Arrays.copyOfRange(CONTENT, 5, CONTENT.length);
        byte[] body = chunked("x-amz-checksum-crc32:" + crc32(CONTENT) + "\r\n", a, b);
        RawHttp.Response ok = send(chunkedHead("ok", body.length, CONTENT.length), body);
        assertEquals(200, ok.status(), ok.bodyText());
        assertEquals(crc32(CONTENT), ok.header("x-amz-checksum-crc32"));

        byte[] wrong = chunked("x-amz-checksum-crc32:" + crc32(new byte[] {1}) + "\r\n", a, b);
        assertError(send(chunkedHead("bad", wrong.length, CONTENT.length), wrong), 400, "BadDigest");

        byte[] missing = chunked("", a, b);
        assertError(send(chunkedHead("bad", missing.length, CONTENT.length), missing), 400, "MalformedTrailerError");

        byte[] otherTrailer = chunked("x-amz-checksum-sha256:" + ChecksumAlgorithm.SHA256.compute(CONTENT, 0,
                CONTENT.length) + "\r\n", a, b);
        assertError(send(chunkedHead("bad", otherTrailer.length, CONTENT.length), otherTrailer), 400,
                "MalformedTrailerError");

        // Decoded length disagreeing with the chunks, or a truncated body.
        assertError(send(chunkedHead("bad", body.length, CONTENT.length + 1), body), 400, "IncompleteBody");
        assertError(send(chunkedHead("bad", body.length, CONTENT.length - 1), body), 400, "IncompleteBody");
        byte[] truncated = java.util.Arrays.copyOf(body, 12);
        assertError(send(chunkedHead("bad", truncated.length, CONTENT.length), truncated), 400, "IncompleteBody");
        byte[] badSize = "zz\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);
        assertError(send(chunkedHead("bad", badSize.length, 5), badSize), 400, "IncompleteBody");

        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("HEAD /upl/bad HTTP/1.1\nHost: x", new byte[0]);
            assertEquals(404, raw.read(true).status(), "no failed upload may be stored");
        }
    }

    @Test
    void headerChecksumsAreVerified() throws Exception {
        for (ChecksumAlgorithm a : ChecksumAlgorithm.values()) {
            String good = a.compute(CONTENT, 0, CONTENT.length);
            String head = "PUT /upl/h-" + a + " HTTP/1.1\nHost: x\nContent-Length: " + CONTENT.length
                    + "\n" + a.headerName() + ": ";
            RawHttp.Response ok = send(head + good, CONTENT);
            assertEquals(200, ok.status(), a + ": " + ok.bodyText());
            String other = a.compute(new byte[] {42}, 0, 1);
            assertError(send(head + other, CONTENT), 400, "BadDigest");
            assertError(send(head + "not-base64!", CONTENT), 400, "InvalidRequest");
        }
        String twoChecksums = "PUT /upl/two HTTP/1.1\nHost: x\nContent-Length: " + CONTENT.length
                + "\nx-amz-checksum-crc32: " + crc32(CONTENT)
                + "\nx-amz-checksum-crc32c: " + ChecksumAlgorithm.CRC32C.compute(CONTENT, 0, CONTENT.length);
        assertError(send(twoChecksums, CONTENT), 400, "InvalidRequest");
        String algorithmWithoutValue = "PUT /upl/alg HTTP/1.1\nHost: x\nContent-Length: " + CONTENT.length
                + "\nx-amz-sdk-checksum-algorithm: CRC32";
        assertError(send(algorithmWithoutValue, CONTENT), 400, "InvalidRequest");
        String mismatchedAlgorithm = algorithmWithoutValue.replace("CRC32", "SHA256")
                + "\nx-amz-checksum-crc32: " + crc32(CONTENT);
        assertError(send(mismatchedAlgorithm, CONTENT), 400, "InvalidRequest");
    }

    @Test
    void contentMd5AndPayloadHashAreVerified() throws Exception {
        String md5 = Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(CONTENT));
        String head = "PUT /upl/md5 HTTP/1.1\nHost: x\nContent-Length: " + CONTENT.length + "\nContent-MD5: ";
        assertEquals(200, send(head + md5, CONTENT).status());
        byte[] other = CONTENT.clone();
        other[0] ^= 1;
        assertError(send(head + md5, other), 400, "BadDigest");
        assertError(send(head + "short", CONTENT), 400, "InvalidDigest");

        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(CONTENT));
        String shaHead = "PUT /upl/sha HTTP/1.1\nHost: x\nContent-Length: " + CONTENT.length + "\nx-amz-content-sha256: ";
        assertEquals(200, send(shaHead + sha, CONTENT).status());
        assertError(send(shaHead + sha, other), 400, "XAmzContentSHA256Mismatch");
        assertError(send(shaHead + "NOT-A-HASH", CONTENT), 400, "InvalidArgument");
    }

    @Test
    void framingHeadersMustAgree() throws Exception {
        assertError(send("PUT /upl/x HTTP/1.1\nHost: x\nContent-Length: 3\nContent-Encoding: aws-chunked",
                "abc".getBytes()), 400, "InvalidRequest");
        assertError(send("PUT /upl/x HTTP/1.1\nHost: x\nContent-Length: 3\n"
                + "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER", "abc".getBytes()), 400, "InvalidRequest");
        byte[] body = chunked("", CONTENT);
        assertError(send("PUT /upl/x HTTP/1.1\nHost: x\nContent-Encoding: aws-chunked\n"
                + "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\nx-amz-trailer: x-amz-checksum-crc32\n"
                + "Content-Length: " + body.length, body), 411, "MissingContentLength");
    }

    @Test
    void deleteObjectsRequiresAndVerifiesADigest() throws Exception {
        byte[] xml = ("<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a</Key></Object>"
                + "<Object><Key>b &amp; c</Key></Object></Delete>").getBytes(StandardCharsets.UTF_8);
        String head = "POST /upl?delete HTTP/1.1\nHost: x\nContent-Length: " + xml.length;
        assertError(send(head, xml), 400, "InvalidRequest");
        String md5 = Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(xml));
        RawHttp.Response ok = send(head + "\nContent-MD5: " + md5, xml);
        assertEquals(200, ok.status(), ok.bodyText());
        assertTrue(ok.bodyText().contains("<Deleted><Key>b &amp; c</Key></Deleted>"), ok.bodyText());
        assertError(send(head + "\nx-amz-checksum-crc32: " + crc32(new byte[0]), xml), 400, "BadDigest");

        byte[] bad = "<Delete><Object><Key>a</Key></Object><Nope/></Delete>".getBytes(StandardCharsets.UTF_8);
        assertError(send("POST /upl?delete HTTP/1.1\nHost: x\nContent-Length: " + bad.length
                + "\nx-amz-checksum-crc32: " + crc32(bad), bad), 400, "MalformedXML");
        byte[] dtd = ("<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
                + "<Delete><Object><Key>&e;</Key></Object></Delete>").getBytes(StandardCharsets.UTF_8);
        assertError(send("POST /upl?delete HTTP/1.1\nHost: x\nContent-Length: " + dtd.length
                + "\nx-amz-checksum-crc32: " + crc32(dtd), dtd), 400, "MalformedXML");
    }
}
