package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.DeleteObjectsResponse;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Error;
import software.amazon.awssdk.services.s3.model.S3Exception;

/** Every fault kind, observed the way WeaselDB observes S3: through the SDK. */
@org.junit.jupiter.api.Timeout(120)
class FaultInjectionTest {
    @TempDir
    Path dir;

    private FakeS3Server server;
    private S3AsyncClient s3;

    @BeforeEach
    void start() throws Exception {
        server = FakeS3Server.start(FakeS3Config.builder().bucket("faults").build());
        s3 = S3Clients.client(server.endpoint());
    }

    @AfterEach
    void stop() {
        s3.close();
        server.close();
    }

    private void put(String key, String content) {
        s3.putObject(b -> b.bucket("faults").key(key), AsyncRequestBody.fromString(content)).join();
    }

    private byte[] get(String key) {
        return s3.getObject(b -> b.bucket("faults").key(key), AsyncResponseTransformer.toBytes()).join().asByteArray();
    }

    private boolean exists(String key) {
        try {
            s3.headObject(b -> b.bucket("faults").key(key)).join();
            return true;
        } catch (CompletionException e) {
            assertEquals(404, assertInstanceOf(S3Exception.class, e.getCause()).statusCode());
            return false;
        }
    }

    /** A transport-level failure: the SDK got no HTTP answer at all. */
    private static SdkClientException transportFailure(Runnable call) {
        CompletionException e = assertThrows(CompletionException.class, call::run);
        assertFalse(e.getCause() instanceof S3Exception, () -> "expected no HTTP answer, got " + e.getCause());
        return assertInstanceOf(SdkClientException.class, e.getCause());
    }

    private static boolean causedBy(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }

    @Test
    void errorFaultsAnswerWithTheirStatusAndCodeWithoutApplying() {
        server.faults().add("op=PUT,kind=error,status=503,code=SlowDown,count=1");
        S3Exception e = FakeS3ServerTest.s3Error(() -> put("k", "v1"));
        assertEquals(503, e.statusCode());
        assertEquals("SlowDown", e.awsErrorDetails().errorCode());
        assertFalse(exists("k"), "a failed PUT must not be applied");
        put("k", "v2"); // count=1: used up
        assertArrayEquals("v2".getBytes(StandardCharsets.UTF_8), get("k"));

        server.faults().add(new FaultRule(FaultRule.Operation.GET, "", 1.0, FaultRule.UNLIMITED,
                new FaultKind.Error(429, "SlowDown")));
        assertEquals(429, FakeS3ServerTest.s3ErrorStatus(() -> get("k")));
        server.faults().add("op=ANY,kind=error,status=500");
        S3Exception internal = FakeS3ServerTest.s3Error(() -> s3.listObjectsV2(b -> b.bucket("faults")).join());
        assertEquals(500, internal.statusCode());
        assertEquals("InternalError", internal.awsErrorDetails().errorCode());
        assertEquals(3, server.faults().injectedCount("error"));

        server.faults().clear();
        assertArrayEquals("v2".getBytes(StandardCharsets.UTF_8), get("k"));
    }

    @Test
    void errorFaultsCanTargetAKeyPrefix() {
        server.faults().add("op=PUT,prefix=log/,kind=error,status=500");
        assertEquals(500, FakeS3ServerTest.s3ErrorStatus(() -> put("log/1", "x")));
        put("retention/1", "x");
        assertTrue(exists("retention/1"));
    }

    @Test
    void deleteObjectsReportsInjectedPerKeyErrors() {
        put("bulk/bad-1", "x");
        put("bulk/good", "x");
        server.faults().add("op=DELETE,prefix=bulk/bad,kind=error,status=500,code=InternalError");
        DeleteObjectsResponse r = s3.deleteObjects(b -> b.bucket("faults").delete(Delete.builder().objects(
                ObjectIdentifier.builder().key("bulk/bad-1").build(),
                ObjectIdentifier.builder().key("bulk/good").build()).build())).join();
        assertEquals(List.of("bulk/good"), r.deleted().stream().map(d -> d.key()).toList());
        assertEquals(List.of("bulk/bad-1"), r.errors().stream().map(S3Error::key).toList());
        assertEquals("InternalError", r.errors().get(0).code());
        assertTrue(exists("bulk/bad-1"));
        assertFalse(exists("bulk/good"));
    }

    @Test
    void latencyFaultsDelayTheAnswer() {
        put("slow", "x");
        get("slow"); // warm the connection pool
        server.faults().add("op=GET,kind=latency,ms=400");
        long start = System.nanoTime();
        get("slow");
        long elapsedMs = (System.nanoTime() - start) / 1_000_000;
        assertTrue(elapsedMs >= 390, "GET took " + elapsedMs + " ms");
        put("fast", "x"); // other operations are not delayed: the rule did not fire for the PUT
        assertEquals(1, server.faults().injectedCount("latency"));

        server.faults().clear();
        server.faults().add("op=HEAD,kind=latency,min_ms=100,max_ms=200");
        start = System.nanoTime();
        exists("slow");
        elapsedMs = (System.nanoTime() - start) / 1_000_000;
        assertTrue(elapsedMs >= 95, "HEAD took " + elapsedMs + " ms");
        assertEquals(2, server.faults().injectedCount("latency"));
    }

    @Test
    void latencyDoesNotBlockOtherConnections() throws Exception {
        put("k", "v");
        server.faults().add("op=GET,kind=latency,ms=3000,count=1");
        var slow = s3.getObject(b -> b.bucket("faults").key("k"), AsyncResponseTransformer.toBytes());
        // Had the delay blocked an event loop, requests on the connections it serves would wait
        // for it: the HEADs all answer while the GET is still held. (No wall-clock bound: on a
        // loaded machine five HEADs may take a while, but not the 3 s the GET is held.)
        for (int i = 0; i < 5; i++) {
            assertTrue(exists("k"));
        }
        assertFalse(slow.isDone(), "HEADs were held up by a delayed GET");
        assertArrayEquals("v".getBytes(StandardCharsets.UTF_8), slow.join().asByteArray());
    }

    @Test
    void resetFaultsDropTheConnectionWithoutApplying() {
        server.faults().add("op=PUT,kind=reset,count=1");
        transportFailure(() -> put("reset-me", "x"));
        assertFalse(exists("reset-me"));
        put("reset-me", "y");
        assertTrue(exists("reset-me"));
        assertEquals(1, server.faults().injectedCount("reset"));
    }

    @Test
    void timeoutFaultsNeverAnswer() {
        server.faults().add("op=GET,kind=timeout");
        put("held", "x");
        try (S3AsyncClient impatient = S3Clients.client(server.endpoint(), S3Clients.UploadForm.DEFAULT_TRAILER,
                S3Clients.ACCESS_KEY, S3Clients.SECRET_KEY,
                b -> b.overrideConfiguration(o -> o.apiCallAttemptTimeout(Duration.ofMillis(800))
                        .retryStrategy(AwsRetryStrategy.doNotRetry())))) {
            long start = System.nanoTime();
            CompletionException e = assertThrows(CompletionException.class, () -> impatient.getObject(
                    b -> b.bucket("faults").key("held"), AsyncResponseTransformer.toBytes()).join());
            // The SDK reports the attempt timeout either as itself or, when its cancel of the Netty
            // request wins the race, wrapped in an SdkClientException (aws-sdk-java-v2 #2713). Either
            // way the timeout is the cause, not an answer from the server.
            assertFalse(e.getCause() instanceof S3Exception, () -> "expected no HTTP answer, got " + e.getCause());
            assertTrue(causedBy(e, ApiCallAttemptTimeoutException.class), () -> "expected an attempt timeout, got " + e);
            assertTrue((System.nanoTime() - start) / 1_000_000 >= 750);
            assertEquals(1, server.faults().injectedCount("timeout"));
            // Other operations on the same server still work.
            impatient.headObject(b -> b.bucket("faults").key("held")).join();
        }
    }

    @Test
    void lostReplyAppliesThePutButNeverAnswers() {
        server.faults().add("op=PUT,prefix=log/,kind=lost_reply,count=1");
        SdkClientException e = transportFailure(() -> s3.putObject(b -> b.bucket("faults")
                .key("log/00000000000000000001").ifNoneMatch("*"), AsyncRequestBody.fromString("batch")).join());
        assertTrue(e.getMessage() != null);
        // The write happened: the retry of the same conditional PUT loses to itself.
        assertArrayEquals("batch".getBytes(StandardCharsets.UTF_8), get("log/00000000000000000001"));
        assertEquals(412, FakeS3ServerTest.s3ErrorStatus(() -> s3.putObject(b -> b.bucket("faults")
                .key("log/00000000000000000001").ifNoneMatch("*"), AsyncRequestBody.fromString("batch")).join()));
        assertEquals(1, server.faults().injectedCount("lost_reply"));
    }

    @Test
    void lostReplyWritesAreDurable() throws Exception {
        Path data = dir.resolve("data");
        FakeS3Config config = FakeS3Config.builder().dataDir(data).bucket("faults")
                .fault(FaultRule.parse("op=PUT,kind=lost_reply")).build();
        try (FakeS3Server disk = FakeS3Server.start(config);
             S3AsyncClient client = S3Clients.client(disk.endpoint())) {
            transportFailure(() -> client.putObject(b -> b.bucket("faults").key("k"),
                    AsyncRequestBody.fromString("durable")).join());
        }
        try (FakeS3Server disk = FakeS3Server.start(config.toBuilder().faults(List.of()).build());
             S3AsyncClient client = S3Clients.client(disk.endpoint())) {
            assertArrayEquals("durable".getBytes(StandardCharsets.UTF_8), client.getObject(
                    b -> b.bucket("faults").key("k"), AsyncResponseTransformer.toBytes()).join().asByteArray());
        }
    }

    @Test
    void probabilisticFaultsHitAboutTheirShare() {
        put("p", "x");
        server.faults().add("op=HEAD,kind=error,status=503,probability=0.3");
        int failed = 0;
        for (int i = 0; i < 200; i++) {
            try {
                s3.headObject(b -> b.bucket("faults").key("p")).join();
            } catch (CompletionException e) {
                assertEquals(503, assertInstanceOf(S3Exception.class, e.getCause()).statusCode());
                failed++;
            }
        }
        assertTrue(failed > 30 && failed < 90, failed + " of 200 failed");
        assertEquals(failed, server.faults().injectedCount("error"));
    }

    @Test
    void reproducibleWithTheSameSeed() throws Exception {
        // The decisions are a pure function of the seed and the sequence of requests.
        List<Boolean> first = decisions(42);
        assertEquals(first, decisions(42));
        assertFalse(first.equals(decisions(43)));
        // Over HTTP a seeded server makes the same decisions for the requests it receives
        // (the client may open a fresh connection, which changes nothing here).
        try (FakeS3Server seeded = FakeS3Server.start(FakeS3Config.builder().bucket("faults").seed(42)
                .fault(FaultRule.parse("op=HEAD,kind=error,status=503,probability=0.5")).build());
             S3AsyncClient client = S3Clients.client(seeded.endpoint())) {
            int failed = 0;
            for (int i = 0; i < 40; i++) {
                try {
                    client.headBucket(b -> b.bucket("faults")).join();
                } catch (CompletionException e) {
                    failed++;
                }
            }
            assertTrue(failed > 0 && failed < 40, "both outcomes at probability 0.5: " + failed + " of 40 failed");
        }
    }

    private static List<Boolean> decisions(long seed) {
        FaultInjector injector = FaultInjector.seeded(seed);
        injector.add("op=HEAD,kind=error,status=503,probability=0.5");
        List<Boolean> pattern = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            pattern.add(injector.decide(FaultRule.Operation.HEAD, "").terminal().isPresent());
        }
        return pattern;
    }
}
