package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RequestBodyReaderTest {
    private static final String SIG_A = "a".repeat(64);
    private static final String SIG_B = "b".repeat(64);
    private static final String SIG_C = "c".repeat(64);

    private static PayloadSpec spec(PayloadSpec.Encoding encoding, long length) {
        return new PayloadSpec(encoding, length, null, null, Optional.empty(), null, null);
    }

    /** Feeds {@code raw} in pieces of {@code step} bytes, releasing each buffer like the handler does. */
    private static ReceivedBody read(PayloadSpec spec, String raw, int step) {
        RequestBodyReader reader = new RequestBodyReader(spec);
        byte[] bytes = raw.getBytes(StandardCharsets.ISO_8859_1);
        for (int i = 0; i < bytes.length; i += step) {
            ByteBuf buf = Unpooled.copiedBuffer(bytes, i, Math.min(step, bytes.length - i));
            try {
                reader.feed(buf);
            } finally {
                buf.release();
            }
        }
        return reader.finish();
    }

    @Test
    void signedChunksAreDecodedAcrossArbitraryBufferBoundaries() {
        String raw = "5;chunk-signature=" + SIG_A + "\r\nhello\r\n"
                + "6;chunk-signature=" + SIG_B + "\r\n world\r\n"
                + "0;chunk-signature=" + SIG_C + "\r\n\r\n";
        for (int step : List.of(1, 2, 3, 7, 64, raw.length())) {
            ReceivedBody body = read(spec(PayloadSpec.Encoding.CHUNKED_SIGNED, 11), raw, step);
            assertArrayEquals("hello world".getBytes(StandardCharsets.UTF_8), body.content(), "step " + step);
            assertArrayEquals(new int[] {5, 11, 11}, body.chunkEnds());
            assertArrayEquals(new String[] {SIG_A, SIG_B, SIG_C}, body.chunkSignatures());
        }
    }

    @Test
    void trailersAndTheirSignatureAreCollected() {
        String raw = "3;chunk-signature=" + SIG_A + "\r\nabc\r\n0;chunk-signature=" + SIG_B + "\r\n"
                + "x-amz-checksum-crc32:NSRBwg==\r\nx-amz-trailer-signature:" + SIG_C + "\r\n\r\n";
        ReceivedBody body = read(spec(PayloadSpec.Encoding.CHUNKED_SIGNED_TRAILER, 3), raw, 5);
        assertEquals(Map.of("x-amz-checksum-crc32", "NSRBwg=="), body.trailers());
        assertEquals(SIG_C, body.trailerSignature());
        ReceivedBody unsigned = read(spec(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3),
                "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n", 1);
        assertEquals(Map.of("x-amz-checksum-crc32", "NSRBwg=="), unsigned.trailers());
        assertArrayEquals(new int[0], unsigned.chunkEnds());
    }

    @Test
    void framingErrorsAreS3Errors() {
        record Bad(PayloadSpec.Encoding encoding, long length, String raw, S3ErrorCode code) {}
        for (Bad b : List.of(
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "3\r\nabcX\r\n0\r\n\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "3\nabc\r\n0\r\n\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "3\r\nabc\r\n0\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "3\r\nabc\r\n0\r\n\r\nextra", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "3\r\nabc\r\n0\r\nno colon\r\n\r\n", S3ErrorCode.MALFORMED_TRAILER),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "3;chunk-signature=" + SIG_A + "\r\nabc\r\n0\r\n\r\n",
                        S3ErrorCode.INVALID_REQUEST),
                new Bad(PayloadSpec.Encoding.CHUNKED_SIGNED, 3, "3\r\nabc\r\n0\r\n\r\n", S3ErrorCode.SIGNATURE_DOES_NOT_MATCH),
                new Bad(PayloadSpec.Encoding.CHUNKED_SIGNED, 3, "3;chunk-signature=xyz\r\nabc\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "4\r\nabcd\r\n0\r\n\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "fffffffffffffffff\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "1".repeat(5000), S3ErrorCode.INCOMPLETE_BODY),
                // Chunk sizes are bare hex digits: no sign, no spaces, no 0x (a sign used to pass parseLong).
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "-1\r\nabc\r\n0\r\n\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "+3\r\nabc\r\n0\r\n\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, " 3\r\nabc\r\n0\r\n\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER, 3, "0x3\r\nabc\r\n0\r\n\r\n", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.PLAIN, 3, "ab", S3ErrorCode.INCOMPLETE_BODY),
                new Bad(PayloadSpec.Encoding.PLAIN, 3, "abcd", S3ErrorCode.INCOMPLETE_BODY))) {
            S3ErrorException e = assertThrows(S3ErrorException.class, () -> read(spec(b.encoding(), b.length()), b.raw(), 2),
                    b.raw());
            assertEquals(b.code(), e.code, b.raw() + ": " + e.getMessage());
        }
    }
}
