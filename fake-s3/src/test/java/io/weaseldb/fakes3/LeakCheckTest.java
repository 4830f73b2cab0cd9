package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.services.s3.S3AsyncClient;

/**
 * Drives the server through its normal and abnormal paths, then makes Netty's leak detector
 * (paranoid in the test JVM) report: a leaked ByteBuf fails this test instead of only logging.
 */
@org.junit.jupiter.api.Timeout(120)
class LeakCheckTest {
    @Test
    void noBufferLeaksOnAnyPath() throws Exception {
        Logger detector = (Logger) LoggerFactory.getLogger("io.netty.util.ResourceLeakDetector");
        ListAppender<ILoggingEvent> leaks = new ListAppender<>();
        leaks.start();
        detector.addAppender(leaks);
        try (FakeS3Server server = FakeS3Server.start(FakeS3Config.builder().bucket("leaks")
                .maxObjectBytes(64 * 1024).build());
             S3AsyncClient s3 = S3Clients.client(server.endpoint())) {
            for (int round = 0; round < 3; round++) {
                traffic(server, s3);
                for (int i = 0; i < 3; i++) {
                    System.gc();
                }
            }
            // Reports happen when new buffers are tracked after the leaked ones were collected.
            traffic(server, s3);
            assertTrue(Poll.until(Duration.ofSeconds(5), () -> server.stats().bufferedBytes() == 0));
        } finally {
            detector.detachAppender(leaks);
        }
        assertEquals(0, leaks.list.stream().filter(e -> e.getFormattedMessage().contains("LEAK")).count(),
                () -> leaks.list.toString());
    }

    private static void traffic(FakeS3Server server, S3AsyncClient s3) throws Exception {
        byte[] content = FakeS3ServerTest.randomBytes(40_000, 1);
        s3.putObject(b -> b.bucket("leaks").key("k"), AsyncRequestBody.fromBytes(content)).join();
        s3.getObject(b -> b.bucket("leaks").key("k"), AsyncResponseTransformer.toBytes()).join();
        s3.getObject(b -> b.bucket("leaks").key("k").range("bytes=5-10"), AsyncResponseTransformer.toBytes()).join();
        s3.headObject(b -> b.bucket("leaks").key("k")).join();
        s3.listObjectsV2(b -> b.bucket("leaks")).join();
        FakeS3ServerTest.s3ErrorStatus(() -> s3.putObject(b -> b.bucket("leaks").key("big"),
                AsyncRequestBody.fromBytes(new byte[100_000])).join());
        server.faults().add("op=PUT,kind=error,status=503,count=1");
        FakeS3ServerTest.s3ErrorStatus(() -> s3.putObject(b -> b.bucket("leaks").key("e"),
                AsyncRequestBody.fromBytes(content)).join());
        server.faults().add("op=PUT,kind=reset,count=1");
        try {
            s3.putObject(b -> b.bucket("leaks").key("r"), AsyncRequestBody.fromBytes(content)).join();
        } catch (RuntimeException expected) {
            // reset
        }
        server.faults().add("op=PUT,kind=lost_reply,count=1");
        try {
            s3.putObject(b -> b.bucket("leaks").key("l"), AsyncRequestBody.fromBytes(content)).join();
        } catch (RuntimeException expected) {
            // lost reply
        }
        server.faults().clear();
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.send("NOT HTTP\r\n\r\n");
            raw.read();
        }
        try (RawHttp raw = new RawHttp(server.port())) {
            // Body cut off mid-chunk, then the client goes away.
            raw.request("PUT /leaks/cut HTTP/1.1\nHost: x\nContent-Encoding: aws-chunked\n"
                    + "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\nx-amz-trailer: x-amz-checksum-crc32\n"
                    + "x-amz-decoded-content-length: 100\nContent-Length: 200",
                    "64\r\nabc".getBytes(StandardCharsets.US_ASCII));
        }
        try (RawHttp raw = new RawHttp(server.port())) {
            raw.request("PUT /leaks/bad HTTP/1.1\nHost: x\nContent-Encoding: aws-chunked\n"
                    + "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\nx-amz-trailer: x-amz-checksum-crc32\n"
                    + "x-amz-decoded-content-length: 3\nContent-Length: 12", "zz\r\nabc\r\n0\r\n".getBytes());
            raw.read();
        }
    }
}
