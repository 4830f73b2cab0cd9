package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.json.CommitParser;
import io.weaseldb.json.CommitParserPool;
import java.nio.charset.StandardCharsets;

/** A connection's real pipeline ({@link HttpServer#addHttpHandlers}) on an embedded channel, for tests. */
final class EmbeddedPipeline {
    private EmbeddedPipeline() {}

    /** The wall-clock time every answer here is dated with: RFC 9110's own example. */
    static final long WALL_MILLIS = 784_111_777_000L;
    static final String DATE_LINE = "date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";

    /**
     * The pipeline, on a frozen clock (tests advance it) and a fixed wall clock ({@link #WALL_MILLIS}),
     * with a 4 KiB parser pool and the given budget.
     */
    static EmbeddedChannel open(HttpSettings settings, Backend backend, HttpMetrics metrics, BodyBudget budget) {
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.freezeTime();
        HttpServer.addHttpHandlers(channel.pipeline(), settings, backend, metrics,
                new CommitParserPool(CommitParser.newFactory(4096), settings.commitLimits(), 4), budget,
                new Authenticator(settings.security().tokens()), new HttpDate(() -> WALL_MILLIS));
        return channel;
    }

    /**
     * The pipeline with the settings most codec tests need: up to 16 pipelined requests, 1 MiB
     * bodies, no idle or read timeouts, no authentication.
     */
    static EmbeddedChannel openPlain(Backend backend, io.micrometer.core.instrument.MeterRegistry registry) {
        HttpSettings settings = new HttpSettings("127.0.0.1", 0, 1, 4096, 1L << 20, 8, 1024, 16, 0,
                new io.weaseldb.json.CommitLimits(20, 256, 1024, 100, 100), 1_000, 1, 0, 0, 0, false,
                new io.weaseldb.config.WeaselConfig.Security(java.util.List.of(), null, null));
        return open(settings, backend, new HttpMetrics(registry), new BodyBudget(settings.maxInFlightRequestBytes()));
    }

    /** weaseldb_http_rejected_total for {@code reason} (0 before the first). */
    static double rejected(io.micrometer.core.instrument.MeterRegistry registry, String reason) {
        var c = registry.find("weaseldb.http.rejected").tag("reason", reason).counter();
        return c == null ? 0 : c.count();
    }

    /** Everything written to the client so far, as text. */
    static String drain(EmbeddedChannel channel) {
        StringBuilder all = new StringBuilder();
        Object o;
        while ((o = channel.readOutbound()) != null) {
            // EmbeddedChannel hands back some buffers of a flushed batch already released (and empty)
            if (o instanceof ByteBuf b && b.refCnt() > 0) {
                all.append(b.toString(StandardCharsets.US_ASCII));
                b.release();
            }
        }
        return all.toString();
    }
}
