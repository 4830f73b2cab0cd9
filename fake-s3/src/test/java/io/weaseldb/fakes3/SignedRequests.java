package io.weaseldb.fakes3;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.checksums.DefaultChecksumAlgorithm;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.SdkHttpFullRequest;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;

/**
 * Requests signed by the SDK's own SigV4 signer, sent over a raw socket. This is how the signed
 * aws-chunked forms ({@code STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]}) are produced: the async
 * SDK client only sends them over https.
 */
final class SignedRequests {
    private SignedRequests() {}

    /** A signed request: its head (without the final blank line) and body. */
    record Signed(String head, Map<String, List<String>> headers, byte[] body) {}

    /**
     * Signs {@code method encodedPath} with {@code headers} and {@code content}.
     *
     * @param chunked   sign the payload as aws-chunked with chunk signatures
     * @param crc32Trailer add a signed CRC32 trailer (only with {@code chunked})
     */
    static Signed sign(int port, String method, String encodedPath, Map<String, String> headers, byte[] content,
                       boolean chunked, boolean crc32Trailer, String accessKey, String secretKey) {
        return sign(port, method, encodedPath, headers, content, chunked, crc32Trailer, accessKey, secretKey,
                java.time.Clock.systemUTC());
    }

    static Signed sign(int port, String method, String encodedPath, Map<String, String> headers, byte[] content,
                       boolean chunked, boolean crc32Trailer, String accessKey, String secretKey,
                       java.time.Clock clock) {
        SdkHttpFullRequest.Builder request = SdkHttpFullRequest.builder()
                .method(SdkHttpMethod.fromValue(method))
                .protocol("http").host("127.0.0.1").port(port)
                .encodedPath(encodedPath)
                .putHeader("Content-Length", Integer.toString(content.length));
        headers.forEach(request::putHeader);
        SdkHttpFullRequest unsigned = request.build();
        SignedRequest signed = AwsV4HttpSigner.create().sign(r -> {
            r.identity(AwsBasicCredentials.create(accessKey, secretKey))
                    .request(unsigned)
                    .payload(ContentStreamProvider.fromByteArray(content))
                    .putProperty(AwsV4HttpSigner.SIGNING_CLOCK, clock)
                    .putProperty(AwsV4HttpSigner.REGION_NAME, "us-east-1")
                    .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "s3")
                    .putProperty(AwsV4HttpSigner.DOUBLE_URL_ENCODE, false)
                    .putProperty(AwsV4HttpSigner.NORMALIZE_PATH, false)
                    .putProperty(AwsV4HttpSigner.PAYLOAD_SIGNING_ENABLED, true)
                    .putProperty(AwsV4HttpSigner.CHUNK_ENCODING_ENABLED, chunked);
            if (crc32Trailer) {
                r.putProperty(AwsV4HttpSigner.CHECKSUM_ALGORITHM, DefaultChecksumAlgorithm.CRC32);
            }
        });
        byte[] body;
        try (InputStream in = signed.payload().orElseThrow().newStream()) {
            body = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        StringBuilder head = new StringBuilder(method).append(' ').append(encodedPath).append(" HTTP/1.1");
        Map<String, List<String>> signedHeaders = signed.request().headers();
        boolean host = signedHeaders.keySet().stream().anyMatch(h -> h.equalsIgnoreCase("host"));
        if (!host) {
            head.append("\nHost: 127.0.0.1:").append(port);
        }
        signedHeaders.forEach((name, values) -> values.forEach(v -> head.append('\n').append(name).append(": ").append(v)));
        return new Signed(head.toString(), signedHeaders, body);
    }
}
