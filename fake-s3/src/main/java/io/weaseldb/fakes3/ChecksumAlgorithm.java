package io.weaseldb.fakes3;

import java.util.Base64;
import java.util.Locale;
import java.util.Optional;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;

/**
 * The flexible checksums S3 accepts in {@code x-amz-checksum-*} headers and trailers, each sent as
 * the base64 of the big-endian digest.
 */
public enum ChecksumAlgorithm {
    CRC32(4),
    CRC32C(4),
    CRC64NVME(8),
    SHA1(20),
    SHA256(32);

    private final int digestBytes;

    ChecksumAlgorithm(int digestBytes) {
        this.digestBytes = digestBytes;
    }

    /** The header (and trailer) name, e.g. {@code x-amz-checksum-crc32}. */
    public String headerName() {
        return "x-amz-checksum-" + name().toLowerCase(Locale.ROOT);
    }

    /** Parses the value of {@code x-amz-sdk-checksum-algorithm} (case-insensitive). */
    public static Optional<ChecksumAlgorithm> fromName(String name) {
        for (ChecksumAlgorithm a : values()) {
            if (a.name().equalsIgnoreCase(name)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    /** The algorithm whose header is {@code headerName} (lowercase), if any. */
    public static Optional<ChecksumAlgorithm> fromHeaderName(String headerName) {
        for (ChecksumAlgorithm a : values()) {
            if (a.headerName().equals(headerName)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    /** Whether {@code base64} decodes to a digest of the right length for this algorithm. */
    public boolean isWellFormed(String base64) {
        try {
            return Base64.getDecoder().decode(base64).length == digestBytes;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The base64 checksum of {@code data[offset, offset+length)}. */
    public String compute(byte[] data, int offset, int length) {
        byte[] digest = switch (this) {
            case CRC32 -> {
                CRC32 crc = new CRC32();
                crc.update(data, offset, length);
                yield intBytes((int) crc.getValue());
            }
            case CRC32C -> {
                CRC32C crc = new CRC32C();
                crc.update(data, offset, length);
                yield intBytes((int) crc.getValue());
            }
            case CRC64NVME -> longBytes(Crc64Nvme.compute(data, offset, length));
            case SHA1 -> {
                var d = Digests.digest("SHA-1");
                d.update(data, offset, length);
                yield d.digest();
            }
            case SHA256 -> Digests.sha256(data, offset, length);
        };
        return Base64.getEncoder().encodeToString(digest);
    }

    private static byte[] intBytes(int v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    private static byte[] longBytes(long v) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (v >>> (56 - 8 * i));
        }
        return b;
    }

    /** CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all ones); not in the JDK. */
    static final class Crc64Nvme {
        private static final long[] TABLE = new long[256];

        static {
            long poly = 0x9A6C9329AC4BC9B5L;
            for (int i = 0; i < 256; i++) {
                long crc = i;
                for (int bit = 0; bit < 8; bit++) {
                    crc = (crc & 1) != 0 ? (crc >>> 1) ^ poly : crc >>> 1;
                }
                TABLE[i] = crc;
            }
        }

        private Crc64Nvme() {}

        static long compute(byte[] data, int offset, int length) {
            long crc = ~0L;
            for (int i = offset; i < offset + length; i++) {
                crc = TABLE[(int) ((crc ^ data[i]) & 0xFF)] ^ (crc >>> 8);
            }
            return ~crc;
        }
    }
}
