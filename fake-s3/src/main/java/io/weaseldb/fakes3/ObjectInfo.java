package io.weaseldb.fakes3;

import java.time.Instant;
import java.util.Objects;

/**
 * Metadata of one stored object, as HEAD and listings report it.
 *
 * @param key          the object key
 * @param size         content length in bytes
 * @param etag         quoted lowercase hex MD5 of the content, e.g. {@code "9b2cf535f27731c974343645a3985328"}
 * @param lastModified when the object was written, truncated to whole seconds like S3 reports it
 * @param attributes   content type, checksum and user metadata from the writer
 */
public record ObjectInfo(String key, long size, String etag, Instant lastModified, ObjectAttributes attributes) {
    public ObjectInfo {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(etag, "etag");
        Objects.requireNonNull(lastModified, "lastModified");
        Objects.requireNonNull(attributes, "attributes");
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0");
        }
    }
}
