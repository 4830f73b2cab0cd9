package io.weaseldb.http;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.weaseldb.bench.HttpCeilingServer;
import io.weaseldb.config.ConfigLoader;
import io.weaseldb.json.CommitParser;
import io.weaseldb.json.CommitParserPool;
import io.weaseldb.json.CommitParserBenchmark;
import io.weaseldb.pipeline.Completion;
import io.weaseldb.pipeline.Outcome;
import io.weaseldb.txn.CommitRequest;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One keep-alive {@code POST /v1/commit} through a connection's whole server pipeline, in memory:
 * the request's bytes go into an {@link EmbeddedChannel} carrying exactly the handlers a real
 * connection gets (read timeouts, HTTP codec, flow control, idle timeout, the API handler) and
 * the encoded response comes out. The pipeline behind the handler is replaced by a backend that
 * answers "committed" at once, so this is the event loop's share of a commit and nothing else.
 * {@code target=ceiling} runs the same request through the HTTP ceiling's pipeline (codec and a
 * fixed answer): the baseline, measured in the same run.
 *
 * <p>What it is for: {@code -prof gc}'s {@code gc.alloc.rate.norm} is the exact garbage per
 * request on the event loop (the load generator's JFR numbers are sampled); ops/s is the
 * single-thread cost with no syscalls.
 *
 * <p>Run: {@code ./mvnw -q -B -o -Pbench -Djmh.args='HttpPathBenchmark -prof gc'}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class HttpPathBenchmark {

    @Param({"weaseldb", "ceiling"})
    public String target;

    private EmbeddedChannel channel;
    private ByteBuf request;
    private long version;

    @Setup(Level.Trial)
    public void setUp() {
        String body = CommitParserBenchmark.body("rmw", new SplittableRandom(42));
        String head = "POST /v1/commit HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length() + "\r\n\r\n";
        byte[] bytes = (head + body).getBytes(StandardCharsets.US_ASCII);
        request = Unpooled.unreleasableBuffer(Unpooled.directBuffer(bytes.length).writeBytes(bytes));
        channel = new EmbeddedChannel();
        if (target.equals("ceiling")) {
            HttpCeilingServer.addHandlers(channel.pipeline(), HttpCeilingServer.answerBody());
        } else {
            HttpSettings settings = HttpSettings.from(ConfigLoader.defaults());
            HttpServer.addHttpHandlers(channel.pipeline(), settings, new Committing(channel),
                    new HttpMetrics(new SimpleMeterRegistry()),
                    new CommitParserPool(CommitParser.newFactory(settings.maxRequestSizeBytes()), settings.commitLimits(),
                            HttpServer.PARSERS_PER_EVENT_LOOP),
                    new BodyBudget(settings.maxInFlightRequestBytes()),
                    new Authenticator(settings.security().tokens()), new HttpDate(System::currentTimeMillis));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        channel.finishAndReleaseAll();
    }

    /** One request in, its response out; returns the response's size so nothing is dead code. */
    @Benchmark
    public int commit() {
        channel.writeInbound(request.retainedDuplicate());
        int bytes = 0;
        Object out;
        while ((out = channel.readOutbound()) != null) {
            if (out instanceof ByteBuf b) {
                bytes += b.readableBytes();
            }
            ReferenceCountUtil.release(out);
        }
        if (bytes == 0) {
            throw new IllegalStateException("no response");
        }
        return bytes;
    }

    /** Answers every commit "committed" on the spot, on the channel's own loop. */
    private final class Committing implements Backend {
        private final EmbeddedChannel loop;

        Committing(EmbeddedChannel loop) {
            this.loop = loop;
        }

        @Override
        public boolean submitCommit(CommitRequest request, Completion completion) {
            completion.complete(new Outcome.Committed(++version, "bench-leader", "00000000-0000-4000-8000-000000000000", false));
            return true;
        }

        @Override
        public boolean submitStatus(String requestId, long minVersion, Completion completion) {
            return false;
        }

        @Override
        public boolean submitProbe(Completion completion) {
            return false;
        }

        @Override
        public VersionInfo leaderInfo() {
            return new VersionInfo(version, "bench-leader");
        }

        @Override
        public CompletableFuture<VersionInfo> version() {
            return CompletableFuture.completedFuture(leaderInfo());
        }

        @Override
        public Outcome.Unavailable notLeader(String requestId) {
            throw new UnsupportedOperationException();
        }

        @Override
        public io.weaseldb.subscribe.SubscriberHub subscribers() {
            return null;
        }

        @Override
        public io.weaseldb.retention.RetentionManager retention() {
            return null;
        }

        @Override
        public String scrapeMetrics() {
            return "";
        }

        @Override
        public Executor metricsExecutor() {
            return loop.eventLoop();
        }
    }
}
