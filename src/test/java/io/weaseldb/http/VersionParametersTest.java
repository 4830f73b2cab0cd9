package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Outcome;
import io.weaseldb.testing.RawHttp;
import io.weaseldb.txn.CommitRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Versions a client names ({@code min_version} of /v1/status; {@code after} and
 * {@code Last-Event-ID} share the parser) reach the pipeline as sent, up to the largest allowed;
 * and /v1/version answers whatever way the backend's look at leadership ends.
 */
class VersionParametersTest {
    private static final String ID = "r".repeat(24);
    private static final Outcome.Unavailable CANNOT_CONFIRM =
            new Outcome.Unavailable("leadership could not be confirmed", false, 7, null, null);

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final HttpServerTest.HeldBackend held = new HttpServerTest.HeldBackend();
    private final List<Long> minVersions = new ArrayList<>();
    private Supplier<CompletableFuture<Backend.VersionInfo>> version = held::version;
    private EmbeddedChannel channel;

    /** The held backend, recording each status request's min_version and answering /v1/version with {@link #version}. */
    private final Backend backend = new Backend() {
        @Override public boolean submitCommit(CommitRequest r, Completion c) { return held.submitCommit(r, c); }
        @Override public boolean submitStatus(String id, long minVersion, Completion c) {
            minVersions.add(minVersion);
            return held.submitStatus(id, minVersion, c);
        }
        @Override public boolean submitProbe(Completion c) { return held.submitProbe(c); }
        @Override public VersionInfo leaderInfo() { return held.leaderInfo(); }
        @Override public CompletableFuture<VersionInfo> version() { return version.get(); }
        @Override public Outcome.Unavailable notLeader(String id) { return held.notLeader(id); }
        @Override public io.weaseldb.subscribe.SubscriberHub subscribers() { return null; }
        @Override public io.weaseldb.retention.RetentionManager retention() { return null; }
        @Override public String scrapeMetrics() { return held.scrapeMetrics(); }
        @Override public Executor metricsExecutor() { return held.metricsExecutor(); }
    };

    @BeforeEach
    void open() {
        channel = EmbeddedPipeline.openPlain(backend, registry);
    }

    @AfterEach
    void close() {
        channel.finishAndReleaseAll();
        held.blocking.shutdownNow();
    }

    private List<String> exchange(String requests) {
        channel.writeInbound(Unpooled.copiedBuffer(requests, StandardCharsets.US_ASCII));
        channel.runPendingTasks();
        List<String> out = new ArrayList<>();
        for (String part : EmbeddedPipeline.drain(channel).split("(?=HTTP/1\\.1 )")) {
            if (!part.isEmpty()) {
                out.add(part);
            }
        }
        return out;
    }

    @Test
    void minVersionReachesThePipelineAsSentUpToTheLargestAllowed() {
        for (String v : new String[] {"0", "9", "19", "1234567890", "9223372036854775806"}) {
            minVersions.clear();
            List<String> answers = exchange(RawHttp.get("/v1/status?request_id=" + ID + "&min_version=" + v));
            assertEquals(List.of(Long.parseLong(v)), minVersions, v + ": " + answers);
        }
    }

    @Test
    void minVersionOfLongMaxValueOrAboveIsRefused() {
        for (String v : new String[] {"9223372036854775807", "9223372036854775808", "/", ":", "-1", "1e3"}) {
            List<String> answers = exchange(RawHttp.get("/v1/status?request_id=" + ID + "&min_version=" + v)
                    + RawHttp.get("/v1/version"));
            assertEquals(2, answers.size(), v + ": " + answers);
            assertTrue(answers.get(0).startsWith("HTTP/1.1 400 "), v + ": " + answers.get(0));
            assertTrue(answers.get(1).startsWith("HTTP/1.1 200 "), v + ": " + answers.get(1));
        }
        assertEquals(List.of(), minVersions);
    }

    /** As WeaselServer's version(): a look at the log that fails is a Refused thrown in a dependent stage. */
    private static CompletableFuture<Backend.VersionInfo> refusedAfter(CompletableFuture<Boolean> look) {
        return look.handle((stillLeading, failure) -> {
            throw new Backend.Refused(CANNOT_CONFIRM);
        });
    }

    @Test
    void aLookAtLeadershipThatFailsLaterIsAnsweredWithTheRefusal() {
        CompletableFuture<Boolean> look = new CompletableFuture<>();
        version = () -> refusedAfter(look);
        assertEquals(List.of(), exchange(RawHttp.get("/v1/version")));
        look.completeExceptionally(new RuntimeException("storage did not answer"));
        List<String> answers = exchange("");
        assertEquals(1, answers.size(), answers.toString());
        assertTrue(answers.get(0).startsWith("HTTP/1.1 503 "), answers.get(0));
        assertTrue(answers.get(0).contains("leadership could not be confirmed"), answers.get(0));
        assertTrue(answers.get(0).contains("retry-after: 7") || answers.get(0).contains("Retry-After: 7"), answers.get(0));
    }

    /**
     * The look can fail before version() returns (SharedLook's executor refuses it): the future is
     * then already failed. The refusal is still the answer, and the connection serves on.
     */
    @Test
    void aLookAtLeadershipThatHasAlreadyFailedIsAnsweredWithTheRefusal() {
        version = () -> refusedAfter(CompletableFuture.failedFuture(new RuntimeException("rejected")));
        List<String> answers = exchange(RawHttp.get("/v1/version") + RawHttp.get("/ok"));
        assertEquals(2, answers.size(), answers.toString());
        assertTrue(answers.get(0).startsWith("HTTP/1.1 503 "), answers.get(0));
        assertTrue(answers.get(0).contains("leadership could not be confirmed"), answers.get(0));
        assertTrue(answers.get(1).startsWith("HTTP/1.1 200 "), answers.get(1));
        assertTrue(channel.isActive());
    }
}
