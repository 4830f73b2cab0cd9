package io.weaseldb.fakes3;

import io.netty.handler.codec.http.HttpHeaders;
import java.security.MessageDigest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Verifies AWS Signature Version 4 header authentication for one configured key pair, and signs
 * the chunk and trailer signatures of {@code aws-chunked} uploads so that they can be checked.
 *
 * <p>Thread-safety: immutable; called concurrently by all event loops (header signatures) and
 * worker threads (chunk signatures).
 */
final class SigV4Verifier {
    static final String ALGORITHM = "AWS4-HMAC-SHA256";
    private static final Duration MAX_SKEW = Duration.ofMinutes(15);
    private static final DateTimeFormatter AMZ_DATE =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'", Locale.ROOT);
    private static final String EMPTY_SHA256 = Digests.sha256Hex("");

    private final String accessKey;
    private final byte[] secretKeyBytes;
    private final InstantSource clock;

    SigV4Verifier(String accessKey, String secretKey, InstantSource clock) {
        this.accessKey = Objects.requireNonNull(accessKey, "accessKey");
        this.secretKeyBytes = ("AWS4" + Objects.requireNonNull(secretKey, "secretKey")).getBytes(StandardCharsets.UTF_8);
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * What is needed to check the chunk signatures of a request whose headers were verified.
     *
     * @param signingKey    the derived key for the request's date and region
     * @param amzDate       the request's {@code x-amz-date}
     * @param scope         {@code date/region/s3/aws4_request}
     * @param seedSignature the header signature, which the first chunk signature chains from
     */
    record ChunkSigning(byte[] signingKey, String amzDate, String scope, String seedSignature) {
        /** The signature of a chunk whose data hashes to {@code chunkSha256Hex}, after {@code previous}. */
        String chunkSignature(String previous, String chunkSha256Hex) {
            String stringToSign = String.join("\n", "AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previous,
                    EMPTY_SHA256, chunkSha256Hex);
            return Digests.hex(Digests.hmacSha256(signingKey, stringToSign));
        }

        /** The trailer signature over {@code canonicalTrailers} ({@code name:value\n} lines, sorted). */
        String trailerSignature(String previous, String canonicalTrailers) {
            String stringToSign = String.join("\n", "AWS4-HMAC-SHA256-TRAILER", amzDate, scope, previous,
                    Digests.sha256Hex(canonicalTrailers));
            return Digests.hex(Digests.hmacSha256(signingKey, stringToSign));
        }
    }

    /** Parsed {@code Authorization} header. */
    private record Authorization(String accessKey, String date, String region, String service,
                                 List<String> signedHeaders, String signature) {}

    /**
     * Verifies the request's header signature.
     *
     * @param method    HTTP method
     * @param path      decoded request path (e.g. {@code /bucket/my key})
     * @param query     decoded query parameters in request order ({@code ""} for a valueless one)
     * @param headers   request headers
     * @return the context to verify chunk signatures with
     * @throws S3ErrorException with S3's code for each way authentication can fail
     */
    ChunkSigning verify(String method, String path, List<Map.Entry<String, String>> query, HttpHeaders headers) {
        String header = headers.get("authorization");
        if (header == null) {
            for (var q : query) {
                if (q.getKey().equals("X-Amz-Algorithm") || q.getKey().equals("X-Amz-Signature")) {
                    throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                            "Query-string (presigned) authentication is not implemented");
                }
            }
            throw new S3ErrorException(S3ErrorCode.ACCESS_DENIED, "Anonymous requests are not allowed");
        }
        Authorization auth = parse(header);
        if (!auth.accessKey().equals(accessKey)) {
            throw new S3ErrorException(S3ErrorCode.INVALID_ACCESS_KEY_ID);
        }
        String amzDate = headers.get("x-amz-date");
        Instant requestTime;
        if (amzDate != null) {
            try {
                requestTime = LocalDateTime.parse(amzDate, AMZ_DATE).toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException e) {
                throw new S3ErrorException(S3ErrorCode.ACCESS_DENIED,
                        "AWS authentication requires a valid Date or x-amz-date header");
            }
        } else {
            String date = headers.get("date");
            try {
                requestTime = date == null ? null
                        : java.time.ZonedDateTime.parse(date, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            } catch (DateTimeParseException e) {
                requestTime = null;
            }
            if (requestTime == null) {
                throw new S3ErrorException(S3ErrorCode.ACCESS_DENIED,
                        "AWS authentication requires a valid Date or x-amz-date header");
            }
            amzDate = AMZ_DATE.format(requestTime.atOffset(ZoneOffset.UTC));
        }
        if (!amzDate.startsWith(auth.date())) {
            throw new S3ErrorException(S3ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
                    "The authorization header is malformed; the credential date " + auth.date()
                            + " does not match the request date " + amzDate.substring(0, 8));
        }
        Duration skew = Duration.between(requestTime, clock.instant()).abs();
        if (skew.compareTo(MAX_SKEW) > 0) {
            throw new S3ErrorException(S3ErrorCode.REQUEST_TIME_TOO_SKEWED);
        }
        Set<String> signed = new TreeSet<>(auth.signedHeaders());
        if (!signed.contains("host")) {
            throw new S3ErrorException(S3ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
                    "The authorization header is malformed; the host header must be signed");
        }
        for (var h : headers) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (name.startsWith("x-amz-") && !signed.contains(name)) {
                throw new S3ErrorException(S3ErrorCode.ACCESS_DENIED,
                        "There were headers present in the request which were not signed: " + name);
            }
        }
        String payloadHash = headers.get("x-amz-content-sha256");
        if (payloadHash == null) {
            throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                    "Missing required header for this request: x-amz-content-sha256");
        }

        String canonicalRequest = String.join("\n",
                method,
                UriCodec.awsEncode(path, true),
                canonicalQuery(query),
                canonicalHeaders(auth.signedHeaders(), headers),
                String.join(";", auth.signedHeaders()),
                payloadHash);
        String scope = auth.date() + "/" + auth.region() + "/" + auth.service() + "/aws4_request";
        String stringToSign = String.join("\n", ALGORITHM, amzDate, scope, Digests.sha256Hex(canonicalRequest));
        byte[] signingKey = signingKey(auth.date(), auth.region(), auth.service());
        String expected = Digests.hex(Digests.hmacSha256(signingKey, stringToSign));
        if (!constantTimeEquals(expected, auth.signature())) {
            throw new S3ErrorException(S3ErrorCode.SIGNATURE_DOES_NOT_MATCH);
        }
        return new ChunkSigning(signingKey, amzDate, scope, auth.signature());
    }

    static boolean constantTimeEquals(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.US_ASCII), b.getBytes(StandardCharsets.US_ASCII));
    }

    private byte[] signingKey(String date, String region, String service) {
        byte[] k = Digests.hmacSha256(secretKeyBytes, date);
        k = Digests.hmacSha256(k, region);
        k = Digests.hmacSha256(k, service);
        return Digests.hmacSha256(k, "aws4_request");
    }

    private static Authorization parse(String header) {
        String h = header.trim();
        if (h.startsWith("AWS ")) {
            throw new S3ErrorException(S3ErrorCode.INVALID_REQUEST,
                    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.");
        }
        if (!h.startsWith(ALGORITHM + " ")) {
            throw new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT, "Unsupported Authorization Type");
        }
        String credential = null;
        String signedHeaders = null;
        String signature = null;
        for (String part : h.substring(ALGORITHM.length() + 1).split(",")) {
            String p = part.trim();
            int eq = p.indexOf('=');
            if (eq <= 0) {
                throw malformed("unexpected component '" + p + "'");
            }
            String name = p.substring(0, eq);
            String value = p.substring(eq + 1);
            switch (name) {
                case "Credential" -> credential = value;
                case "SignedHeaders" -> signedHeaders = value;
                case "Signature" -> signature = value;
                default -> throw malformed("unexpected component '" + name + "'");
            }
        }
        if (credential == null || signedHeaders == null || signature == null) {
            throw malformed("Credential, SignedHeaders and Signature are required");
        }
        String[] scope = credential.split("/", -1);
        if (scope.length != 5 || scope[0].isEmpty() || !scope[1].matches("\\d{8}") || scope[2].isEmpty()
                || !scope[4].equals("aws4_request")) {
            throw malformed("the Credential must be <key>/<yyyyMMdd>/<region>/s3/aws4_request");
        }
        if (!scope[3].equals("s3")) {
            throw malformed("the service in the Credential must be s3, not " + scope[3]);
        }
        if (!Digests.isSha256Hex(signature)) {
            throw malformed("the Signature must be 64 hex digits");
        }
        List<String> names = List.of(signedHeaders.split(";"));
        for (String n : names) {
            if (n.isEmpty() || !n.equals(n.toLowerCase(Locale.ROOT))) {
                throw malformed("SignedHeaders must be lowercase names separated by ';'");
            }
        }
        return new Authorization(scope[0], scope[1], scope[2], scope[3], names, signature.toLowerCase(Locale.ROOT));
    }

    private static S3ErrorException malformed(String why) {
        return new S3ErrorException(S3ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
                "The authorization header is malformed; " + why);
    }

    private static String canonicalQuery(List<Map.Entry<String, String>> query) {
        List<String[]> pairs = new ArrayList<>(query.size());
        for (var q : query) {
            pairs.add(new String[] {UriCodec.awsEncode(q.getKey(), false), UriCodec.awsEncode(q.getValue(), false)});
        }
        pairs.sort(Comparator.<String[], String>comparing(p -> p[0]).thenComparing(p -> p[1]));
        StringBuilder sb = new StringBuilder();
        for (String[] p : pairs) {
            if (!sb.isEmpty()) {
                sb.append('&');
            }
            sb.append(p[0]).append('=').append(p[1]);
        }
        return sb.toString();
    }

    private static String canonicalHeaders(List<String> signedHeaders, HttpHeaders headers) {
        StringBuilder sb = new StringBuilder();
        for (String name : signedHeaders) {
            List<String> values = headers.getAll(name);
            sb.append(name).append(':');
            for (int i = 0; i < values.size(); i++) {
                if (i > 0) {
                    sb.append(',');
                }
                sb.append(values.get(i).trim().replaceAll(" +", " "));
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
