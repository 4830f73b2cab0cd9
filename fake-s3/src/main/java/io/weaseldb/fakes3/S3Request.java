package io.weaseldb.fakes3;

/**
 * A parsed, validated S3 request: what to do, without the HTTP around it. A closed family consumed
 * by {@link S3Operations} with an exhaustive switch.
 */
sealed interface S3Request {

    /** The operation family fault rules match on. */
    FaultRule.Operation faultOperation();

    /** The key fault rules with a prefix match on, or {@code null} for bucket-level requests. */
    default String faultKey() {
        return null;
    }

    /** The {@code Resource} reported in error responses. */
    String resource();

    record CreateBucket(String bucket) implements S3Request {
        public FaultRule.Operation faultOperation() {
            return FaultRule.Operation.PUT;
        }

        public String resource() {
            return "/" + bucket;
        }
    }

    record HeadBucket(String bucket) implements S3Request {
        public FaultRule.Operation faultOperation() {
            return FaultRule.Operation.HEAD;
        }

        public String resource() {
            return "/" + bucket;
        }
    }

    record DeleteBucket(String bucket) implements S3Request {
        public FaultRule.Operation faultOperation() {
            return FaultRule.Operation.DELETE;
        }

        public String resource() {
            return "/" + bucket;
        }
    }

    /**
     * ListObjectsV2.
     *
     * @param continuationToken the token as received, or {@code null}
     * @param urlEncoding       {@code encoding-type=url}: keys and prefixes in the answer are URL-encoded
     */
    record ListObjectsV2(String bucket, String prefix, String delimiter, String startAfter,
                         String continuationToken, int maxKeys, boolean urlEncoding, boolean fetchOwner)
            implements S3Request {
        public FaultRule.Operation faultOperation() {
            return FaultRule.Operation.LIST;
        }

        @Override
        public String faultKey() {
            return prefix;
        }

        public String resource() {
            return "/" + bucket;
        }
    }

    record PutObject(String bucket, String key, PutCondition condition, String contentType,
                     java.util.Map<String, String> userMetadata) implements S3Request {
        public FaultRule.Operation faultOperation() {
            return FaultRule.Operation.PUT;
        }

        @Override
        public String faultKey() {
            return key;
        }

        public String resource() {
            return "/" + bucket + "/" + key;
        }
    }

    /**
     * GetObject or HeadObject.
     *
     * @param head         HEAD: the same answer without a body
     * @param range        requested range, or {@code null}
     * @param checksumMode {@code x-amz-checksum-mode: ENABLED}: return the stored checksum
     * @param ifMatch      {@code If-Match} header, or {@code null}
     * @param ifNoneMatch  {@code If-None-Match} header, or {@code null}
     */
    record GetObject(String bucket, String key, boolean head, ByteRange range, boolean checksumMode,
                     String ifMatch, String ifNoneMatch) implements S3Request {
        public FaultRule.Operation faultOperation() {
            return head ? FaultRule.Operation.HEAD : FaultRule.Operation.GET;
        }

        @Override
        public String faultKey() {
            return key;
        }

        public String resource() {
            return "/" + bucket + "/" + key;
        }
    }

    record DeleteObject(String bucket, String key) implements S3Request {
        public FaultRule.Operation faultOperation() {
            return FaultRule.Operation.DELETE;
        }

        @Override
        public String faultKey() {
            return key;
        }

        public String resource() {
            return "/" + bucket + "/" + key;
        }
    }

    /** DeleteObjects ({@code POST /bucket?delete}); the keys come in the body. */
    record DeleteObjects(String bucket) implements S3Request {
        public FaultRule.Operation faultOperation() {
            return FaultRule.Operation.DELETE;
        }

        public String resource() {
            return "/" + bucket;
        }
    }
}
