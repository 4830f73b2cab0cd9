package io.weaseldb.fakes3;

import java.util.Optional;

/**
 * How a request body is framed and what it must verify against, decided from the headers before
 * the first body byte arrives.
 *
 * @param encoding          plain or one of the {@code aws-chunked} forms
 * @param length            the (decoded) content length the client announced
 * @param sha256Hex         {@code x-amz-content-sha256} when it is a hex digest of the body, else {@code null}
 * @param contentMd5        decoded {@code Content-MD5}, or {@code null}
 * @param checksum          the flexible checksum algorithm in use, if any
 * @param headerChecksum    its value when sent as a header ({@code null} when it comes as a trailer)
 * @param chunkSigning      context to verify chunk and trailer signatures; {@code null} when the
 *                          server has no credentials (signatures are then only checked for form)
 */
record PayloadSpec(Encoding encoding, long length, String sha256Hex, byte[] contentMd5,
                   Optional<ChecksumAlgorithm> checksum, String headerChecksum,
                   SigV4Verifier.ChunkSigning chunkSigning) {

    /** The body framings AWS clients use. */
    enum Encoding {
        /** The body is the content. */
        PLAIN(false, false),
        /** {@code STREAMING-UNSIGNED-PAYLOAD-TRAILER}: aws-chunked, no chunk signatures, trailer. */
        CHUNKED_UNSIGNED_TRAILER(false, true),
        /** {@code STREAMING-AWS4-HMAC-SHA256-PAYLOAD}: signed chunks. */
        CHUNKED_SIGNED(true, false),
        /** {@code STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER}: signed chunks, signed trailer. */
        CHUNKED_SIGNED_TRAILER(true, true);

        final boolean signedChunks;
        final boolean trailer;

        Encoding(boolean signedChunks, boolean trailer) {
            this.signedChunks = signedChunks;
            this.trailer = trailer;
        }

        boolean chunked() {
            return this != PLAIN;
        }
    }

    /** Whether the checksum value arrives in the trailer rather than a header. */
    boolean checksumInTrailer() {
        return checksum.isPresent() && headerChecksum == null;
    }
}
