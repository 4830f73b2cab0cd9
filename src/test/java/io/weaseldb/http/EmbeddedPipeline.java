package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.json.CommitParser;
import io.weaseldb.json.CommitParserPool;
import java.nio.charset.StandardCharsets;

/** A connection's real pipeline ({@link HttpServer#addHttpHandlers}) on an embedded channel, for tests. */
final class EmbeddedPipeline {
    private EmbeddedPipeline() {}

    /** The pipeline, on a frozen clock (tests advance it), with a 4 KiB parser pool and the given budget. */
    static EmbeddedChannel open(HttpSettings settings, Backend backend, HttpMetrics metrics, BodyBudget budget) {
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.freezeTime();
        HttpServer.addHttpHandlers(channel.pipeline(), settings, backend, metrics,
                new CommitParserPool(CommitParser.newFactory(4096), settings.commitLimits(), 4), budget,
                new Authenticator(settings.security().tokens()));
        return channel;
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
