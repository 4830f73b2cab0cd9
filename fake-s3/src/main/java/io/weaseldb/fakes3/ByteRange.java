package io.weaseldb.fakes3;

import java.util.Optional;

/** A single {@code Range: bytes=...} request, resolved against the object size when it is read. */
public sealed interface ByteRange {

    /** The inclusive byte positions actually served. */
    record Resolved(long first, long last) {
        public long length() {
            return last - first + 1;
        }
    }

    /** {@code bytes=first-last}. */
    record FromTo(long first, long last) implements ByteRange {
        public FromTo {
            if (first < 0 || last < first) {
                throw new IllegalArgumentException("invalid range " + first + "-" + last);
            }
        }
    }

    /** {@code bytes=first-}. */
    record From(long first) implements ByteRange {
        public From {
            if (first < 0) {
                throw new IllegalArgumentException("invalid range " + first + "-");
            }
        }
    }

    /** {@code bytes=-length}: the last {@code length} bytes. */
    record Suffix(long length) implements ByteRange {
        public Suffix {
            if (length < 0) {
                throw new IllegalArgumentException("invalid suffix range -" + length);
            }
        }
    }

    /** The bytes to serve from an object of {@code size} bytes, or empty if unsatisfiable (416). */
    default Optional<Resolved> resolve(long size) {
        return switch (this) {
            case FromTo r -> r.first() < size
                    ? Optional.of(new Resolved(r.first(), Math.min(r.last(), size - 1)))
                    : Optional.empty();
            case From r -> r.first() < size ? Optional.of(new Resolved(r.first(), size - 1)) : Optional.empty();
            case Suffix r -> r.length() > 0 && size > 0
                    ? Optional.of(new Resolved(Math.max(0, size - r.length()), size - 1))
                    : Optional.empty();
        };
    }

    /**
     * Parses a {@code Range} header value. Only a single {@code bytes} range is supported.
     *
     * @return the range, or empty if the header is malformed
     * @throws UnsupportedOperationException for multiple ranges
     */
    static Optional<ByteRange> parse(String header) {
        String h = header.trim();
        if (!h.startsWith("bytes=")) {
            return Optional.empty();
        }
        String spec = h.substring("bytes=".length()).trim();
        if (spec.contains(",")) {
            throw new UnsupportedOperationException("multiple ranges");
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return Optional.empty();
        }
        String a = spec.substring(0, dash).trim();
        String b = spec.substring(dash + 1).trim();
        try {
            if (a.isEmpty()) {
                return b.isEmpty() || !digits(b) ? Optional.empty() : Optional.of(new Suffix(Long.parseLong(b)));
            }
            if (!digits(a)) {
                return Optional.empty();
            }
            long first = Long.parseLong(a);
            if (b.isEmpty()) {
                return Optional.of(new From(first));
            }
            if (!digits(b)) {
                return Optional.empty();
            }
            long last = Long.parseLong(b);
            return last < first ? Optional.empty() : Optional.of(new FromTo(first, last));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static boolean digits(String s) {
        return !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
    }
}
