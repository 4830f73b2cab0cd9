package io.weaseldb.json;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** {@link Utf8Check#firstInvalid} checks whole bodies (retention policies): where the first byte that is not UTF-8 is. */
class Utf8CheckTest {

    static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = (byte) b[i];
        }
        return out;
    }

    @Test
    void findsTheFirstByteThatIsNotUtf8() {
        assertEquals(-1, Utf8Check.firstInvalid(new byte[0]));
        assertEquals(-1, Utf8Check.firstInvalid(bytes(0x00, 'a', 0x7F)), "NUL and DEL are UTF-8 (JSON decides about them)");
        assertEquals(-1, Utf8Check.firstInvalid("plain ascii, more than eight bytes long".getBytes()));
        assertEquals(-1, Utf8Check.firstInvalid(bytes('a', 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80)));
        assertEquals(0, Utf8Check.firstInvalid(bytes(0x80, 'b')), "a continuation byte first");
        assertEquals(1, Utf8Check.firstInvalid(bytes('a', 0x80, 'b')), "a continuation byte without a lead");
        assertEquals(2, Utf8Check.firstInvalid(bytes('a', 0xC3, 'b')), "a lead byte followed by ASCII");
        assertEquals(9, Utf8Check.firstInvalid(bytes('0', '1', '2', '3', '4', '5', '6', '7', '8', 0xC0, 0x80)),
                "an overlong lead after an eight-byte ASCII run");
    }

    @Test
    void aSequenceCutShortAtTheEndIsInvalidAtTheEnd() {
        assertEquals(4, Utf8Check.firstInvalid(bytes('a', 'b', 0xE2, 0x82)));
        assertEquals(2, Utf8Check.firstInvalid(bytes('a', 0xF0)));
    }
}
