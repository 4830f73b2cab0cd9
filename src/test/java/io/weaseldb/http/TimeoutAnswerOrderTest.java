package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.json.CommitLimits;
import io.weaseldb.json.CommitParser;
import io.weaseldb.json.CommitParserPool;
import io.weaseldb.testing.RawHttp;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A read timeout on a pipelined connection, through the server's real pipeline on the event
 * loop's own clock: the 408 is the answer of the request that was not sent in time, and comes
 * after the answers of the requests before it. Written ahead of them, a client would read it as
 * the answer to its oldest request, say a commit that then commits.
 */
class TimeoutAnswerOrderTest {
    private static final int HEADER_MS = 1_000;
    private static final int BODY_MS = 3_000;

    private final HttpServerTest.HeldBackend backend = new HttpServerTest.HeldBackend();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private EmbeddedChannel channel;

    @BeforeEach
    void setUp() {
        HttpSettings settings = new HttpSettings("127.0.0.1", 0, 1, 4096, 1L << 20, 8, 1024, 4, 0,
                new CommitLimits(20, 256, 1024, 100, 100), 1_000, 1, HEADER_MS, BODY_MS, 20_000, false,
                new WeaselConfig.Security(List.of(), null, null));
        channel = new EmbeddedChannel();
        channel.freezeTime();
        HttpServer.addHttpHandlers(channel.pipeline(), settings, backend, new HttpMetrics(registry),
                new CommitParserPool(CommitParser.newFactory(4096), settings.commitLimits(), 4),
                new BodyBudget(settings.maxInFlightRequestBytes()),
                new Authenticator(settings.security().tokens()));
    }

    @AfterEach
    void tearDown() {
        channel.finishAndReleaseAll();
        backend.blocking.shutdownNow();
    }

    private void send(String text) {
        channel.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
        channel.runPendingTasks();
    }

    private void advance(long ms) {
        channel.advanceTimeBy(ms, TimeUnit.MILLISECONDS);
        channel.runPendingTasks();
        channel.runScheduledPendingTasks();
    }

    /** Every answer written so far, in order, as text. */
    private List<String> answers() {
        List<String> out = new ArrayList<>();
        ByteBuf b;
        StringBuilder all = new StringBuilder();
        while ((b = channel.readOutbound()) != null) {
            all.append(b.toString(StandardCharsets.US_ASCII));
            b.release();
        }
        for (String part : all.toString().split("(?=HTTP/1\\.1 )")) {
            if (!part.isEmpty()) {
                out.add(part);
            }
        }
        return out;
    }

    private static int status(String answer) {
        return Integer.parseInt(answer.substring(9, 12));
    }

    private double rejected(String reason) {
        var c = registry.find("weaseldb.http.rejected").tag("reason", reason).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void stalledHeadersAreAnsweredAfterTheCommitBeforeThem() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        send("GET /v1/version HTTP/1.1\r\nHost: x\r\n"); // its headers never end
        advance(HEADER_MS);
        assertEquals(1.0, rejected("header_read_timeout"));
        assertTrue(answers().isEmpty(), "nothing may be written while the commit before it is unanswered");
        assertTrue(channel.isActive());

        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(2, answers.size(), answers.toString());
        assertEquals(200, status(answers.get(0)), "the commit's own answer comes first: " + answers);
        assertTrue(answers.get(0).contains("\"committed\"") || answers.get(0).contains("version"), answers.get(0));
        assertEquals(408, status(answers.get(1)), answers.toString());
        assertTrue(answers.get(1).toLowerCase(java.util.Locale.ROOT).contains("connection: close"), answers.get(1));
        assertTrue(answers.get(1).endsWith("{\"error\":\"bad_request\",\"message\":\"the request was not sent in time\"}"),
                answers.get(1));
        assertFalse(channel.isActive(), "closed after the 408");
    }

    @Test
    void aStalledCommitBodyIsAnswered408InItsTurnAndNotCommitted() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE)
                + "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"operations\":");
        advance(BODY_MS);
        assertEquals(1.0, rejected("body_read_timeout"));
        assertTrue(answers().isEmpty());
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 408), answers.stream().map(TimeoutAnswerOrderTest::status).toList(), answers.toString());
        assertEquals(1, backend.requests.size(), "only the first commit reached the pipeline");
        assertFalse(channel.isActive());
        assertEquals(1.0, registry.get("weaseldb.commits").tag("outcome", "request_timeout").counter().count());
    }

    @Test
    void aTimeoutWithNothingPendingAnswersAtOnce() {
        send("GET /v1/version HTTP/1.1\r\nHost: x\r\n");
        advance(HEADER_MS - 1);
        assertTrue(answers().isEmpty());
        assertTrue(channel.isActive());
        advance(1);
        List<String> answers = answers();
        assertEquals(1, answers.size(), answers.toString());
        assertEquals(408, status(answers.get(0)));
        String[] parts = answers.get(0).split("\r\n\r\n", 2);
        java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)content-length: (\\d+)").matcher(parts[0]);
        assertTrue(length.find(), parts[0]);
        assertEquals(Integer.parseInt(length.group(1)), parts[1].length(), "the declared length is the body's");
        assertFalse(channel.isActive());
    }

    @Test
    void aRequestAlreadyAnsweredGetsNoSecondAnswerWhenItsBodyStalls() {
        // a 404 is answered at once, before its body; the body then stalls: no stray 408 after the 404
        send("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
        List<String> first = answers();
        assertEquals(List.of(404), first.stream().map(TimeoutAnswerOrderTest::status).toList(), first.toString());
        advance(BODY_MS);
        assertEquals(1.0, rejected("body_read_timeout"));
        assertTrue(answers().isEmpty(), "one request, one answer");
        assertFalse(channel.isActive(), "the connection closes");
    }

    @Test
    void aPendingAnswerForTheStalledRequestClosesTheConnectionOnceWritten() {
        // the request's answer (a version query behind a held commit) does not depend on its body
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE)
                + "PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
        advance(BODY_MS);
        assertTrue(answers().isEmpty());
        assertTrue(channel.isActive());
        backend.release(0);
        channel.runPendingTasks();
        List<String> answers = answers();
        assertEquals(List.of(200, 404), answers.stream().map(TimeoutAnswerOrderTest::status).toList(), answers.toString());
        assertTrue(answers.get(1).toLowerCase(java.util.Locale.ROOT).contains("connection: close"), answers.get(1));
        assertFalse(channel.isActive());
        assertNull(channel.readOutbound());
    }
}
