package io.weaseldb.fakes3;

import java.util.Objects;

/**
 * A flexible checksum a client sent with an object, stored with it and returned when a client
 * reads the whole object with {@code x-amz-checksum-mode: ENABLED}.
 *
 * @param algorithm which checksum
 * @param value     its base64 value as S3 prints it
 */
public record ObjectChecksum(ChecksumAlgorithm algorithm, String value) {
    public ObjectChecksum {
        Objects.requireNonNull(algorithm, "algorithm");
        Objects.requireNonNull(value, "value");
        if (!algorithm.isWellFormed(value)) {
            throw new IllegalArgumentException("not a well-formed " + algorithm + " value: " + value);
        }
    }
}
