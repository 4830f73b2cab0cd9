package io.weaseldb.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.weaseldb.json.CommitParser;
import io.weaseldb.json.CommitParserPool;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP/1.1 listener: Netty with the native epoll transport on Linux (NIO elsewhere),
 * {@code io_threads} event loops, and per connection: connection limit, HTTP codec with header
 * and line limits, idle timeout, then {@link ConnectionHandler}.
 */
public final class HttpServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpServer.class);
    /**
     * Reset commit parsers kept per event loop. A parser is busy only while a body arrives, so a
     * loop rarely needs more than a few; idle connections hold none.
     */
    static final int PARSERS_PER_EVENT_LOOP = 16;
    private static final byte[] TOO_MANY_CONNECTIONS = ("HTTP/1.1 503 Service Unavailable\r\n"
            + "Content-Type: application/json\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 82\r\n\r\n"
            + "{\"error\":\"unavailable\",\"message\":\"too many connections (max_connections reached)\"}")
            .getBytes(StandardCharsets.US_ASCII);

    /** How long a TLS connection refused by {@code max_connections} may stay open for its 503. */
    static final long REFUSED_HANDSHAKE_TIMEOUT_MS = 1_000;

    private final HttpSettings settings;
    private final Backend backend;
    private final HttpMetrics metrics;
    private final CommitParserPool parsers;
    private final BodyBudget bodies;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Class<? extends ServerChannel> channelClass;
    private Channel serverChannel;
    private final io.netty.handler.ssl.SslContext ssl;
    private final Authenticator auth;
    private final HttpDate date;

    public HttpServer(HttpSettings settings, Backend backend, HttpMetrics metrics) {
        this(settings, backend, metrics, System::currentTimeMillis);
    }

    /**
     * {@code epochMillis} (wall time) says whether the TLS certificate is in its validity period (a
     * WARN if not), and dates the answers.
     */
    public HttpServer(HttpSettings settings, Backend backend, HttpMetrics metrics,
                      java.util.function.LongSupplier epochMillis) {
        this.settings = settings;
        this.backend = backend;
        this.metrics = metrics;
        this.parsers = new CommitParserPool(CommitParser.newFactory(settings.maxRequestSizeBytes()),
                settings.commitLimits(), PARSERS_PER_EVENT_LOOP);
        this.bodies = new BodyBudget(settings.maxInFlightRequestBytes());
        metrics.requestBytesInFlight(bodies);
        this.auth = new Authenticator(settings.security().tokens());
        this.date = new HttpDate(epochMillis);
        this.ssl = settings.security().tls() ? ServerTls.context(settings.security(), epochMillis.getAsLong()) : null;
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.channelClass = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        int threads = settings.ioThreads() > 0 ? settings.ioThreads() : Runtime.getRuntime().availableProcessors();
        this.boss = new MultiThreadIoEventLoopGroup(1, io);
        this.workers = new MultiThreadIoEventLoopGroup(threads, io);
        log.info("HTTP transport: {} with {} I/O threads", epoll ? "native epoll" : "NIO", threads);
    }

    /** Binds the listener; returns once it accepts connections. */
    public void start() throws InterruptedException {
        ChannelHandler limiter = new ConnectionLimiter();
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(channelClass)
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                // A client's FIN ends only its input (a half-close, RFC 9293 3.6): the requests it sent
                // before are still answered, then ConnectionHandler closes. Without this Netty closes
                // the channel at the FIN and drops the answers owed (a commit then committed unanswered).
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(64 << 10, 256 << 10))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("limit", limiter);
                        if (ssl != null) {
                            ch.pipeline().addLast("tls", ssl.newHandler(ch.alloc()));
                        }
                        addHttpHandlers(ch.pipeline(), settings, backend, metrics, parsers, bodies, auth, date);
                    }
                });
        serverChannel = b.bind(settings.host(), settings.port()).sync().channel();
        String warning = exposureWarning(settings.host(), loopback(settings.host()), ssl != null, auth.enabled());
        if (warning != null) {
            log.warn(warning);
        }
        log.info("HTTP{} on {}:{}, authentication {}", ssl != null ? "S (TLS)" : "", settings.host(), port(),
                auth.enabled() ? "by bearer token (" + settings.security().tokens().size() + " tokens)" : "off");
    }

    /** The request decoder's settings (tests decode with Netty's own decoder on the same ones, to compare). */
    static HttpDecoderConfig decoderConfig(int maxHeaderBytes) {
        return new HttpDecoderConfig()
                .setMaxInitialLineLength(8192)
                .setMaxHeaderSize(maxHeaderBytes)
                .setMaxChunkSize(64 << 10)
                .setHeadersFactory(SmallHeaders.REQUEST_FACTORY)
                .setTrailersFactory(SmallHeaders.TRAILERS_FACTORY);
    }

    /**
     * Adds everything after the connection limit and TLS: read timeouts, the HTTP codec, flow
     * control, the idle timeout and the API handler. One place, so the server and the HTTP-path
     * benchmark ({@code HttpPathBenchmark}) run the same pipeline.
     */
    static void addHttpHandlers(ChannelPipeline pipeline, HttpSettings settings, Backend backend, HttpMetrics metrics,
                                CommitParserPool parsers, BodyBudget bodies, Authenticator auth, HttpDate date) {
        ServerCodec codec = new ServerCodec(decoderConfig(settings.maxHeaderBytes()));
        ReadTimeouts timeouts = new ReadTimeouts(settings.headerReadTimeoutMs(), settings.bodyReadTimeoutMs(),
                settings.bodyDeadlineMs(), metrics, codec);
        pipeline.addLast("timeouts", timeouts);
        pipeline.addLast("codec", codec);
        // Holds decoded messages while reading is paused, so max_pipelined_requests is
        // exact rather than "plus whatever one socket read contained".
        pipeline.addLast("flow", new FlowControlHandler());
        if (settings.idleTimeoutSeconds() > 0) {
            // Reader idleness only, and ConnectionHandler also counts from its last answer: watching
            // writes here would cost every response a promise and a listener (~100 bytes).
            pipeline.addLast("idle", new IdleStateHandler(settings.idleTimeoutSeconds(), 0, 0, TimeUnit.SECONDS));
        }
        pipeline.addLast("api", new ConnectionHandler(settings, backend, metrics, parsers, bodies, auth, timeouts, codec, date));
    }

    /**
     * The loud warning for a listener others can reach, or null: with no authentication anyone
     * can commit, read and trim the log; with tokens over plain HTTP, anyone on the path reads
     * them off the wire and replays them (RFC 6750 section 5.3 requires TLS for bearer tokens).
     */
    static String exposureWarning(String host, boolean loopback, boolean tls, boolean authentication) {
        if (loopback) {
            return null;
        }
        if (!authentication) {
            return "!!! listening on " + host + " with NO authentication: anyone who can reach this address can commit,"
                    + " read the whole log and change retention. Configure [[security.tokens]] (see docs/operations.md). !!!";
        }
        if (!tls) {
            return "!!! listening on " + host + " with bearer tokens over plain HTTP: anyone on the network path can read"
                    + " a token and act with its roles. Configure tls_cert_file and tls_key_file, or terminate TLS in front"
                    + " of this server on a private network (see docs/operations.md). !!!";
        }
        return null;
    }

    private static boolean loopback(String host) {
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** Stops accepting, closes connections and stops the event loops. */
    @Override
    public void close() {
        if (serverChannel != null) {
            serverChannel.close().syncUninterruptibly();
        }
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /**
     * Whether a connection failed in TLS itself: a handshake the client gave up (it does not
     * trust the certificate, or speaks no common protocol) or bytes that are not TLS at all
     * (plain HTTP to the TLS port). The client's problem, not the server's.
     */
    static boolean tlsFailure(Throwable cause) {
        if (cause instanceof NotSslRecordException) {
            return true;
        }
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        return c instanceof javax.net.ssl.SSLException;
    }

    /**
     * Counts a TLS handshake that failed: refused, timed out, or not TLS at all. SslHandler
     * reports each one once through this event (a timeout through nothing else). A client that
     * closed before its handshake (a TCP-only health check) is not counted: it is no failure.
     */
    static void countTlsFailure(Object evt, HttpMetrics metrics) {
        if (evt instanceof SslHandshakeCompletionEvent done && !done.isSuccess()
                && !(done.cause() instanceof java.nio.channels.ClosedChannelException)) {
            metrics.rejected("tls");
        }
    }

    /** The 503 for a connection past {@code max_connections}, then the close. */
    private static void refuse(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(Unpooled.wrappedBuffer(TOO_MANY_CONNECTIONS)).addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * The end of a TLS connection refused by {@code max_connections}: once the handshake is
     * done, the 503 goes out through TLS and the connection closes. Requests are not read.
     */
    private final class RefuseOverTls extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent done) {
                countTlsFailure(done, metrics);
                if (done.isSuccess()) {
                    refuse(ctx);
                } else {
                    ctx.close();
                }
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("refused connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }

    /** Refuses connections beyond {@code max_connections} with a 503 and closes them. */
    @ChannelHandler.Sharable
    private final class ConnectionLimiter extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (metrics.connections.incrementAndGet() > settings.maxConnections()) {
                metrics.rejected("max_connections");
                if (ssl == null) {
                    ctx.channel().config().setAutoRead(false);
                    refuse(ctx);
                    return;
                }
                // Over TLS the answer must be encrypted, or the client sees a handshake error
                // instead of the 503: keep TLS, drop the HTTP handlers, answer once it is up.
                // The read timeouts go with them, so the connection gets a short life of its own
                // (SslHandler's handshake timeout is already running at 10 s): a flood of
                // connections that never handshake must not pile up for 10 s each.
                ctx.executor().schedule((Runnable) ctx::close, REFUSED_HANDSHAKE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                ChannelPipeline p = ctx.pipeline();
                for (String name : List.copyOf(p.toMap().keySet())) {
                    if (!name.equals("limit") && !name.equals("tls")) {
                        p.remove(name);
                    }
                }
                p.addLast("refuse", new RefuseOverTls());
            }
            ctx.fireChannelActive();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            metrics.connections.decrementAndGet();
            ctx.fireChannelInactive();
        }
    }
}
