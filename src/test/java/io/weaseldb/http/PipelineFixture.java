package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.json.CommitLimits;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * The server's real pipeline on an embedded channel, over the held backend with a real
 * subscriber hub and retention manager: header timeout 1 s, body 3 s, max_pipelined_requests 4.
 * Shared by the tests of answer order, half-close and Connection: close.
 */
abstract class PipelineFixture {
    static final int HEADER_MS = 1_000;
    static final int BODY_MS = 3_000;

    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final StreamingBackend streams = new StreamingBackend(registry);
    final HttpServerTest.HeldBackend backend = streams.held;
    final BodyBudget budget = new BodyBudget(1L << 20);
    EmbeddedChannel channel;

    @BeforeEach
    void openPipeline() {
        openPipelineWith(settings());
    }

    /** The fixture's settings (max_request_size_bytes 4 KiB, 8 pipelined requests), authenticating {@code tokens}. */
    static HttpSettings settings(WeaselConfig.Token... tokens) {
        return new HttpSettings("127.0.0.1", 0, 1, 4096, 1L << 20, 8, 1024, 4, 0,
                new CommitLimits(20, 256, 1024, 100, 100), 1_000, 1, HEADER_MS, BODY_MS, 20_000, false,
                new WeaselConfig.Security(List.of(tokens), null, null));
    }

    void openPipelineWith(HttpSettings settings) {
        channel = EmbeddedPipeline.open(settings, streams, new HttpMetrics(registry), budget);
    }

    @AfterEach
    void closePipeline() {
        channel.finishAndReleaseAll();
        backend.blocking.shutdownNow();
    }

    void send(String text) {
        channel.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
        channel.runPendingTasks();
    }

    void advance(long ms) {
        channel.advanceTimeBy(ms, TimeUnit.MILLISECONDS);
        channel.runPendingTasks();
        channel.runScheduledPendingTasks();
    }

    /** Every answer written so far, in order, as text. */
    List<String> answers() {
        List<String> out = new ArrayList<>();
        for (String part : EmbeddedPipeline.drain(channel).split("(?=HTTP/1\\.[01] )")) {
            if (!part.isEmpty()) {
                out.add(part);
            }
        }
        return out;
    }

    /**
     * Releases held commit {@code index}: its 200 is the one answer left to write, it carries
     * {@code Connection: close}, and the connection is closed after it.
     */
    void releaseAndExpectOneClosing200(int index) {
        backend.release(index);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200), statuses(answers), answers.toString());
        assertTrue(closes(answers.get(0)), answers.get(0));
        assertFalse(channel.isActive());
    }

    /**
     * The answers once {@code n} have been written (waiting up to 5 s): some come back from another
     * thread (retention requests).
     */
    List<String> awaitAnswers(int n) {
        List<String> all = new ArrayList<>();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (all.size() < n && System.nanoTime() < deadline) {
            channel.runPendingTasks();
            all.addAll(answers());
            Thread.onSpinWait();
        }
        return all;
    }

    static int status(String answer) {
        return Integer.parseInt(answer.substring(9, 12));
    }

    static List<Integer> statuses(List<String> answers) {
        return answers.stream().map(PipelineFixture::status).toList();
    }

    static boolean closes(String answer) {
        return answer.toLowerCase(Locale.ROOT).contains("connection: close");
    }
}
