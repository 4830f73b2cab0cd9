package io.weaseldb.fakes3;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Collects one request body into a byte array as its buffers arrive, removing the
 * {@code aws-chunked} framing when present. Copies out of each buffer and never keeps one: the
 * caller releases every buffer right after {@link #feed}.
 *
 * <p>aws-chunked grammar accepted (signed chunks carry {@code ;chunk-signature=<64 hex>}, unsigned
 * ones carry nothing after the size):
 * <pre>
 *   chunk   = hex-size [";chunk-signature=" sig] CRLF data CRLF      (size > 0)
 *   last    = "0" [";chunk-signature=" sig] CRLF
 *   trailer = *(name ":" value CRLF) CRLF
 * </pre>
 * Only framing is checked here (sizes, lengths, structure); signatures and digests are verified by
 * the worker thread, off the event loop.
 *
 * <p>Thread-safety: confined to the connection's event loop.
 */
final class RequestBodyReader {
    private static final int MAX_LINE = 4096;
    private static final int MAX_TRAILERS = 16;

    private enum State { SIZE_LINE, DATA, DATA_CR, DATA_LF, TRAILER_LINE, DONE }

    private final PayloadSpec spec;
    private final byte[] content;
    private int written;

    // aws-chunked state
    private State state = State.SIZE_LINE;
    private final StringBuilder line = new StringBuilder();
    private boolean lineCr;
    private long chunkRemaining;
    private int[] chunkEnds = new int[8];
    private String[] chunkSignatures = new String[8];
    private int chunks;
    private final int maxChunks;
    private final Map<String, String> trailers = new LinkedHashMap<>();
    private String trailerSignature;

    RequestBodyReader(PayloadSpec spec) {
        this.spec = spec;
        // length <= maxObjectBytes <= Integer.MAX_VALUE - 8, checked by the parser and config.
        this.content = new byte[Math.toIntExact(spec.length())];
        // Bound the per-chunk bookkeeping: a client sending one-byte chunks must not make us keep
        // millions of signatures. Real clients use 8 KiB..1 MiB chunks.
        this.maxChunks = (int) Math.min(1_000_000, spec.length() / 64 + 16);
    }

    /** Consumes all readable bytes of {@code buf} (without releasing it). @throws S3ErrorException */
    void feed(ByteBuf buf) {
        if (!spec.encoding().chunked()) {
            int n = buf.readableBytes();
            if (n > content.length - written) {
                throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY, "The body is longer than Content-Length");
            }
            buf.readBytes(content, written, n);
            written += n;
            return;
        }
        while (buf.isReadable()) {
            switch (state) {
                case SIZE_LINE, TRAILER_LINE -> {
                    String l = readLine(buf);
                    if (l == null) {
                        return; // need more bytes
                    }
                    if (state == State.SIZE_LINE) {
                        onSizeLine(l);
                    } else {
                        onTrailerLine(l);
                    }
                }
                case DATA -> {
                    int n = (int) Math.min(buf.readableBytes(), chunkRemaining);
                    buf.readBytes(content, written, n);
                    written += n;
                    chunkRemaining -= n;
                    if (chunkRemaining == 0) {
                        state = State.DATA_CR;
                    }
                }
                case DATA_CR -> {
                    expect(buf.readByte(), '\r');
                    state = State.DATA_LF;
                }
                case DATA_LF -> {
                    expect(buf.readByte(), '\n');
                    state = State.SIZE_LINE;
                }
                case DONE -> throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY,
                        "Unexpected data after the end of the aws-chunked body");
            }
        }
    }

    /** Called at the end of the HTTP body. @throws S3ErrorException if the body is incomplete */
    ReceivedBody finish() {
        if (spec.encoding().chunked() && state != State.DONE) {
            throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY, "The aws-chunked body ended early");
        }
        if (written != content.length) {
            throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY,
                    "Received " + written + " bytes of content, expected " + content.length);
        }
        return new ReceivedBody(content, Arrays.copyOf(chunkEnds, chunks), Arrays.copyOf(chunkSignatures, chunks),
                trailers, trailerSignature);
    }

    private static void expect(byte actual, char expected) {
        if (actual != expected) {
            throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY,
                    "Malformed aws-chunked body: expected CRLF after chunk data");
        }
    }

    /** Reads up to and including CRLF; returns the line without it, or null if incomplete. */
    private String readLine(ByteBuf buf) {
        while (buf.isReadable()) {
            byte b = buf.readByte();
            if (lineCr) {
                if (b != '\n') {
                    throw malformedLine();
                }
                lineCr = false;
                String l = line.toString();
                line.setLength(0);
                return l;
            }
            if (b == '\r') {
                lineCr = true;
            } else if (b == '\n' || line.length() >= MAX_LINE) {
                throw malformedLine();
            } else {
                line.append((char) (b & 0xFF));
            }
        }
        return null;
    }

    private S3ErrorException malformedLine() {
        return state == State.TRAILER_LINE
                ? new S3ErrorException(S3ErrorCode.MALFORMED_TRAILER)
                : new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY, "Malformed aws-chunked chunk header");
    }

    private void onSizeLine(String l) {
        int semi = l.indexOf(';');
        String hex = semi < 0 ? l : l.substring(0, semi);
        String signature = null;
        if (semi >= 0) {
            String ext = l.substring(semi + 1);
            if (!ext.startsWith("chunk-signature=")) {
                throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY, "Unsupported chunk extension: " + ext);
            }
            signature = ext.substring("chunk-signature=".length());
            if (!Digests.isSha256Hex(signature)) {
                throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY, "Malformed chunk signature");
            }
        }
        if (spec.encoding().signedChunks && signature == null) {
            throw new S3ErrorException(S3ErrorCode.SIGNATURE_DOES_NOT_MATCH, "Chunk signature missing");
        }
        if (!spec.encoding().signedChunks && signature != null) {
            throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                    "Chunk signatures are not allowed with " + spec.encoding());
        }
        // Only hex digits: Long.parseLong also takes a sign, and "-1" would become a negative chunk.
        if (hex.isEmpty() || hex.length() > 15 || !hex.chars().allMatch(java.util.HexFormat::isHexDigit)) {
            throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY, "Malformed chunk size: '" + hex + "'");
        }
        long size;
        try {
            size = Long.parseLong(hex, 16);
        } catch (NumberFormatException e) {
            throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY, "Malformed chunk size: '" + hex + "'");
        }
        if (size > content.length - written) {
            throw new S3ErrorException(S3ErrorCode.INCOMPLETE_BODY,
                    "The chunks carry more than x-amz-decoded-content-length (" + content.length + ") bytes");
        }
        if (spec.encoding().signedChunks) {
            if (chunks == maxChunks) {
                throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST, "Too many chunks (average chunk too small)");
            }
            if (chunks == chunkEnds.length) {
                chunkEnds = Arrays.copyOf(chunkEnds, chunks * 2);
                chunkSignatures = Arrays.copyOf(chunkSignatures, chunks * 2);
            }
            chunkEnds[chunks] = written + (int) size;
            chunkSignatures[chunks] = signature.toLowerCase(Locale.ROOT);
            chunks++;
        }
        if (size == 0) {
            // The final chunk. Signed bodies without a trailer end with one more CRLF (an empty
            // trailer section); the same rule reads both.
            state = State.TRAILER_LINE;
        } else {
            chunkRemaining = size;
            state = State.DATA;
        }
    }

    private void onTrailerLine(String l) {
        if (l.isEmpty()) {
            state = State.DONE;
            return;
        }
        int colon = l.indexOf(':');
        if (colon <= 0 || trailers.size() >= MAX_TRAILERS) {
            throw new S3ErrorException(S3ErrorCode.MALFORMED_TRAILER);
        }
        String name = l.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = new String(l.substring(colon + 1).getBytes(StandardCharsets.ISO_8859_1),
                StandardCharsets.UTF_8).trim();
        if (name.equals("x-amz-trailer-signature")) {
            if (trailerSignature != null || !Digests.isSha256Hex(value)) {
                throw new S3ErrorException(S3ErrorCode.MALFORMED_TRAILER);
            }
            trailerSignature = value.toLowerCase(Locale.ROOT);
            return;
        }
        if (trailerSignature != null || trailers.put(name, value) != null) {
            // Nothing may follow the signature, and no trailer may repeat.
            throw new S3ErrorException(S3ErrorCode.MALFORMED_TRAILER);
        }
    }
}
