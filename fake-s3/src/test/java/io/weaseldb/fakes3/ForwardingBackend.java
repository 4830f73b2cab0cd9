package io.weaseldb.fakes3;

/** An {@link ObjectBackend} that delegates everything; tests override single methods. */
class ForwardingBackend implements ObjectBackend {
    private final ObjectBackend delegate;

    ForwardingBackend(ObjectBackend delegate) {
        this.delegate = delegate;
    }

    @Override
    public CreateBucketResult createBucket(String bucket) {
        return delegate.createBucket(bucket);
    }

    @Override
    public boolean bucketExists(String bucket) {
        return delegate.bucketExists(bucket);
    }

    @Override
    public DeleteBucketResult deleteBucket(String bucket) {
        return delegate.deleteBucket(bucket);
    }

    @Override
    public PutResult put(String bucket, String key, byte[] content, ObjectAttributes attributes,
                         PutCondition condition) {
        return delegate.put(bucket, key, content, attributes, condition);
    }

    @Override
    public GetResult get(String bucket, String key, ByteRange range) {
        return delegate.get(bucket, key, range);
    }

    @Override
    public HeadResult head(String bucket, String key) {
        return delegate.head(bucket, key);
    }

    @Override
    public DeleteResult delete(String bucket, String key) {
        return delegate.delete(bucket, key);
    }

    @Override
    public ListResult list(String bucket, ListQuery query) {
        return delegate.list(bucket, query);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
