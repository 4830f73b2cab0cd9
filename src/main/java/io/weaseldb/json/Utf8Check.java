package io.weaseldb.json;

import java.nio.ByteBuffer;

/**
 * Checks that a body is well-formed UTF-8 (RFC 3629: no overlong forms, no encoded surrogates,
 * nothing above U+10FFFF), chunk by chunk, a sequence split between chunks included. jackson's
 * non-blocking parser decodes strings without these checks: {@code E0 80 A8} came out as
 * {@code (}, so two different request ids became one idempotency key, and {@code C0 80} as
 * U+0000. Owned by its parser.
 */
public final class Utf8Check {
    private static final java.lang.invoke.VarHandle LONGS =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);
    /** Continuation bytes still owed by the sequence in progress. */
    private int needed;
    /** The range the next byte must be in (the second byte of some sequences is narrower). */
    private int low = 0x80;
    private int high = 0xBF;

    /** The index of the first byte of {@code body} that makes it not UTF-8 (a cut-short end: its length), or -1. */
    public static int firstInvalid(byte[] body) {
        Utf8Check c = new Utf8Check();
        int bad = c.check(ByteBuffer.wrap(body), 0, body.length);
        return bad >= 0 ? bad : c.midSequence() ? body.length : -1;
    }

    /** Forgets a sequence in progress (a new body). */
    void reset() {
        needed = 0;
        low = 0x80;
        high = 0xBF;
    }

    /** True if the bytes so far end inside a sequence. */
    boolean midSequence() {
        return needed > 0;
    }

    /** Checks {@code [from, to)} of {@code buf} (absolute indexes); returns the index of the first bad byte, or -1. */
    int check(ByteBuffer buf, int from, int to) {
        if (buf.hasArray()) {
            byte[] a = buf.array();
            int base = buf.arrayOffset();
            int i = from;
            if (needed == 0) {
                // ASCII (keys, values and names are base64 or plain), eight bytes at a time
                while (i + 8 <= to && ((long) LONGS.get(a, base + i) & 0x8080808080808080L) == 0) {
                    i += 8;
                }
            }
            for (; i < to; i++) {
                byte b = a[base + i];
                if ((b >= 0 && needed == 0) || accept(b & 0xFF)) {
                    continue;
                }
                return i;
            }
            return -1;
        }
        for (int i = from; i < to; i++) {
            byte b = buf.get(i);
            if ((b >= 0 && needed == 0) || accept(b & 0xFF)) {
                continue;
            }
            return i;
        }
        return -1;
    }

    /** One byte past the ASCII fast path; false if it cannot come here. */
    private boolean accept(int b) {
        if (needed > 0) {
            if (b < low || b > high) {
                return false;
            }
            needed--;
            low = 0x80;
            high = 0xBF;
            return true;
        }
        if (b < 0xC2 || b > 0xF4) {
            return false; // a continuation byte without a lead, an overlong 2-byte lead, or past U+10FFFF
        }
        if (b < 0xE0) {
            needed = 1;
        } else if (b < 0xF0) {
            needed = 2;
            if (b == 0xE0) {
                low = 0xA0; // below: overlong
            } else if (b == 0xED) {
                high = 0x9F; // above: a UTF-16 surrogate
            }
        } else {
            needed = 3;
            if (b == 0xF0) {
                low = 0x90; // below: overlong
            } else if (b == 0xF4) {
                high = 0x8F; // above: past U+10FFFF
            }
        }
        return true;
    }
}
