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

    /**
     * Real randomness without a lock per id: each thread draws from its own fast generator,
     * seeded once from {@link SecureRandom}, so ids stay unique across threads, restarts and
     * servers (122 random bits) while costing nanoseconds.
     */
    static IdSource secure() {
        SecureRandom seeds = new SecureRandom();
        ThreadLocal<java.util.SplittableRandom> local = ThreadLocal.withInitial(() -> {
            synchronized (seeds) {
                return new java.util.SplittableRandom(seeds.nextLong() ^ System.nanoTime());
            }
        });
        return new IdSource() {
            @Override
            public String uuid() {
                java.util.SplittableRandom r = local.get();
                long msb = (r.nextLong() & ~0xf000L) | 0x4000L; // version 4
                long lsb = (r.nextLong() & ~(0xcL << 60)) | (0x8L << 60); // IETF variant
                return new UUID(msb, lsb).toString();
            }

            @Override
            public double nextDouble() {
                return local.get().nextDouble();
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
