package io.weaseldb.time;

import java.security.SecureRandom;
import java.util.UUID;
import java.util.random.RandomGenerator;

/**
 * Source of unique ids (generated request ids, leader ids) and of randomness (backoff jitter),
 * injected so that tests and the simulation are reproducible.
 *
 * <p>Implementations are thread-safe.
 */
public interface IdSource {
    /** A new random UUID string (36 chars, so it satisfies any sane min_request_id_length). */
    String uuid();

    /** A uniformly distributed double in [0, 1), for jitter. */
    double nextDouble();

    /** Real randomness: UUIDs from a SecureRandom, jitter from a fast generator. */
    static IdSource secure() {
        SecureRandom secure = new SecureRandom();
        return new IdSource() {
            @Override
            public String uuid() {
                byte[] b = new byte[16];
                synchronized (secure) {
                    secure.nextBytes(b);
                }
                b[6] = (byte) ((b[6] & 0x0f) | 0x40); // version 4
                b[8] = (byte) ((b[8] & 0x3f) | 0x80); // IETF variant
                long msb = 0;
                long lsb = 0;
                for (int i = 0; i < 8; i++) {
                    msb = (msb << 8) | (b[i] & 0xff);
                    lsb = (lsb << 8) | (b[i + 8] & 0xff);
                }
                return new UUID(msb, lsb).toString();
            }

            @Override
            public double nextDouble() {
                return java.util.concurrent.ThreadLocalRandom.current().nextDouble();
            }
        };
    }

    /** Deterministic ids from a seed, for tests and simulation. Not thread-safe by contract of use. */
    static IdSource seeded(long seed) {
        RandomGenerator random = new java.util.SplittableRandom(seed);
        return new IdSource() {
            @Override
            public synchronized String uuid() {
                return new UUID(random.nextLong(), random.nextLong()).toString();
            }

            @Override
            public synchronized double nextDouble() {
                return random.nextDouble();
            }
        };
    }
}
