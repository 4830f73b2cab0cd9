package io.weaseldb.fakes3;

import java.net.URI;
import java.time.Duration;
import java.util.function.Consumer;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3AsyncClientBuilder;
import software.amazon.awssdk.services.s3.S3Configuration;

/** AWS SDK v2 clients for tests: path-style, bounded timeouts, no retries (so faults are seen as they are). */
final class S3Clients {
    static final String ACCESS_KEY = "AKIDWEASELTEST";
    static final String SECRET_KEY = "weasel-secret-key";

    /** How the SDK frames PutObject bodies over http://. */
    enum UploadForm {
        /** SDK default: aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer. */
        DEFAULT_TRAILER,
        /** {@code requestChecksumCalculation(WHEN_REQUIRED)}. */
        WHEN_REQUIRED,
        /** {@code S3Configuration.chunkedEncodingEnabled(false)}: plain body, checksum header. */
        UNCHUNKED
    }

    static {
        TestLogging.quietLibraries();
    }

    private S3Clients() {}

    static S3AsyncClient client(URI endpoint) {
        return client(endpoint, UploadForm.DEFAULT_TRAILER, ACCESS_KEY, SECRET_KEY, b -> { });
    }

    static S3AsyncClient client(URI endpoint, UploadForm form) {
        return client(endpoint, form, ACCESS_KEY, SECRET_KEY, b -> { });
    }

    static S3AsyncClient client(URI endpoint, UploadForm form, String accessKey, String secretKey,
                                Consumer<S3AsyncClientBuilder> customizer) {
        S3AsyncClientBuilder b = S3AsyncClient.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey)))
                .httpClient(NettyNioAsyncHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(5))
                        .readTimeout(Duration.ofSeconds(20))
                        .writeTimeout(Duration.ofSeconds(20))
                        .build())
                .overrideConfiguration(o -> o
                        .apiCallTimeout(Duration.ofSeconds(30))
                        .apiCallAttemptTimeout(Duration.ofSeconds(25))
                        .retryStrategy(AwsRetryStrategy.doNotRetry()));
        switch (form) {
            case DEFAULT_TRAILER -> { }
            case WHEN_REQUIRED -> b.requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED);
            case UNCHUNKED -> b.serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(false).build());
        }
        customizer.accept(b);
        return b.build();
    }
}
