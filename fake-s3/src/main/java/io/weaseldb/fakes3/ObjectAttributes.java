package io.weaseldb.fakes3;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What the writer of an object says about it, stored with the content.
 *
 * @param contentType  the {@code Content-Type} to answer reads with
 * @param checksum     the flexible checksum the writer sent, already verified
 * @param userMetadata {@code x-amz-meta-*} headers, names lowercase without the prefix
 */
public record ObjectAttributes(String contentType, Optional<ObjectChecksum> checksum, Map<String, String> userMetadata) {
    /** What S3 answers for objects stored without a content type. */
    public static final String DEFAULT_CONTENT_TYPE = "binary/octet-stream";

    /**
     * The most {@code x-amz-meta-*} entries an object may carry. The request parser rejects more
     * (400 MetadataTooLarge) and the directory backend's reader treats more as corruption, so
     * anything a PUT accepts can be read back.
     */
    public static final int MAX_USER_METADATA_ENTRIES = 1024;

    public static final ObjectAttributes DEFAULT =
            new ObjectAttributes(DEFAULT_CONTENT_TYPE, Optional.empty(), Map.of());

    public ObjectAttributes {
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(checksum, "checksum");
        // Sorted, so that the stored form and HEAD answers are deterministic.
        userMetadata = java.util.Collections.unmodifiableSortedMap(
                new TreeMap<>(Objects.requireNonNull(userMetadata, "userMetadata")));
    }

    public static ObjectAttributes ofContentType(String contentType) {
        return new ObjectAttributes(contentType, Optional.empty(), Map.of());
    }
}
