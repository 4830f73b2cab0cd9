package io.weaseldb.fakes3;

import java.net.URI;
import java.time.Duration;
import java.util.function.Consumer;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3AsyncClientBuilder;
import software.amazon.awssdk.services.s3.S3Configuration;

/**
 * AWS SDK v2 clients for tests: path-style, bounded timeouts, no retries (so faults are seen as they
 * are), and one connection per request ({@code Connection: close}).
 *
 * <p>Why one connection per request: after an error answer (404, 412, ...) on a pooled
 * connection, the SDK's Netty client sometimes closes that connection just after handing it to the
 * next request, which then fails with "The connection was closed during the request" although the
 * server answered everything it was sent with keep-alive and never saw the new request (about 1 in
 * 1,500 requests right after a 404, one thread, SDK 2.57.8; 1 in 100 rounds of 12 concurrent
 * conditional PUTs). That client race failed two unrelated tests in full runs. With
 * {@code Connection: close} no request ever reuses a connection, so it cannot hit one; the
 * server's keep-alive handling is covered with raw sockets and by the product's tests, whose
 * store keeps connections alive (and retries such failures: the persister its PUTs, the SDK its
 * reads).
 */
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
                        .retryStrategy(AwsRetryStrategy.doNotRetry())
                        .addExecutionInterceptor(new ExecutionInterceptor() {
                            @Override
                            public SdkHttpRequest modifyHttpRequest(Context.ModifyHttpRequest context,
                                                                    ExecutionAttributes attributes) {
                                return context.httpRequest().toBuilder().putHeader("Connection", "close").build();
                            }
                        }));
        switch (form) {
            case DEFAULT_TRAILER -> { }
            case WHEN_REQUIRED -> b.requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED);
            case UNCHUNKED -> b.serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(false).build());
        }
        customizer.accept(b);
        return b.build();
    }
}
