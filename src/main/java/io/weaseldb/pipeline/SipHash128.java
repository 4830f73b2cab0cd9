package io.weaseldb.pipeline;

/**
 * SipHash-2-4 with 128-bit output (Aumasson and Bernstein), over a String's UTF-16LE code units
 * so hashing a request id allocates nothing. Keyed with a random secret per process: clients
 * cannot craft two request ids with the same hash. Stateless; thread-safe.
 */
final class SipHash128 {
    private final long k0;
    private final long k1;

    SipHash128(long k0, long k1) {
        this.k0 = k0;
        this.k1 = k1;
    }

    /** The two 64-bit halves of the hash of {@code s}. */
    void hash(CharSequence s, long[] out) {
        long v0 = 0x736f6d6570736575L ^ k0;
        long v1 = 0x646f72616e646f6dL ^ k1 ^ 0xee;
        long v2 = 0x6c7967656e657261L ^ k0;
        long v3 = 0x7465646279746573L ^ k1;
        int n = s.length();
        int bytes = n * 2;
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            long m = (long) s.charAt(i) | ((long) s.charAt(i + 1) << 16) | ((long) s.charAt(i + 2) << 32)
                    | ((long) s.charAt(i + 3) << 48);
            v3 ^= m;
            for (int r = 0; r < 2; r++) {
                v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
                v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
                v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
                v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
            }
            v0 ^= m;
        }
        long last = ((long) bytes & 0xff) << 56;
        for (int j = 0; i < n; i++, j++) {
            last |= (long) s.charAt(i) << (16 * j);
        }
        v3 ^= last;
        for (int r = 0; r < 2; r++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        v0 ^= last;
        v2 ^= 0xee;
        for (int r = 0; r < 4; r++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        out[0] = v0 ^ v1 ^ v2 ^ v3;
        v1 ^= 0xdd;
        for (int r = 0; r < 4; r++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        out[1] = v0 ^ v1 ^ v2 ^ v3;
    }

    /** Reference form over bytes (the standard algorithm), for tests against published vectors. */
    static void hashBytes(long k0, long k1, byte[] in, long[] out) {
        // Pack bytes into chars pairwise (little-endian) when even-length; the char form equals
        // the byte form for such inputs, which is all the vectors need.
        if ((in.length & 1) != 0) {
            throw new IllegalArgumentException("even-length input only");
        }
        char[] c = new char[in.length / 2];
        for (int i = 0; i < c.length; i++) {
            c[i] = (char) ((in[2 * i] & 0xff) | ((in[2 * i + 1] & 0xff) << 8));
        }
        new SipHash128(k0, k1).hash(java.nio.CharBuffer.wrap(c), out);
    }
}
