package io.weaseldb.fakes3;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * The on-disk form of one object in the {@link DirectoryBackend}: metadata and content in one file,
 * so that a single atomic rename publishes both.
 *
 * <pre>
 *   magic "WDBS3OBJ" (8 bytes)
 *   u32 format version (1)
 *   u32 header length N
 *   N bytes header: key, u64 size, etag, i64 last-modified epoch ms, content type,
 *                   checksum algorithm ("" for none), checksum value, u32 metadata count,
 *                   count x (name, value); every string is u32 length + UTF-8
 *   u32 CRC32C of the header
 *   size bytes content
 * </pre>
 *
 * The header CRC and the size check catch torn or foreign files at startup; the content itself is
 * covered by the ETag (MD5), which is not re-verified on every read.
 */
final class ObjectFile {
    static final byte[] MAGIC = "WDBS3OBJ".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    /** Keys are at most 1024 bytes and metadata 2 KiB; anything near this is corruption. */
    private static final int MAX_HEADER_BYTES = 64 * 1024;

    private ObjectFile() {}

    /** A decoded header and where the content starts in the file. */
    record Header(ObjectInfo info, long contentOffset) {}

    private static final byte[] NO_BYTES = {};
    private static final byte[] DEFAULT_CONTENT_TYPE_UTF8 =
            ObjectAttributes.DEFAULT_CONTENT_TYPE.getBytes(StandardCharsets.UTF_8);

    /**
     * The header (magic through CRC) for {@code info}, in one array of its exact size: every
     * stored object makes one, so it is built without intermediate streams.
     */
    static byte[] encodeHeader(ObjectInfo info) {
        ObjectAttributes a = info.attributes();
        byte[] key = info.key().getBytes(StandardCharsets.UTF_8);
        byte[] etag = info.etag().getBytes(StandardCharsets.UTF_8);
        byte[] contentType = a.contentType().equals(ObjectAttributes.DEFAULT_CONTENT_TYPE)
                ? DEFAULT_CONTENT_TYPE_UTF8 : a.contentType().getBytes(StandardCharsets.UTF_8);
        byte[] algorithm = a.checksum().isEmpty() ? NO_BYTES
                : a.checksum().get().algorithm().name().getBytes(StandardCharsets.UTF_8);
        byte[] checksum = a.checksum().isEmpty() ? NO_BYTES
                : a.checksum().get().value().getBytes(StandardCharsets.UTF_8);
        byte[][] metadata = new byte[a.userMetadata().size() * 2][];
        int i = 0;
        for (var e : a.userMetadata().entrySet()) {
            metadata[i++] = e.getKey().getBytes(StandardCharsets.UTF_8);
            metadata[i++] = e.getValue().getBytes(StandardCharsets.UTF_8);
        }
        int length = 4 + key.length + 8 + 4 + etag.length + 8 + 4 + contentType.length + 4 + algorithm.length
                + 4 + checksum.length + 4;
        for (byte[] m : metadata) {
            length += 4 + m.length;
        }
        byte[] out = new byte[MAGIC.length + 8 + length + 4];
        ByteBuffer b = ByteBuffer.wrap(out); // big-endian, as DataInputStream reads it back
        b.put(MAGIC).putInt(VERSION).putInt(length);
        int start = b.position();
        putString(b, key);
        b.putLong(info.size());
        putString(b, etag);
        b.putLong(info.lastModified().toEpochMilli());
        putString(b, contentType);
        putString(b, algorithm);
        putString(b, checksum);
        b.putInt(a.userMetadata().size());
        for (byte[] m : metadata) {
            putString(b, m);
        }
        CRC32C crc = new CRC32C();
        crc.update(out, start, length);
        b.putInt((int) crc.getValue());
        return out;
    }

    private static void putString(ByteBuffer b, byte[] utf8) {
        b.putInt(utf8.length).put(utf8);
    }

    /**
     * Reads and checks the header at the start of {@code channel}.
     *
     * @throws IOException if the file is not a complete object file
     */
    static Header readHeader(FileChannel channel) throws IOException {
        ByteBuffer fixed = ByteBuffer.allocate(MAGIC.length + 8);
        readFully(channel, fixed, 0);
        int length = checkFixed(fixed.flip());
        ByteBuffer all = ByteBuffer.allocate(MAGIC.length + 8 + length + 4);
        all.put(fixed.flip());
        readFully(channel, all, MAGIC.length + 8);
        Header header = decode(all.flip());
        long expectedFileSize = header.contentOffset() + header.info().size();
        if (channel.size() != expectedFileSize) {
            throw new IOException("file is " + channel.size() + " bytes, header says " + expectedFileSize);
        }
        return header;
    }

    /**
     * Decodes a header as {@link #encodeHeader} wrote it, from {@code encoded}'s position (which
     * it moves past the header); {@link Header#contentOffset()} is the header's length.
     *
     * @throws IOException if the bytes are not a complete, intact header
     */
    static Header decode(ByteBuffer encoded) throws IOException {
        if (encoded.remaining() < MAGIC.length + 8) {
            throw new IOException("header ends early");
        }
        int length = checkFixed(encoded);
        if (encoded.remaining() < length + 4) {
            throw new IOException("header ends early");
        }
        byte[] header = new byte[length];
        encoded.get(header);
        int storedCrc = encoded.getInt();
        CRC32C crc = new CRC32C();
        crc.update(header);
        if ((int) crc.getValue() != storedCrc) {
            throw new IOException("header checksum mismatch");
        }
        DataInputStream h = new DataInputStream(new java.io.ByteArrayInputStream(header));
        String key = readString(h);
        long size = h.readLong();
        if (size < 0) {
            throw new IOException("negative size " + size);
        }
        String etag = readString(h);
        Instant lastModified = Instant.ofEpochMilli(h.readLong());
        String contentType = readString(h);
        String algorithm = readString(h);
        String checksumValue = readString(h);
        int metadataCount = h.readInt();
        if (metadataCount < 0 || metadataCount > ObjectAttributes.MAX_USER_METADATA_ENTRIES) {
            throw new IOException("implausible metadata count " + metadataCount);
        }
        Map<String, String> metadata = new TreeMap<>();
        for (int i = 0; i < metadataCount; i++) {
            metadata.put(readString(h), readString(h));
        }
        Optional<ObjectChecksum> checksum = Optional.empty();
        if (!algorithm.isEmpty()) {
            ChecksumAlgorithm alg = ChecksumAlgorithm.fromName(algorithm)
                    .orElseThrow(() -> new IOException("unknown checksum algorithm " + algorithm));
            try {
                checksum = Optional.of(new ObjectChecksum(alg, checksumValue));
            } catch (IllegalArgumentException e) {
                throw new IOException(e.getMessage(), e);
            }
        }
        // Most objects carry the default attributes: one shared instance instead of one each
        // (an index holds them for as long as the objects are stored).
        ObjectAttributes attributes = checksum.isEmpty() && metadata.isEmpty()
                && contentType.equals(ObjectAttributes.DEFAULT_CONTENT_TYPE)
                ? ObjectAttributes.DEFAULT
                : new ObjectAttributes(contentType, checksum, metadata);
        ObjectInfo info = new ObjectInfo(key, size, etag, lastModified, attributes);
        return new Header(info, MAGIC.length + 8L + length + 4L);
    }

    /** Checks the magic and version at {@code fixed}'s position and returns the header length. */
    private static int checkFixed(ByteBuffer fixed) throws IOException {
        byte[] magic = new byte[MAGIC.length];
        fixed.get(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new IOException("not an object file (bad magic)");
        }
        int version = fixed.getInt();
        if (version != VERSION) {
            throw new IOException("unsupported object file version " + version);
        }
        int length = fixed.getInt();
        if (length < 0 || length > MAX_HEADER_BYTES) {
            throw new IOException("implausible header length " + length);
        }
        return length;
    }

    /** Reads until {@code buffer} is full, starting at {@code position}. */
    static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long pos = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, pos);
            if (n < 0) {
                throw new EOFException("file ends early");
            }
            pos += n;
        }
    }

    private static String readString(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > MAX_HEADER_BYTES) {
            throw new IOException("implausible string length " + length);
        }
        byte[] b = new byte[length];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }
}
