package io.weaseldb.fakes3;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Turns a request head (method, URI, headers) into a validated {@link S3Request} and the
 * {@link PayloadSpec} its body must satisfy, authenticating it first when credentials are
 * configured. Everything that can be rejected before the body arrives is rejected here.
 *
 * <p>Thread-safety: immutable; used by all event loops.
 */
final class RequestParser {
    /** S3 rejects keys longer than 1024 UTF-8 bytes. */
    static final int MAX_KEY_BYTES = 1024;
    /** S3 limits user metadata (names and values of x-amz-meta-*) to 2 KiB. */
    static final int MAX_USER_METADATA_BYTES = 2048;
    /** DeleteObjects takes at most 1000 keys of at most 1024 bytes, plus markup. */
    static final long MAX_DELETE_BODY_BYTES = 2L * 1024 * 1024;

    /** Sub-resources and parameters of S3 features this server does not implement. */
    private static final Set<String> UNSUPPORTED_PARAMS = Set.of(
            "acl", "accelerate", "analytics", "attributes", "cors", "encryption", "intelligent-tiering",
            "inventory", "legal-hold", "lifecycle", "location", "logging", "metrics", "notification",
            "object-lock", "ownershipControls", "partNumber", "policy", "policyStatus", "publicAccessBlock",
            "replication", "requestPayment", "restore", "retention", "select", "select-type", "session",
            "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
            "response-cache-control", "response-content-disposition", "response-content-encoding",
            "response-content-language", "response-content-type", "response-expires");

    /** Request headers of S3 features this server does not implement (names lowercase). */
    private static final Set<String> UNSUPPORTED_HEADERS = Set.of(
            "x-amz-acl", "x-amz-tagging", "x-amz-website-redirect-location", "x-amz-expected-bucket-owner",
            "x-amz-source-expected-bucket-owner", "x-amz-bucket-object-lock-enabled", "x-amz-object-ownership",
            "x-amz-mfa", "x-amz-bypass-governance-retention", "x-amz-request-payer",
            "x-amz-optional-object-attributes", "x-amz-write-offset-bytes");
    /** Prefixes of request headers of S3 features this server does not implement. */
    private static final List<String> UNSUPPORTED_HEADER_PREFIXES = List.of(
            "x-amz-grant-", "x-amz-object-lock-", "x-amz-server-side-encryption-");

    /**
     * Whether a request header asks for a feature this server does not implement (501 rather
     * than ignoring it). {@code x-amz-storage-class: STANDARD} and
     * {@code x-amz-server-side-encryption: AES256} are what every object here is (S3 encrypts
     * all objects with SSE-S3 by default), so only other values are refused.
     */
    static boolean isUnsupportedHeader(String lowercaseName, String value) {
        if (UNSUPPORTED_HEADERS.contains(lowercaseName)) {
            return true;
        }
        for (String prefix : UNSUPPORTED_HEADER_PREFIXES) {
            if (lowercaseName.startsWith(prefix)) {
                return true;
            }
        }
        return switch (lowercaseName) {
            case "x-amz-storage-class" -> !value.trim().equals("STANDARD");
            case "x-amz-server-side-encryption" -> !value.trim().equals("AES256");
            default -> false;
        };
    }

    /** A validated request and the spec of its body ({@code null}: the body, if any, is ignored). */
    record Parsed(S3Request request, PayloadSpec payload) {}

    private final long maxObjectBytes;
    private final SigV4Verifier verifier; // null: accept any signature

    RequestParser(long maxObjectBytes, SigV4Verifier verifier) {
        this.maxObjectBytes = maxObjectBytes;
        this.verifier = verifier;
    }

    /** @throws S3ErrorException describing why the request is rejected */
    Parsed parse(HttpRequest request) {
        String uri = request.uri();
        if (uri.startsWith("http://") || uri.startsWith("https://")) {
            int slash = uri.indexOf('/', uri.indexOf("//") + 2);
            uri = slash < 0 ? "/" : uri.substring(slash);
        }
        if (!uri.startsWith("/")) {
            throw new S3ErrorException(S3ErrorCode.INVALID_URI);
        }
        int q = uri.indexOf('?');
        String path = UriCodec.decode(q < 0 ? uri : uri.substring(0, q), false);
        List<Map.Entry<String, String>> queryList = q < 0 ? List.of() : parseQuery(uri.substring(q + 1));
        Map<String, String> query = new HashMap<>();
        for (var e : queryList) {
            if (query.put(e.getKey(), e.getValue()) != null) {
                throw new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT, "Duplicate query parameter " + e.getKey());
            }
        }
        HttpHeaders headers = request.headers();
        HttpMethod method = request.method();

        SigV4Verifier.ChunkSigning signing = null;
        if (verifier != null) {
            signing = verifier.verify(method.name(), path, queryList, headers);
        }

        for (String name : query.keySet()) {
            if (UNSUPPORTED_PARAMS.contains(name)) {
                throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                        "The '" + name + "' parameter is not implemented by this server");
            }
        }
        if (verifier == null) {
            // With credentials the verifier already refuses presigned URLs (501); without them
            // they would otherwise be served as if the signature did not exist.
            for (String name : List.of("X-Amz-Algorithm", "X-Amz-Signature", "X-Amz-Credential")) {
                if (query.containsKey(name)) {
                    throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                            "Presigned URLs (query-string authentication) are not implemented by this server");
                }
            }
        }
        for (var h : headers) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (isUnsupportedHeader(name, h.getValue())) {
                throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED, "Header " + name + ": " + h.getValue()
                        + " is not implemented by this server");
            }
        }

        String rest = path.substring(1);
        if (rest.isEmpty()) {
            throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                    "Service-level operations (ListBuckets) are not implemented");
        }
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String key = slash < 0 ? "" : rest.substring(slash + 1);
        if (key.isEmpty()) {
            return parseBucketRequest(method, bucket, query, headers, signing);
        }
        if (key.getBytes(StandardCharsets.UTF_8).length > MAX_KEY_BYTES) {
            throw new S3ErrorException(S3ErrorCode.KEY_TOO_LONG);
        }
        return parseObjectRequest(method, bucket, key, headers, signing);
    }

    private Parsed parseBucketRequest(HttpMethod method, String bucket, Map<String, String> query,
                                      HttpHeaders headers, SigV4Verifier.ChunkSigning signing) {
        if (method.equals(HttpMethod.PUT)) {
            String problem = BucketNames.problem(bucket);
            if (problem != null) {
                throw new S3ErrorException(S3ErrorCode.INVALID_BUCKET_NAME, "The specified bucket is not valid: " + problem);
            }
            return new Parsed(new S3Request.CreateBucket(bucket), null);
        }
        if (method.equals(HttpMethod.HEAD)) {
            return new Parsed(new S3Request.HeadBucket(bucket), null);
        }
        if (method.equals(HttpMethod.DELETE)) {
            return new Parsed(new S3Request.DeleteBucket(bucket), null);
        }
        if (method.equals(HttpMethod.GET)) {
            if (!"2".equals(query.get("list-type"))) {
                throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                        "Only ListObjectsV2 (list-type=2) is implemented");
            }
            return new Parsed(parseList(bucket, query), null);
        }
        if (method.equals(HttpMethod.POST)) {
            if (!query.containsKey("delete")) {
                throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED, "Only POST ?delete is implemented on buckets");
            }
            PayloadSpec payload = payloadSpec(headers, signing, MAX_DELETE_BODY_BYTES);
            if (payload.contentMd5() == null && payload.checksum().isEmpty()) {
                throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                        "Missing required header for this request: Content-MD5 OR x-amz-checksum-*");
            }
            return new Parsed(new S3Request.DeleteObjects(bucket), payload);
        }
        throw new S3ErrorException(S3ErrorCode.METHOD_NOT_ALLOWED);
    }

    private static S3Request.ListObjectsV2 parseList(String bucket, Map<String, String> query) {
        int maxKeys = ListQuery.MAX_KEYS;
        String mk = query.get("max-keys");
        if (mk != null) {
            try {
                maxKeys = Integer.parseInt(mk);
            } catch (NumberFormatException e) {
                throw new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT, "Provided max-keys not an integer or within integer range");
            }
            if (maxKeys < 0) {
                throw new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT, "max-keys must not be negative");
            }
            maxKeys = Math.min(maxKeys, ListQuery.MAX_KEYS);
        }
        String encoding = query.get("encoding-type");
        if (encoding != null && !encoding.equals("url")) {
            throw new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT, "Invalid Encoding Method specified in Request");
        }
        if (query.containsKey("optional-object-attributes")) {
            throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED, "optional-object-attributes is not implemented");
        }
        String token = query.get("continuation-token");
        if (token != null) {
            ListTokens.decode(token); // validates
        }
        return new S3Request.ListObjectsV2(bucket,
                query.getOrDefault("prefix", ""),
                query.getOrDefault("delimiter", ""),
                query.getOrDefault("start-after", ""),
                token,
                maxKeys,
                encoding != null,
                "true".equals(query.get("fetch-owner")));
    }

    private Parsed parseObjectRequest(HttpMethod method, String bucket, String key, HttpHeaders headers,
                                      SigV4Verifier.ChunkSigning signing) {
        if (method.equals(HttpMethod.PUT)) {
            if (headers.contains("x-amz-copy-source")) {
                throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED, "CopyObject is not implemented");
            }
            String ifNoneMatch = headers.get("if-none-match");
            String ifMatch = headers.get("if-match");
            PutCondition condition = PutCondition.NONE;
            if (ifNoneMatch != null && ifMatch != null) {
                throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                        "If-Match together with If-None-Match is not implemented");
            }
            if (ifNoneMatch != null) {
                if (!ifNoneMatch.trim().equals("*")) {
                    throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                            "If-None-Match on PUT supports only '*'");
                }
                condition = PutCondition.IF_ABSENT;
            } else if (ifMatch != null) {
                if (ifMatch.isBlank() || ifMatch.contains(",")) {
                    throw new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT, "If-Match on PUT takes a single ETag");
                }
                condition = new PutCondition.IfMatch(ifMatch.trim());
            }
            String contentType = headers.get("content-type", ObjectAttributes.DEFAULT_CONTENT_TYPE);
            PayloadSpec payload = payloadSpec(headers, signing, maxObjectBytes);
            return new Parsed(new S3Request.PutObject(bucket, key, condition, contentType, userMetadata(headers)),
                    payload);
        }
        if (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)) {
            for (String h : List.of("if-modified-since", "if-unmodified-since")) {
                if (headers.contains(h)) {
                    throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED, "Header " + h + " is not implemented");
                }
            }
            ByteRange range = null;
            String rangeHeader = headers.get("range");
            if (rangeHeader != null) {
                try {
                    range = ByteRange.parse(rangeHeader).orElseThrow(() ->
                            new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT, "Invalid Range header: " + rangeHeader));
                } catch (UnsupportedOperationException e) {
                    throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED, "Multiple ranges are not implemented");
                }
            }
            boolean checksumMode = "ENABLED".equalsIgnoreCase(headers.get("x-amz-checksum-mode"));
            return new Parsed(new S3Request.GetObject(bucket, key, method.equals(HttpMethod.HEAD), range,
                    checksumMode, headers.get("if-match"), headers.get("if-none-match")), null);
        }
        if (method.equals(HttpMethod.DELETE)) {
            for (String h : List.of("if-match", "x-amz-if-match-last-modified-time", "x-amz-if-match-size")) {
                if (headers.contains(h)) {
                    throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED, "Conditional delete is not implemented");
                }
            }
            return new Parsed(new S3Request.DeleteObject(bucket, key), null);
        }
        if (method.equals(HttpMethod.POST)) {
            throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED, "POST on objects is not implemented");
        }
        throw new S3ErrorException(S3ErrorCode.METHOD_NOT_ALLOWED);
    }

    private static Map<String, String> userMetadata(HttpHeaders headers) {
        Map<String, String> meta = new TreeMap<>();
        int bytes = 0;
        for (var h : headers) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (name.startsWith("x-amz-meta-")) {
                String shortName = name.substring("x-amz-meta-".length());
                meta.merge(shortName, h.getValue(), (a, b) -> a + "," + b);
                bytes += shortName.length() + h.getValue().getBytes(StandardCharsets.UTF_8).length;
            }
        }
        if (bytes > MAX_USER_METADATA_BYTES) {
            throw new S3ErrorException(S3ErrorCode.METADATA_TOO_LARGE);
        }
        if (meta.size() > ObjectAttributes.MAX_USER_METADATA_ENTRIES) {
            // Within 2 KiB only with tiny names; the directory backend could not read the object back.
            throw new S3ErrorException(S3ErrorCode.METADATA_TOO_LARGE,
                    "Your metadata headers exceed the maximum allowed number of entries ("
                            + ObjectAttributes.MAX_USER_METADATA_ENTRIES + ").");
        }
        return meta;
    }

    /** Decides framing and verification of a body from its headers. */
    private PayloadSpec payloadSpec(HttpHeaders headers, SigV4Verifier.ChunkSigning signing, long maxBytes) {
        String contentSha256 = headers.get("x-amz-content-sha256");
        boolean awsChunked = false;
        for (String enc : headers.getAll("content-encoding")) {
            for (String e : enc.split(",")) {
                if (e.trim().equalsIgnoreCase("aws-chunked")) {
                    awsChunked = true;
                }
            }
        }
        PayloadSpec.Encoding encoding;
        String sha256Hex = null;
        if (contentSha256 == null || contentSha256.equals("UNSIGNED-PAYLOAD")) {
            encoding = PayloadSpec.Encoding.PLAIN;
        } else if (Digests.isSha256Hex(contentSha256)) {
            encoding = PayloadSpec.Encoding.PLAIN;
            sha256Hex = contentSha256.toLowerCase(Locale.ROOT);
        } else {
            encoding = switch (contentSha256) {
                case "STREAMING-UNSIGNED-PAYLOAD-TRAILER" -> PayloadSpec.Encoding.CHUNKED_UNSIGNED_TRAILER;
                case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" -> PayloadSpec.Encoding.CHUNKED_SIGNED;
                case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" -> PayloadSpec.Encoding.CHUNKED_SIGNED_TRAILER;
                default -> {
                    if (contentSha256.startsWith("STREAMING-")) {
                        throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                                "x-amz-content-sha256 " + contentSha256 + " is not implemented");
                    }
                    throw new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT,
                            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                                    + "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER "
                                    + "or a valid sha256 value.");
                }
            };
        }
        if (encoding.chunked() != awsChunked) {
            throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST, encoding.chunked()
                    ? "x-amz-content-sha256 " + contentSha256 + " requires Content-Encoding: aws-chunked"
                    : "Content-Encoding: aws-chunked requires a STREAMING-* x-amz-content-sha256");
        }

        long length;
        if (encoding.chunked()) {
            length = parseLength(headers.get("x-amz-decoded-content-length"), "x-amz-decoded-content-length");
        } else {
            if (headers.contains("transfer-encoding")) {
                // What S3 answers: HTTP chunking is only accepted under aws-chunked.
                throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                        "A header you provided implies functionality that is not implemented: Transfer-Encoding");
            }
            length = parseLength(headers.get("content-length"), "Content-Length");
        }
        if (length > maxBytes) {
            throw new S3ErrorException(S3ErrorCode.ENTITY_TOO_LARGE,
                    "Your proposed upload of " + length + " bytes exceeds the maximum allowed size of "
                            + maxBytes + " bytes");
        }

        byte[] md5 = null;
        String md5Header = headers.get("content-md5");
        if (md5Header != null) {
            try {
                md5 = Base64.getDecoder().decode(md5Header.trim());
            } catch (IllegalArgumentException e) {
                md5 = null;
            }
            if (md5 == null || md5.length != 16) {
                throw new S3ErrorException(S3ErrorCode.INVALID_DIGEST);
            }
        }

        // Flexible checksum: at most one, as a header or announced as a trailer.
        ChecksumAlgorithm headerAlgorithm = null;
        String headerValue = null;
        for (var h : headers) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (!name.startsWith("x-amz-checksum-") || name.equals("x-amz-checksum-mode")) {
                continue;
            }
            if (name.equals("x-amz-checksum-type")) {
                if (!h.getValue().equalsIgnoreCase("FULL_OBJECT")) {
                    throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                            "x-amz-checksum-type " + h.getValue() + " is not implemented");
                }
                continue;
            }
            ChecksumAlgorithm a = ChecksumAlgorithm.fromHeaderName(name).orElseThrow(() ->
                    new S3ErrorException(S3ErrorCode.INVALID_REQUEST, "Unknown checksum header " + name));
            if (headerAlgorithm != null) {
                throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
            }
            if (!a.isWellFormed(h.getValue().trim())) {
                throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST, "Value for " + name + " header is invalid.");
            }
            headerAlgorithm = a;
            headerValue = h.getValue().trim();
        }
        ChecksumAlgorithm trailerAlgorithm = null;
        String trailer = headers.get("x-amz-trailer");
        if (trailer != null) {
            if (!encoding.trailer) {
                throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                        "x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256");
            }
            String name = trailer.trim().toLowerCase(Locale.ROOT);
            trailerAlgorithm = ChecksumAlgorithm.fromHeaderName(name).orElseThrow(() ->
                    new S3ErrorException(S3ErrorCode.INVALID_REQUEST, "Unsupported trailer " + trailer
                            + "; expected exactly one x-amz-checksum-* trailer"));
        } else if (encoding.trailer) {
            throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                    "x-amz-content-sha256 " + contentSha256 + " requires an x-amz-trailer header");
        }
        if (headerAlgorithm != null && trailerAlgorithm != null) {
            throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
        }
        ChecksumAlgorithm algorithm = headerAlgorithm != null ? headerAlgorithm : trailerAlgorithm;
        String sdkAlgorithm = headers.get("x-amz-sdk-checksum-algorithm");
        if (sdkAlgorithm != null) {
            ChecksumAlgorithm declared = ChecksumAlgorithm.fromName(sdkAlgorithm.trim()).orElseThrow(() ->
                    new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                            "Value for x-amz-sdk-checksum-algorithm header is invalid."));
            if (algorithm == null) {
                throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                        "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* "
                                + "or x-amz-trailer headers were found.");
            }
            if (declared != algorithm) {
                throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                        "Value for x-amz-sdk-checksum-algorithm header is invalid: " + declared
                                + " does not match the checksum sent, " + algorithm);
            }
        }
        return new PayloadSpec(encoding, length, sha256Hex, md5, Optional.ofNullable(algorithm), headerValue,
                encoding.signedChunks ? signing : null);
    }

    private static long parseLength(String value, String header) {
        if (value == null) {
            throw new S3ErrorException(S3ErrorCode.MISSING_CONTENT_LENGTH,
                    "You must provide the " + header + " HTTP header.");
        }
        try {
            long n = Long.parseLong(value.trim());
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT, "Invalid " + header + ": " + value);
        }
    }

    /** Splits a raw query string into decoded pairs in order; a bare name gets the value "". */
    static List<Map.Entry<String, String>> parseQuery(String raw) {
        List<Map.Entry<String, String>> out = new ArrayList<>();
        if (raw.isEmpty()) {
            return out;
        }
        for (String part : raw.split("&")) {
            if (part.isEmpty()) {
                continue;
            }
            int eq = part.indexOf('=');
            String name = UriCodec.decode(eq < 0 ? part : part.substring(0, eq), true);
            String value = eq < 0 ? "" : UriCodec.decode(part.substring(eq + 1), true);
            out.add(Map.entry(name, value));
        }
        return out;
    }
}
