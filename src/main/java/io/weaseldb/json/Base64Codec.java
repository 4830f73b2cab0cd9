package io.weaseldb.json;

/**
 * Strict standard base64 (RFC 4648 section 4, with padding) straight from the parser's
 * character buffer, so decoding a key or value allocates only the result array. Java's
 * {@code Base64.getDecoder()} would need a String first and accepts missing padding; the API
 * contract requires padding.
 *
 * <p>Stateless and thread-safe.
 */
public final class Base64Codec {
    private static final byte[] ENCODE =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] DECODE = new byte[128];

    static {
        java.util.Arrays.fill(DECODE, (byte) -1);
        for (int i = 0; i < ENCODE.length; i++) {
            DECODE[ENCODE[i]] = (byte) i;
        }
    }

    private Base64Codec() {}

    /** Thrown for input that is not canonical padded base64; the message says why. */
    public static final class InvalidBase64Exception extends Exception {
        InvalidBase64Exception(String message) {
            super(message, null, false, false);
        }
    }

    public static byte[] decode(char[] chars, int offset, int length) throws InvalidBase64Exception {
        if (length == 0) {
            return new byte[0];
        }
        if ((length & 3) != 0) {
            throw new InvalidBase64Exception("invalid base64: length " + length + " is not a multiple of 4 (padding is required)");
        }
        int padding = 0;
        if (chars[offset + length - 1] == '=') {
            padding++;
            if (chars[offset + length - 2] == '=') {
                padding++;
            }
        }
        int outLen = (length / 4) * 3 - padding;
        byte[] out = new byte[outLen];
        int o = 0;
        int end = offset + length;
        for (int i = offset; i < end; i += 4) {
            int a = value(chars, i, i - offset);
            int b = value(chars, i + 1, i + 1 - offset);
            boolean last = i + 4 == end;
            if (last && padding > 0) {
                if (padding == 2) {
                    if ((b & 0x0f) != 0) {
                        throw new InvalidBase64Exception("invalid base64: non-zero bits before padding");
                    }
                    out[o++] = (byte) ((a << 2) | (b >> 4));
                } else {
                    int c = value(chars, i + 2, i + 2 - offset);
                    if ((c & 0x03) != 0) {
                        throw new InvalidBase64Exception("invalid base64: non-zero bits before padding");
                    }
                    out[o++] = (byte) ((a << 2) | (b >> 4));
                    out[o++] = (byte) ((b << 4) | (c >> 2));
                }
            } else {
                int c = value(chars, i + 2, i + 2 - offset);
                int d = value(chars, i + 3, i + 3 - offset);
                int bits = (a << 18) | (b << 12) | (c << 6) | d;
                out[o++] = (byte) (bits >> 16);
                out[o++] = (byte) (bits >> 8);
                out[o++] = (byte) bits;
            }
        }
        assert o == outLen;
        return out;
    }

    private static int value(char[] chars, int i, int position) throws InvalidBase64Exception {
        char ch = chars[i];
        int v = ch < 128 ? DECODE[ch] : -1;
        if (v < 0) {
            if (ch == '=') {
                throw new InvalidBase64Exception("invalid base64: padding '=' at position " + position);
            }
            throw new InvalidBase64Exception("invalid base64: illegal character "
                    + (ch >= 0x20 && ch < 0x7f ? "'" + ch + "'" : String.format("U+%04X", (int) ch))
                    + " at position " + position);
        }
        return v;
    }

    public static byte[] decode(String s) throws InvalidBase64Exception {
        return decode(s.toCharArray(), 0, s.length());
    }

    /** Length of the base64 encoding of {@code n} bytes. */
    public static int encodedLength(int n) {
        return ((n + 2) / 3) * 4;
    }

    /** Encodes {@code src} into {@code dst} at {@code dstOffset}; returns the number of bytes written. */
    public static int encode(byte[] src, byte[] dst, int dstOffset) {
        int o = dstOffset;
        int i = 0;
        int full = src.length - src.length % 3;
        for (; i < full; i += 3) {
            int bits = ((src[i] & 0xff) << 16) | ((src[i + 1] & 0xff) << 8) | (src[i + 2] & 0xff);
            dst[o++] = ENCODE[bits >>> 18];
            dst[o++] = ENCODE[(bits >>> 12) & 0x3f];
            dst[o++] = ENCODE[(bits >>> 6) & 0x3f];
            dst[o++] = ENCODE[bits & 0x3f];
        }
        int rest = src.length - full;
        if (rest == 1) {
            int bits = (src[i] & 0xff) << 16;
            dst[o++] = ENCODE[bits >>> 18];
            dst[o++] = ENCODE[(bits >>> 12) & 0x3f];
            dst[o++] = '=';
            dst[o++] = '=';
        } else if (rest == 2) {
            int bits = ((src[i] & 0xff) << 16) | ((src[i + 1] & 0xff) << 8);
            dst[o++] = ENCODE[bits >>> 18];
            dst[o++] = ENCODE[(bits >>> 12) & 0x3f];
            dst[o++] = ENCODE[(bits >>> 6) & 0x3f];
            dst[o++] = '=';
        }
        return o - dstOffset;
    }

    public static String encodeToString(byte[] src) {
        byte[] out = new byte[encodedLength(src.length)];
        encode(src, out, 0);
        return new String(out, java.nio.charset.StandardCharsets.ISO_8859_1);
    }
}
