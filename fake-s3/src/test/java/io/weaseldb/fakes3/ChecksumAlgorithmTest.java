package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class ChecksumAlgorithmTest {
    private static final byte[] CHECK = "123456789".getBytes(StandardCharsets.US_ASCII);

    private static String hexOf(ChecksumAlgorithm a) {
        return HexFormat.of().formatHex(Base64.getDecoder().decode(a.compute(CHECK, 0, CHECK.length)));
    }

    @Test
    void standardCheckValues() {
        // The "check" values of the CRC catalogue for the ASCII string "123456789".
        assertEquals("cbf43926", hexOf(ChecksumAlgorithm.CRC32));
        assertEquals("e3069283", hexOf(ChecksumAlgorithm.CRC32C));
        assertEquals("ae8b14860a799888", hexOf(ChecksumAlgorithm.CRC64NVME));
        assertEquals("f7c3bc1d808e04732adf679965ccc34ca7ae3441", hexOf(ChecksumAlgorithm.SHA1));
        assertEquals("15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225", hexOf(ChecksumAlgorithm.SHA256));
    }

    @Test
    void namesAndWellFormedness() {
        assertEquals("x-amz-checksum-crc64nvme", ChecksumAlgorithm.CRC64NVME.headerName());
        assertEquals(ChecksumAlgorithm.CRC32C, ChecksumAlgorithm.fromName("crc32c").orElseThrow());
        assertEquals(ChecksumAlgorithm.SHA1, ChecksumAlgorithm.fromHeaderName("x-amz-checksum-sha1").orElseThrow());
        assertTrue(ChecksumAlgorithm.CRC32.isWellFormed("AAAAAA=="));
        assertFalse(ChecksumAlgorithm.CRC32.isWellFormed("AAAAAAAAAAA="));
        assertFalse(ChecksumAlgorithm.CRC32.isWellFormed("%%%"));
    }
}
