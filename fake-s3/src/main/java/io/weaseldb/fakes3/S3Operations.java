package io.weaseldb.fakes3;

import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Executes a parsed request against the {@link ObjectBackend}: verifies the body (chunk and trailer
 * signatures, payload hash, Content-MD5, flexible checksum), performs the operation and builds the
 * S3 answer.
 *
 * <p>Thread-safety: stateless apart from its immutable collaborators; runs on the worker threads,
 * never on an event loop, since backends block on disk and hashing a large body takes time.
 */
final class S3Operations {
    private static final DateTimeFormatter ISO_MILLIS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC);
    private static final String OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";

    private final ObjectBackend backend;
    private final FaultInjector faults;

    S3Operations(ObjectBackend backend, FaultInjector faults) {
        this.backend = Objects.requireNonNull(backend, "backend");
        this.faults = Objects.requireNonNull(faults, "faults");
    }

    /**
     * Runs one request.
     *
     * @param body the received body for requests with a {@link PayloadSpec}, else {@code null}
     */
    S3Response execute(RequestParser.Parsed parsed, ReceivedBody body, String requestId) {
        S3Request request = parsed.request();
        try {
            return switch (request) {
                case S3Request.CreateBucket r -> createBucket(r, requestId);
                case S3Request.HeadBucket r -> backend.bucketExists(r.bucket())
                        ? new S3Response.Builder(200).header("x-amz-bucket-region", "us-east-1").empty()
                        : S3Response.error(S3ErrorCode.NO_SUCH_BUCKET, r.resource(), requestId);
                case S3Request.DeleteBucket r -> switch (backend.deleteBucket(r.bucket())) {
                    case DELETED -> S3Response.empty(204);
                    case NO_SUCH_BUCKET -> S3Response.error(S3ErrorCode.NO_SUCH_BUCKET, r.resource(), requestId);
                    case NOT_EMPTY -> S3Response.error(S3ErrorCode.BUCKET_NOT_EMPTY, r.resource(), requestId);
                };
                case S3Request.ListObjectsV2 r -> list(r, requestId);
                case S3Request.PutObject r -> put(r, parsed.payload(), body, requestId);
                case S3Request.GetObject r -> get(r, requestId);
                case S3Request.DeleteObject r -> switch (backend.delete(r.bucket(), r.key())) {
                    case DELETED, ABSENT -> S3Response.empty(204);
                    case NO_SUCH_BUCKET -> S3Response.error(S3ErrorCode.NO_SUCH_BUCKET, r.resource(), requestId);
                };
                case S3Request.DeleteObjects r -> deleteObjects(r, parsed.payload(), body, requestId);
            };
        } catch (S3ErrorException e) {
            return S3Response.error(e, request.resource(), requestId);
        }
    }

    private S3Response createBucket(S3Request.CreateBucket r, String requestId) {
        return switch (backend.createBucket(r.bucket())) {
            case CREATED -> new S3Response.Builder(200).header("Location", "/" + r.bucket()).empty();
            case ALREADY_EXISTS -> S3Response.error(S3ErrorCode.BUCKET_ALREADY_OWNED_BY_YOU, r.resource(), requestId);
        };
    }

    private S3Response list(S3Request.ListObjectsV2 r, String requestId) {
        String after = r.continuationToken() != null ? ListTokens.decode(r.continuationToken()) : r.startAfter();
        ListQuery query = new ListQuery(r.prefix(), r.delimiter(), after, r.maxKeys());
        return switch (backend.list(r.bucket(), query)) {
            case ObjectBackend.ListResult.NoSuchBucket n ->
                    S3Response.error(S3ErrorCode.NO_SUCH_BUCKET, r.resource(), requestId);
            case ObjectBackend.ListResult.Page page -> {
                XmlWriter x = new XmlWriter().openRoot("ListBucketResult")
                        .element("Name", r.bucket())
                        .element("Prefix", encode(r.prefix(), r));
                if (!r.delimiter().isEmpty()) {
                    x.element("Delimiter", encode(r.delimiter(), r));
                }
                x.element("MaxKeys", r.maxKeys());
                if (r.urlEncoding()) {
                    x.element("EncodingType", "url");
                }
                x.element("KeyCount", page.contents().size() + page.commonPrefixes().size())
                        .element("IsTruncated", page.truncated());
                if (r.continuationToken() != null) {
                    x.element("ContinuationToken", r.continuationToken());
                }
                if (page.truncated()) {
                    x.element("NextContinuationToken", ListTokens.encode(page.lastKey()));
                }
                if (!r.startAfter().isEmpty()) {
                    x.element("StartAfter", encode(r.startAfter(), r));
                }
                for (ObjectInfo o : page.contents()) {
                    x.open("Contents")
                            .element("Key", encode(o.key(), r))
                            .element("LastModified", ISO_MILLIS.format(o.lastModified()))
                            .element("ETag", o.etag())
                            .element("Size", o.size());
                    if (r.fetchOwner()) {
                        x.open("Owner").element("ID", OWNER_ID).element("DisplayName", "weaseldb").close("Owner");
                    }
                    x.element("StorageClass", "STANDARD").close("Contents");
                }
                for (String p : page.commonPrefixes()) {
                    x.open("CommonPrefixes").element("Prefix", encode(p, r)).close("CommonPrefixes");
                }
                yield S3Response.xml(200, x.close("ListBucketResult").toBytes());
            }
        };
    }

    private static String encode(String value, S3Request.ListObjectsV2 r) {
        return r.urlEncoding() ? UriCodec.awsEncode(value, true) : value;
    }

    private S3Response put(S3Request.PutObject r, PayloadSpec spec, ReceivedBody body, String requestId) {
        Optional<ObjectChecksum> checksum = verify(spec, body);
        ObjectAttributes attributes = new ObjectAttributes(r.contentType(), checksum, r.userMetadata());
        return switch (backend.put(r.bucket(), r.key(), body.content(), attributes, r.condition())) {
            case ObjectBackend.PutResult.Stored s -> {
                S3Response.Builder b = new S3Response.Builder(200).header("ETag", s.info().etag());
                checksum.ifPresent(c -> b.header(c.algorithm().headerName(), c.value())
                        .header("x-amz-checksum-type", "FULL_OBJECT"));
                yield b.empty();
            }
            case ObjectBackend.PutResult.PreconditionFailed p ->
                    S3Response.error(S3ErrorCode.PRECONDITION_FAILED, r.resource(), requestId);
            case ObjectBackend.PutResult.NoSuchBucket n ->
                    S3Response.error(S3ErrorCode.NO_SUCH_BUCKET, r.resource(), requestId);
        };
    }

    private S3Response get(S3Request.GetObject r, String requestId) {
        if (r.head()) {
            return switch (backend.head(r.bucket(), r.key())) {
                case ObjectBackend.HeadResult.NoSuchBucket n ->
                        S3Response.error(S3ErrorCode.NO_SUCH_BUCKET, r.resource(), requestId);
                case ObjectBackend.HeadResult.NoSuchKey n ->
                        S3Response.error(S3ErrorCode.NO_SUCH_KEY, r.resource(), requestId);
                case ObjectBackend.HeadResult.Found f -> {
                    S3Response notModified = conditionFailure(r, f.info(), requestId);
                    if (notModified != null) {
                        yield notModified;
                    }
                    if (r.range() == null) {
                        yield objectHeaders(200, f.info(), r.checksumMode()).headOnly(f.info().size());
                    }
                    Optional<ByteRange.Resolved> range = r.range().resolve(f.info().size());
                    if (range.isEmpty()) {
                        yield rangeNotSatisfiable(r, f.info(), requestId);
                    }
                    yield objectHeaders(206, f.info(), false)
                            .header("Content-Range", contentRange(range.get(), f.info().size()))
                            .headOnly(range.get().length());
                }
            };
        }
        return switch (backend.get(r.bucket(), r.key(), r.range())) {
            case ObjectBackend.GetResult.NoSuchBucket n ->
                    S3Response.error(S3ErrorCode.NO_SUCH_BUCKET, r.resource(), requestId);
            case ObjectBackend.GetResult.NoSuchKey n ->
                    S3Response.error(S3ErrorCode.NO_SUCH_KEY, r.resource(), requestId);
            case ObjectBackend.GetResult.RangeNotSatisfiable n -> {
                S3Response failed = conditionFailure(r, n.info(), requestId);
                yield failed != null ? failed : rangeNotSatisfiable(r, n.info(), requestId);
            }
            case ObjectBackend.GetResult.Found f -> {
                S3Response failed = conditionFailure(r, f.info(), requestId);
                yield failed != null ? failed : objectHeaders(200, f.info(), r.checksumMode()).body(f.content());
            }
            case ObjectBackend.GetResult.Partial p -> {
                S3Response failed = conditionFailure(r, p.info(), requestId);
                yield failed != null ? failed : objectHeaders(206, p.info(), false)
                        .header("Content-Range", contentRange(p.range(), p.info().size()))
                        .body(p.content());
            }
        };
    }

    /** 412 for a failed If-Match, 304 for a matching If-None-Match, else null. */
    private static S3Response conditionFailure(S3Request.GetObject r, ObjectInfo info, String requestId) {
        if (r.ifMatch() != null && !ETags.listContains(r.ifMatch(), info.etag())) {
            return S3Response.error(S3ErrorCode.PRECONDITION_FAILED, r.resource(), requestId);
        }
        if (r.ifNoneMatch() != null && ETags.listContains(r.ifNoneMatch(), info.etag())) {
            return new S3Response.Builder(304)
                    .header("ETag", info.etag())
                    .header("Last-Modified", HTTP_DATE.format(info.lastModified()))
                    .empty();
        }
        return null;
    }

    private static S3Response rangeNotSatisfiable(S3Request.GetObject r, ObjectInfo info, String requestId) {
        S3Response error = S3Response.error(S3ErrorCode.INVALID_RANGE, r.resource(), requestId);
        S3Response.Builder b = new S3Response.Builder(416).header("Content-Range", "bytes */" + info.size());
        error.headers().forEach(h -> b.header(h.getKey(), h.getValue()));
        return b.body(error.body());
    }

    private static String contentRange(ByteRange.Resolved range, long size) {
        return "bytes " + range.first() + "-" + range.last() + "/" + size;
    }

    private static S3Response.Builder objectHeaders(int status, ObjectInfo info, boolean withChecksum) {
        S3Response.Builder b = new S3Response.Builder(status)
                .header("Content-Type", info.attributes().contentType())
                .header("ETag", info.etag())
                .header("Last-Modified", HTTP_DATE.format(info.lastModified()))
                .header("Accept-Ranges", "bytes");
        for (var m : info.attributes().userMetadata().entrySet()) {
            b.header("x-amz-meta-" + m.getKey(), m.getValue());
        }
        if (withChecksum) {
            info.attributes().checksum().ifPresent(c -> b.header(c.algorithm().headerName(), c.value())
                    .header("x-amz-checksum-type", "FULL_OBJECT"));
        }
        return b;
    }

    private S3Response deleteObjects(S3Request.DeleteObjects r, PayloadSpec spec, ReceivedBody body,
                                     String requestId) {
        verify(spec, body);
        DeleteRequestXml.Parsed request = DeleteRequestXml.parse(body.content());
        if (!backend.bucketExists(r.bucket())) {
            return S3Response.error(S3ErrorCode.NO_SUCH_BUCKET, r.resource(), requestId);
        }
        XmlWriter x = new XmlWriter().openRoot("DeleteResult");
        for (String key : request.keys()) {
            Optional<FaultKind.Error> injected = faults.decideKeyError(FaultRule.Operation.DELETE, key);
            if (injected.isPresent()) {
                x.open("Error").element("Key", key).element("Code", injected.get().code())
                        .element("Message", "Injected fault").close("Error");
                continue;
            }
            if (key.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > RequestParser.MAX_KEY_BYTES) {
                x.open("Error").element("Key", key).element("Code", S3ErrorCode.KEY_TOO_LONG.code)
                        .element("Message", S3ErrorCode.KEY_TOO_LONG.defaultMessage).close("Error");
                continue;
            }
            ObjectBackend.DeleteResult result = backend.delete(r.bucket(), key);
            if (result == ObjectBackend.DeleteResult.NO_SUCH_BUCKET) {
                // The bucket vanished mid-request.
                return S3Response.error(S3ErrorCode.NO_SUCH_BUCKET, r.resource(), requestId);
            }
            if (!request.quiet()) {
                x.open("Deleted").element("Key", key).close("Deleted");
            }
        }
        return S3Response.xml(200, x.close("DeleteResult").toBytes());
    }

    /**
     * Verifies a received body against its spec; returns the verified flexible checksum.
     *
     * @throws S3ErrorException for the first check that fails
     */
    static Optional<ObjectChecksum> verify(PayloadSpec spec, ReceivedBody body) {
        byte[] content = body.content();
        PayloadSpec.Encoding encoding = spec.encoding();

        if (encoding.signedChunks) {
            if (encoding.trailer && body.trailerSignature() == null) {
                throw new S3ErrorException(S3ErrorCode.SIGNATURE_DOES_NOT_MATCH, "The trailer signature is missing");
            }
            SigV4Verifier.ChunkSigning signing = spec.chunkSigning();
            if (signing != null) {
                String previous = signing.seedSignature();
                int start = 0;
                for (int i = 0; i < body.chunkEnds().length; i++) {
                    int end = body.chunkEnds()[i];
                    String hash = Digests.hex(Digests.sha256(content, start, end - start));
                    String expected = signing.chunkSignature(previous, hash);
                    if (!SigV4Verifier.constantTimeEquals(expected, body.chunkSignatures()[i])) {
                        throw new S3ErrorException(S3ErrorCode.SIGNATURE_DOES_NOT_MATCH,
                                "The chunk signature of chunk " + i + " does not match");
                    }
                    previous = expected;
                    start = end;
                }
                if (encoding.trailer) {
                    StringBuilder canonical = new StringBuilder();
                    for (var t : new TreeMap<>(body.trailers()).entrySet()) {
                        canonical.append(t.getKey()).append(':').append(t.getValue()).append('\n');
                    }
                    String expected = signing.trailerSignature(previous, canonical.toString());
                    if (!SigV4Verifier.constantTimeEquals(expected, body.trailerSignature())) {
                        throw new S3ErrorException(S3ErrorCode.SIGNATURE_DOES_NOT_MATCH,
                                "The trailer signature does not match");
                    }
                }
            }
        } else if (body.trailerSignature() != null) {
            throw new S3ErrorException(S3ErrorCode.MALFORMED_TRAILER,
                    "x-amz-trailer-signature is only allowed with signed chunks");
        }

        String checksumValue = spec.headerChecksum();
        Map<String, String> trailers = body.trailers();
        if (spec.checksumInTrailer()) {
            ChecksumAlgorithm a = spec.checksum().orElseThrow();
            checksumValue = trailers.get(a.headerName());
            if (checksumValue == null || trailers.size() != 1) {
                throw new S3ErrorException(S3ErrorCode.MALFORMED_TRAILER,
                        "Expected exactly the announced trailer " + a.headerName() + ", got " + trailers.keySet());
            }
            if (!a.isWellFormed(checksumValue)) {
                throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                        "Value for " + a.headerName() + " trailer is invalid.");
            }
        } else if (!trailers.isEmpty()) {
            throw new S3ErrorException(S3ErrorCode.MALFORMED_TRAILER,
                    "Trailers were sent but not announced in x-amz-trailer: " + trailers.keySet());
        }

        if (spec.sha256Hex() != null) {
            String actual = Digests.hex(Digests.sha256(content, 0, content.length));
            if (!actual.equals(spec.sha256Hex())) {
                throw new S3ErrorException(S3ErrorCode.X_AMZ_CONTENT_SHA256_MISMATCH);
            }
        }
        if (spec.contentMd5() != null) {
            var md5 = Digests.md5();
            if (!java.security.MessageDigest.isEqual(md5.digest(content), spec.contentMd5())) {
                throw new S3ErrorException(S3ErrorCode.BAD_DIGEST,
                        "The Content-MD5 you specified did not match what we received.");
            }
        }
        if (spec.checksum().isPresent()) {
            ChecksumAlgorithm a = spec.checksum().get();
            String actual = a.compute(content, 0, content.length);
            if (!actual.equals(checksumValue)) {
                throw new S3ErrorException(S3ErrorCode.BAD_DIGEST,
                        "The " + a + " you specified did not match the calculated checksum.");
            }
            return Optional.of(new ObjectChecksum(a, checksumValue));
        }
        return Optional.empty();
    }
}
