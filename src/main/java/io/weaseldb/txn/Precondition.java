package io.weaseldb.txn;

/**
 * A read the transaction depends on. {@code version} is the precondition's own version, or
 * {@link #DEFAULT_VERSION} to use the request's {@code read_version}.
 */
public sealed interface Precondition permits Precondition.PointRead, Precondition.RangeRead {

    long DEFAULT_VERSION = -1;

    long version();

    /** Holds if {@code key} was not changed by any transaction with a version greater than the read version. */
    record PointRead(byte[] key, long version) implements Precondition {}

    /** Holds if no key in {@code [begin, end)} was changed after the read version. */
    record RangeRead(byte[] begin, byte[] end, long version) implements Precondition {}
}
