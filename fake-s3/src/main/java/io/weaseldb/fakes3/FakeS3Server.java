package io.weaseldb.fakes3;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.InstantSource;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small S3-compatible HTTP server (path-style addressing) for WeaselDB's embedded mode, tests
 * and local development. See {@code docs/fake-s3.md}.
 *
 * <h2>Threads</h2>
 * <ul>
 *   <li>{@code fakes3-io-N} (Netty event loops, {@link FakeS3Config#ioThreads()}): parse and
 *       authenticate requests, decide faults, collect bodies, write answers. Never block.</li>
 *   <li>{@code fakes3-worker-N} (a bounded pool): verify bodies (hashes, signatures) and call the
 *       {@link ObjectBackend}, which may block on disk; answers go back to the connection's event
 *       loop. A full queue is answered 503 SlowDown.</li>
 * </ul>
 *
 * <h2>Limits</h2>
 * Connections ({@code maxConnections}, extra ones are closed on accept), request line 8 KiB,
 * headers 16 KiB, object size ({@code maxObjectBytes}, 400 EntityTooLarge), request body bytes
 * buffered at once across connections (4 objects' worth, at least 256 MiB; 503 SlowDown), worker
 * queue ({@value #WORKER_QUEUE} requests; 503 SlowDown), a request being received that goes
 * {@value #REQUEST_TIMEOUT_MS} ms without a byte, or whose head takes that long in all (400
 * RequestTimeout and a close), idle connections (closed after {@value #IDLE_TIMEOUT_SECONDS} s).
 *
 * <p>Thread-safety: {@link #start} and {@link #close} may be called from any thread; the accessors
 * are safe from any thread.
 */
public final class FakeS3Server implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FakeS3Server.class);

    static final int MAX_INITIAL_LINE_BYTES = 8 * 1024;
    static final int MAX_HEADER_BYTES = 16 * 1024;
    static final int MAX_CHUNK_BYTES = 64 * 1024;
    static final int WORKER_QUEUE = 256;
    static final int IDLE_TIMEOUT_SECONDS = 300;
    /** S3 answers RequestTimeout after about 20 s without a byte of an upload. */
    static final long REQUEST_TIMEOUT_MS = 20_000;

    private final FakeS3Config config;
    private final ObjectBackend backend;
    private final FaultInjector faults;
    private final ServerContext context;
    private final MultiThreadIoEventLoopGroup group;
    private final ThreadPoolExecutor workers;
    private final ChannelGroup channels;
    private final Channel serverChannel;
    private final int port;
    private final Object closeLock = new Object();
    private boolean closed;

    private FakeS3Server(FakeS3Config config, ObjectBackend backend, FaultInjector faults, ServerContext context,
                         MultiThreadIoEventLoopGroup group, ThreadPoolExecutor workers, ChannelGroup channels,
                         Channel serverChannel) {
        this.config = config;
        this.backend = backend;
        this.faults = faults;
        this.context = context;
        this.group = group;
        this.workers = workers;
        this.channels = channels;
        this.serverChannel = serverChannel;
        this.port = ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /**
     * Opens the backend named by the config (memory, or the data directory), creates the configured
     * buckets, binds and returns once the server is listening.
     *
     * @throws UncheckedIOException if the data directory cannot be opened or the port bound
     */
    public static FakeS3Server start(FakeS3Config config) throws InterruptedException {
        return start(config, InstantSource.system());
    }

    /** As {@link #start(FakeS3Config)}, with the clock used for signatures and last-modified times. */
    public static FakeS3Server start(FakeS3Config config, InstantSource clock) throws InterruptedException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(clock, "clock");
        ObjectBackend backend;
        if (config.dataDir() == null) {
            backend = new MemoryBackend(clock);
        } else {
            try {
                backend = DataLayout.open(config.dataDir(), config.layout(), config.fsync(), clock);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot open data directory " + config.dataDir() + ": " + reason(e), e);
            }
        }
        return start(config, backend, clock);
    }

    /** Why a path could not be used, in words: NIO's exceptions carry only the path. */
    private static String reason(IOException e) {
        String why = switch (e) {
            case java.nio.file.NoSuchFileException n -> "no such file or directory";
            case java.nio.file.AccessDeniedException a -> "permission denied";
            case java.nio.file.FileAlreadyExistsException x -> "exists and is not a directory";
            case java.nio.file.NotDirectoryException d -> "a part of the path is not a directory";
            default -> null;
        };
        if (why == null) {
            return e.getMessage() == null ? e.toString() : e.getMessage();
        }
        String file = e instanceof java.nio.file.FileSystemException f ? f.getFile() : null;
        return file == null ? why : why + " (" + file + ")";
    }

    /**
     * Serves {@code backend} (ignoring {@link FakeS3Config#dataDir()}), for harnesses that also use the
     * backend directly. The server owns the backend from now on and closes it in {@link #close()}.
     */
    public static FakeS3Server start(FakeS3Config config, ObjectBackend backend, InstantSource clock)
            throws InterruptedException {
        return start(config, backend, clock, Limits.of(config));
    }

    /**
     * Internal limits derived from the config; tests shrink them to reach the limits quickly.
     *
     * @param workerThreads    threads running backend operations
     * @param workerQueue      operations waiting for a worker before new ones get 503 SlowDown
     * @param maxBufferedBytes request body bytes held at once before new uploads get 503 SlowDown
     * @param requestTimeoutMs how long a request being received may go without a byte, and its
     *                         head may take in all, before it is answered 400 RequestTimeout and
     *                         its connection closed
     */
    record Limits(int workerThreads, int workerQueue, long maxBufferedBytes, long requestTimeoutMs) {
        Limits(int workerThreads, int workerQueue, long maxBufferedBytes) {
            this(workerThreads, workerQueue, maxBufferedBytes, REQUEST_TIMEOUT_MS);
        }

        static Limits of(FakeS3Config config) {
            return new Limits(Math.max(4, 2 * config.ioThreads()), WORKER_QUEUE,
                    Math.max(256L * 1024 * 1024, 4 * config.maxObjectBytes()));
        }
    }

    static FakeS3Server start(FakeS3Config config, ObjectBackend backend, InstantSource clock, Limits limits)
            throws InterruptedException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(limits, "limits");
        MultiThreadIoEventLoopGroup group = null;
        ThreadPoolExecutor workers = null;
        try {
            for (String bucket : config.buckets()) {
                backend.createBucket(bucket);
            }
            FaultInjector faults = FaultInjector.seeded(config.seed());
            config.faults().forEach(faults::add);

            workers = new ThreadPoolExecutor(limits.workerThreads(), limits.workerThreads(), 0, TimeUnit.MILLISECONDS,
                    new ArrayBlockingQueue<>(limits.workerQueue()), new DefaultThreadFactory("fakes3-worker", true),
                    new ThreadPoolExecutor.AbortPolicy());
            SigV4Verifier verifier = config.authenticationEnabled()
                    ? new SigV4Verifier(config.accessKey(), config.secretKey(), clock)
                    : null;
            ServerContext context = new ServerContext(new RequestParser(config.maxObjectBytes(), verifier),
                    new S3Operations(backend, faults), faults, workers, clock, limits.maxBufferedBytes(),
                    limits.requestTimeoutMs());

            boolean epoll = Epoll.isAvailable();
            IoHandlerFactory ioHandler = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
            Class<? extends ServerChannel> channelClass =
                    epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
            group = new MultiThreadIoEventLoopGroup(config.ioThreads(),
                    new DefaultThreadFactory("fakes3-io", true), ioHandler);
            ChannelGroup channels = new DefaultChannelGroup("fakes3", GlobalEventExecutor.INSTANCE);
            int maxConnections = config.maxConnections();

            ServerBootstrap bootstrap = new ServerBootstrap()
                    .group(group)
                    .channel(channelClass)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            int open = context.openConnections.incrementAndGet();
                            ch.closeFuture().addListener(f -> context.openConnections.decrementAndGet());
                            if (open > maxConnections) {
                                context.rejectedConnections.incrementAndGet();
                                log.debug("refusing connection from {}: {} open", ch.remoteAddress(), open - 1);
                                ch.close();
                                return;
                            }
                            channels.add(ch);
                            S3RequestHandler handler = new S3RequestHandler(context);
                            ch.pipeline()
                                    .addLast(handler.arrivals())
                                    .addLast(new IdleStateHandler(0, 0, IDLE_TIMEOUT_SECONDS))
                                    .addLast(new HttpServerCodec(new HttpDecoderConfig()
                                            .setMaxInitialLineLength(MAX_INITIAL_LINE_BYTES)
                                            .setMaxHeaderSize(MAX_HEADER_BYTES)
                                            .setMaxChunkSize(MAX_CHUNK_BYTES)))
                                    .addLast(handler);
                        }
                    });
            Channel serverChannel;
            try {
                serverChannel = bootstrap.bind(config.host(), config.port()).sync().channel();
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                // sync() rethrows the bind failure (e.g. BindException) unchecked.
                throw new UncheckedIOException("cannot listen on " + config.host() + ":" + config.port(),
                        e instanceof IOException io ? io : new IOException(e));
            }
            channels.add(serverChannel);
            FakeS3Server server = new FakeS3Server(config, backend, faults, context, group, workers, channels,
                    serverChannel);
            log.info("fake S3 listening on {} ({}, {}, {} transport)", server.endpoint(),
                    config.dataDir() == null ? "memory" : "data dir " + config.dataDir(),
                    config.authenticationEnabled() ? "SigV4 required" : "any signature accepted",
                    epoll ? "epoll" : "nio");
            return server;
        } catch (InterruptedException | RuntimeException e) {
            if (group != null) {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            }
            if (workers != null) {
                workers.shutdownNow();
            }
            backend.close();
            throw e;
        }
    }

    /** The bound TCP port (the ephemeral one when the config said 0). */
    public int port() {
        return port;
    }

    /** {@code http://host:port}, ready for {@code S3AsyncClient.builder().endpointOverride(...)}. */
    public URI endpoint() {
        String host = config.host();
        if (host.equals("0.0.0.0")) {
            host = "127.0.0.1";
        } else if (host.equals("::")) {
            host = "[::1]";
        } else if (host.contains(":") && !host.startsWith("[")) {
            host = "[" + host + "]";
        }
        return URI.create("http://" + host + ":" + port);
    }

    public FakeS3Config config() {
        return config;
    }

    /** The live fault rules; add or clear them at any time. */
    public FaultInjector faults() {
        return faults;
    }

    /** The storage behind the server, for tests that inspect or seed it without HTTP. */
    public ObjectBackend backend() {
        return backend;
    }

    public FakeS3Stats stats() {
        return context.stats();
    }

    /** How many request bodies arrived with {@code encoding}; for tests of client upload forms. */
    long payloadEncodingCount(PayloadSpec.Encoding encoding) {
        return context.payloadEncodings.get(encoding.ordinal());
    }

    /**
     * Stops listening, closes every connection (held ones too), lets running operations finish (up
     * to 10 s), stops the threads and closes the backend. Idempotent.
     */
    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        boolean interrupted = false;
        try {
            serverChannel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
            channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
            workers.shutdown();
            try {
                if (!workers.awaitTermination(10, TimeUnit.SECONDS)) {
                    log.warn("worker threads did not finish in 10 s; interrupting them");
                    workers.shutdownNow();
                }
            } catch (InterruptedException e) {
                interrupted = true;
                workers.shutdownNow();
            }
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        } finally {
            // Only after the workers stopped: no write may happen after the data dir is unlocked.
            backend.close();
            log.info("fake S3 on port {} stopped", port);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
