package io.weaseldb.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP ceiling: the least a Netty server can do per {@code POST /v1/commit}: decode the
 * request with the same codec settings as WeaselDB's listener, discard the body, and answer a
 * fixed 200 JSON body of the same size as a real commit answer. No parsing, no pipeline, no
 * storage. What WeaselDB reaches relative to this, under the same load generator and JVM flags,
 * is the share of the HTTP cost in its commit path.
 *
 * <pre>
 * java -cp target/weaseldb.jar io.weaseldb.bench.HttpCeilingServer [--port N] [--host ADDR] [--io-threads N]
 * </pre>
 *
 * Logs {@code HTTP ceiling listening on http://HOST:PORT} once bound; stops on SIGTERM.
 */
public final class HttpCeilingServer implements AutoCloseable {
    /** A committed answer's shape and size: two UUIDs, a version. */
    static final byte[] BODY = ("{\"status\":\"committed\",\"version\":1000000,"
            + "\"leader_id\":\"00000000-0000-0000-0000-000000000000\","
            + "\"request_id\":\"00000000-0000-0000-0000-000000000000\"}").getBytes(StandardCharsets.US_ASCII);

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel channel;

    HttpCeilingServer(String host, int port, int ioThreads) throws InterruptedException {
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        int threads = ioThreads > 0 ? ioThreads : Runtime.getRuntime().availableProcessors();
        boss = new MultiThreadIoEventLoopGroup(1, io);
        workers = new MultiThreadIoEventLoopGroup(threads, io);
        ByteBuf body = answerBody();
        channel = new ServerBootstrap().group(boss, workers)
                .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        addHandlers(ch.pipeline(), body);
                    }
                })
                .bind(host, port).sync().channel();
    }

    /** The ceiling's whole per-connection pipeline (also what {@code HttpPathBenchmark} measures as its baseline). */
    public static void addHandlers(ChannelPipeline pipeline, ByteBuf body) {
        pipeline.addLast(new HttpServerCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(8192).setMaxHeaderSize(16384).setMaxChunkSize(64 << 10)));
        pipeline.addLast(new FixedAnswer(body));
    }

    /** The fixed answer body, as an unreleasable direct buffer to share between connections. */
    public static ByteBuf answerBody() {
        return Unpooled.unreleasableBuffer(Unpooled.directBuffer(BODY.length).writeBytes(BODY));
    }

    int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /**
     * Answers every request once its body has ended; writes are flushed once per read burst, as
     * a Netty server normally does. Owned by the connection's event loop.
     */
    private static final class FixedAnswer extends ChannelInboundHandlerAdapter {
        private final ByteBuf body;
        private boolean keepAlive = true;
        private boolean pending;

        FixedAnswer(ByteBuf body) {
            this.body = body;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpRequest req) {
                    keepAlive = HttpUtil.isKeepAlive(req);
                }
                if (msg instanceof HttpContent && msg instanceof LastHttpContent) {
                    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                            body.duplicate());
                    r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
                    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, BODY.length);
                    if (!keepAlive) {
                        r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                        ctx.writeAndFlush(r).addListener(f -> ctx.close());
                        return;
                    }
                    ctx.write(r, ctx.voidPromise());
                    pending = true;
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (pending) {
                pending = false;
                ctx.flush();
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    public static void main(String[] args) {
        int status = cli(args);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** Runs the server until SIGTERM; returns the exit status (a subcommand entry point for {@code Main}). */
    public static int cli(String[] args) {
        String host = "127.0.0.1";
        int port = 0;
        int ioThreads = 0;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--host" -> host = args[++i];
                    case "--port" -> port = Integer.parseInt(args[++i]);
                    case "--io-threads" -> ioThreads = Integer.parseInt(args[++i]);
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
        } catch (RuntimeException e) {
            System.err.println("http-ceiling: " + e.getMessage());
            System.err.println("usage: HttpCeilingServer [--host ADDR] [--port N] [--io-threads N]");
            return 2;
        }
        try {
            HttpCeilingServer server = new HttpCeilingServer(host, port, ioThreads);
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                stopped.countDown();
            }, "ceiling-shutdown"));
            System.out.println("HTTP ceiling listening on http://" + host + ":" + server.port());
            System.out.flush();
            stopped.await();
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }
}
