package io.weaseldb.json;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class Base64CodecTest {

    /** Decodes {@code s} placed at offset 5 of a larger array, between other characters. */
    static byte[] decodeAtOffset(String s) throws Base64Codec.InvalidBase64Exception {
        char[] chars = ("#####" + s + "#####").toCharArray();
        return Base64Codec.decode(chars, 5, s.length());
    }

    static String errorAtOffset(String s) {
        return assertThrows(Base64Codec.InvalidBase64Exception.class, () -> decodeAtOffset(s), s).getMessage();
    }

    /** A key or value is read from inside the parser's character buffer: positions count from the string's start. */
    @Test
    void decodesAStringInsideALargerArrayAndCountsPositionsFromItsStart() throws Exception {
        assertArrayEquals("hello!".getBytes(), decodeAtOffset("aGVsbG8h"));
        assertArrayEquals("hello".getBytes(), decodeAtOffset("aGVsbG8="));
        assertArrayEquals("hell".getBytes(), decodeAtOffset("aGVsbA=="));
        assertEquals("invalid base64: illegal character '!' at position 0", errorAtOffset("!GVsbG8h"));
        assertEquals("invalid base64: illegal character '!' at position 1", errorAtOffset("a!VsbG8h"));
        assertEquals("invalid base64: illegal character '!' at position 2", errorAtOffset("aG!sbG8h"));
        assertEquals("invalid base64: illegal character '!' at position 3", errorAtOffset("aGV!bG8h"));
        assertEquals("invalid base64: illegal character '!' at position 6", errorAtOffset("aGVsbG!="));
        assertEquals("invalid base64: illegal character '!' at position 4", errorAtOffset("aGVs!A=="));
        assertEquals("invalid base64: padding '=' at position 5", errorAtOffset("aGVsb=8="));
    }

    /**
     * Characters past ASCII are illegal, U+0080 included (the decode table's first index past
     * its end), and are named by code point, as are control characters and DEL; printable ASCII
     * is quoted as is.
     */
    @Test
    void namesIllegalCharactersPrintablyOrByCodePoint() {
        assertEquals("invalid base64: illegal character U+0080 at position 1", errorAtOffset("Y\u0080=="));
        assertEquals("invalid base64: illegal character U+00E9 at position 0", errorAtOffset("\u00e9Q=="));
        assertEquals("invalid base64: illegal character ' ' at position 2", errorAtOffset("YQ ="));
        assertEquals("invalid base64: illegal character '~' at position 0", errorAtOffset("~Q=="));
        assertEquals("invalid base64: illegal character U+007F at position 0", errorAtOffset("\u007fQ=="));
        assertEquals("invalid base64: illegal character U+001F at position 0", errorAtOffset("\u001fQ=="));
    }

    /** encode writes at the offset asked and says how many bytes it wrote: encodedLength of the input. */
    @Test
    void encodeWritesAtTheOffsetAndReturnsTheLengthWritten() {
        for (int n = 0; n <= 7; n++) {
            byte[] src = new byte[n];
            for (int i = 0; i < n; i++) {
                src[i] = (byte) (0xF0 + i);
            }
            byte[] dst = new byte[3 + Base64Codec.encodedLength(n) + 3];
            Arrays.fill(dst, (byte) '#');
            int written = Base64Codec.encode(src, dst, 3);
            String expected = java.util.Base64.getEncoder().encodeToString(src);
            assertEquals(expected.length(), written, n + " bytes");
            assertEquals("###" + expected + "###", new String(dst, java.nio.charset.StandardCharsets.ISO_8859_1));
        }
    }
}
