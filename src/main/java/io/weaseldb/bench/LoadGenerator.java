package io.weaseldb.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code weaseldb-bench}: the end-to-end load generator. Netty HTTP/1.1 keep-alive connections
 * (native epoll on Linux) with a bounded number of requests in flight per connection, open loop
 * (fixed arrival rate, latency from the intended send time) or closed loop, HdrHistogram
 * latencies, optional SSE subscribers, and an idle mode that only holds connections open (for
 * memory measurements). Every run is bounded by its duration (and optionally a request count)
 * and stops by itself.
 *
 * <pre>
 * java -cp target/weaseldb.jar io.weaseldb.bench.LoadGenerator --port 8080 --workload rmw \
 *      --connections 64 --mode closed --duration-s 20 --json result.json
 * </pre>
 *
 * Run {@code --help} for every option. Exit status: 0 when the run went to its end (one with
 * requests never answered or sent is reported as incomplete, with a warning and
 * {@code "complete": false}, not by its status), 2 on bad options, 1 if the server could not be
 * reached.
 */
public final class LoadGenerator {
    private LoadGenerator() {}

    /** Connects opened at once; more would only overflow the server's accept backlog. */
    private static final int CONNECT_BATCH = 512;
    private static final long CONNECT_TIMEOUT_MS = 30_000;

    public static void main(String[] args) {
        int status = cli(args);
        if (status != 0) {
            System.exit(status);
        }
    }

    /**
     * The command line ({@code weaseldb-bench}): runs, prints the report, writes the JSON file.
     * Returns the exit status instead of exiting, so {@code Main} can offer it as a subcommand.
     */
    public static int cli(String[] args) {
        BenchOptions o;
        try {
            if (args.length == 0 || List.of(args).contains("--help")) {
                System.out.print(BenchOptions.USAGE);
                return 0;
            }
            o = BenchOptions.parse(args);
            Path jsonDir = o.jsonOut() == null ? null : o.jsonOut().toAbsolutePath().getParent();
            if (jsonDir != null && !Files.isDirectory(jsonDir)) { // found out now, not after the run
                throw new IllegalArgumentException("--json " + o.jsonOut() + ": no directory " + jsonDir);
            }
        } catch (IllegalArgumentException e) {
            System.err.println("weaseldb-bench: " + e.getMessage());
            System.err.print(BenchOptions.USAGE);
            return 2;
        }
        try {
            BenchReport report = run(o);
            System.out.print(report.text());
            System.out.flush();
            if (o.jsonOut() != null) {
                report.writeJson(o.jsonOut());
            }
            return 0;
        } catch (IOException | RuntimeException e) {
            System.err.println("weaseldb-bench: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }

    /** Runs the benchmark described by {@code o} and returns what it measured. */
    static BenchReport run(BenchOptions o) throws IOException, InterruptedException {
        double loadStart = ProcessSampler.loadAverage();
        long initialVersion = o.mode() == BenchOptions.Mode.IDLE ? 0 : probeVersion(o);
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(o.threads(), io);
        // SSE readers get their own loops: at hundreds of subscribers, reading events on the
        // commit connections' loops would delay reading commit answers and inflate latencies.
        EventLoopGroup readerGroup = o.subscribers() > 0 ? new MultiThreadIoEventLoopGroup(o.subscriberThreads(), io) : null;
        try {
            Map<EventExecutor, LoopStats> stats = new HashMap<>();
            Map<EventExecutor, RequestWriter> writers = new HashMap<>();
            String runId = "bench-" + Long.toHexString(System.currentTimeMillis()) + "-" + Long.toHexString(o.seed());
            int loop = 0;
            for (EventExecutor e : group) {
                stats.put(e, new LoopStats(o.durationSeconds()));
                writers.put(e, new RequestWriter(o, runId, loop++));
            }
            if (readerGroup != null) {
                for (EventExecutor e : readerGroup) {
                    stats.put(e, new LoopStats(o.durationSeconds()));
                }
            }
            Bootstrap base = new Bootstrap().group(group)
                    .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                    .remoteAddress(new InetSocketAddress(o.host(), o.port()));
            if (o.mode() == BenchOptions.Mode.IDLE) {
                return idle(o, base, stats, loadStart);
            }
            return load(o, base, readerGroup == null ? null : base.clone(readerGroup), stats, writers, runId,
                    initialVersion, loadStart);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            if (readerGroup != null) {
                readerGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    private static BenchReport load(BenchOptions o, Bootstrap base, Bootstrap readerBase, Map<EventExecutor, LoopStats> stats,
                                    Map<EventExecutor, RequestWriter> writers, String runId, long initialVersion,
                                    double loadStart) throws IOException, InterruptedException {
        // The run's clock starts once every connection is up; handlers look it up through the proxy.
        List<CommitConnection> commits = new ArrayList<>();
        List<Channel> channels = new ArrayList<>();
        List<SseConnection> readers = new ArrayList<>();
        AtomicInteger index = new AtomicInteger();
        RunProxy proxy = new RunProxy();

        // Subscribers first, so they are streaming before the first commit.
        CountDownLatch streaming = new CountDownLatch(o.subscribers());
        connectAll(readerBase, o.subscribers(), channels, ch -> {
            SseConnection s = new SseConnection(o, proxy, stats.get(ch.eventLoop()), streaming);
            synchronized (readers) {
                readers.add(s);
            }
            ch.pipeline().addLast(new HttpResponseDecoder()).addLast(s);
        });
        if (!streaming.await(CONNECT_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            System.err.println("weaseldb-bench: " + streaming.getCount() + " subscribers got no stream head; going on");
        }

        // --reconnect: a connection the server closed is opened again on its own loop, same handler
        CommitConnection.Reconnector reconnector = !o.reconnect() ? null : (conn, loop) -> {
            LoopStats s = stats.get(loop);
            ChannelFuture f = base.clone(loop).handler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(new ByteCounter(proxy, s)).addLast(new HttpResponseDecoder())
                            .addLast(new HttpObjectAggregator(1 << 20)).addLast(conn);
                }
            }).connect();
            synchronized (channels) {
                channels.add(f.channel());
            }
            f.addListener(done -> {
                if (!done.isSuccess()) {
                    conn.connectFailed();
                }
            });
        };
        connectAll(base, o.connections(), channels, ch -> {
            int c = index.getAndIncrement();
            LoopStats s = stats.get(ch.eventLoop());
            CommitConnection conn = new CommitConnection(o, proxy, s, writers.get(ch.eventLoop()),
                    new SplittableRandom(o.seed() * 1_000_003L + c), c, reconnector);
            synchronized (commits) {
                commits.add(conn);
            }
            ch.pipeline().addLast(new ByteCounter(proxy, s)).addLast(new HttpResponseDecoder())
                    .addLast(new HttpObjectAggregator(1 << 20)).addLast(conn);
        });

        long cpu0 = ProcessSampler.ownCpuNanos();
        long serverCpu0 = o.serverPid() > 0 ? ProcessSampler.cpuNanos(o.serverPid()) : -1;
        Run run = Run.start(o, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20), runId, initialVersion);
        proxy.set(run);
        for (CommitConnection c : commits) {
            c.beginOnLoop();
        }
        long rssPeak = -1;
        long cpuMeasure = -1;
        long serverCpuMeasure = -1;
        long serverSysMeasure = -1;
        boolean measuring = false;
        // Sample while the run goes; then wait (bounded) for the answers still in flight.
        long drainDeadline = run.endNanos() + TimeUnit.SECONDS.toNanos(o.drainSeconds());
        while (true) {
            long now = System.nanoTime();
            if (!measuring && now >= run.measureNanos()) {
                measuring = true;
                cpuMeasure = ProcessSampler.ownCpuNanos();
                serverCpuMeasure = o.serverPid() > 0 ? ProcessSampler.cpuNanos(o.serverPid()) : -1;
                serverSysMeasure = o.serverPid() > 0 ? ProcessSampler.systemCpuNanos(o.serverPid()) : -1;
            }
            if (o.serverPid() > 0) {
                rssPeak = Math.max(rssPeak, ProcessSampler.rssBytes(o.serverPid()));
            }
            if (now >= run.endNanos() && (run.outstanding().sum() <= 0 || now >= drainDeadline || commits.isEmpty())) {
                break;
            }
            if (now >= run.endNanos() && o.connections() == 0) {
                break;
            }
            if (run.budgetSpent() && run.outstanding().sum() <= 0 && now > run.measureNanos()) {
                break; // --count spent and every answer in: the run ends early
            }
            Thread.sleep(now < run.endNanos() ? Math.min(200, Math.max(1, (run.endNanos() - now) / 1_000_000)) : 5);
        }
        long measuredEnd = System.nanoTime();
        long cpu1 = ProcessSampler.ownCpuNanos();
        long serverCpu1 = o.serverPid() > 0 ? ProcessSampler.cpuNanos(o.serverPid()) : -1;
        long serverSys1 = o.serverPid() > 0 ? ProcessSampler.systemCpuNanos(o.serverPid()) : -1;
        if (cpuMeasure < 0) {
            cpuMeasure = cpu0;
            serverCpuMeasure = serverCpu0;
            serverSysMeasure = serverCpu0 >= 0 ? ProcessSampler.systemCpuNanos(o.serverPid()) : -1;
        }

        // Stop everything on its own loop, then merge each loop's stats there (no data race).
        LoopStats total = new LoopStats(o.durationSeconds());
        long stopNanos = System.nanoTime();
        for (CommitConnection c : commits) {
            c.stopOnLoop(stopNanos);
        }
        for (SseConnection s : readers) {
            s.stopOnLoop();
        }
        long maxVersionLag = 0;
        long withoutEvents = 0;
        for (SseConnection s : readers) {
            long lag = s.versionLag(run.newestVersion().get());
            if (lag < 0) {
                withoutEvents++;
            } else {
                maxVersionLag = Math.max(maxVersionLag, lag);
            }
        }
        for (Map.Entry<EventExecutor, LoopStats> e : stats.entrySet()) {
            e.getKey().submit(() -> {
                synchronized (total) {
                    total.add(e.getValue());
                }
            }).syncUninterruptibly();
        }
        List<Channel> opened;
        synchronized (channels) { // with --reconnect, loops add the channels they open again
            opened = new ArrayList<>(channels);
        }
        for (Channel ch : opened) {
            ch.close();
        }
        for (Channel ch : opened) {
            ch.closeFuture().awaitUninterruptibly(1, TimeUnit.SECONDS);
        }
        double wall = Math.max(1e-3, (measuredEnd - run.measureNanos()) / 1e9);
        // A run cut short by --count is measured over the time it took, not the duration asked for.
        double seconds = measuredEnd < run.endNanos() ? wall : o.durationSeconds();
        BenchReport.Subscribers subs = new BenchReport.Subscribers(o.subscribers(), total.subscriberStreams,
                total.subscriberRefusals, total.subscriberEvents, total.subscriberBytes, total.subscriberDisconnects,
                total.subscriberGaps, total.subscriberDuplicateEvents, BenchReport.Latency.of(total.subscriberLagMillis),
                maxVersionLag, withoutEvents);
        return new BenchReport(o, seconds, total.sent, total.completed(), total.measuredAnswered, total.committed, total.duplicates, total.conflicts, total.tooOld,
                total.refused, total.errors, total.unanswered, total.unsent, total.connectionFailures, total.reconnects,
                BenchReport.Latency.of(total.latencyMicros), total.unansweredRecorded, total.requestBytes, total.responseBytes,
                total.completedPerSecond, subs,
                serverCpuMeasure >= 0 && serverCpu1 >= 0 ? (serverCpu1 - serverCpuMeasure) / 1e9 / wall : -1,
                serverSysMeasure >= 0 && serverSys1 >= 0 ? (serverSys1 - serverSysMeasure) / 1e9 / wall : -1,
                rssPeak, (cpu1 - cpuMeasure) / 1e9 / wall, loadStart, ProcessSampler.loadAverage(), 0);
    }

    /** Opens {@code --connections} keep-alive connections, asks each for /v1/version once, and holds them. */
    private static BenchReport idle(BenchOptions o, Bootstrap base, Map<EventExecutor, LoopStats> stats, double loadStart)
            throws InterruptedException {
        byte[] probe = RequestWriter.versionProbe(o);
        CountDownLatch answered = new CountDownLatch(o.connections());
        List<Channel> channels = new ArrayList<>();
        connectAll(base, o.connections(), channels, ch -> ch.pipeline().addLast(new HttpResponseDecoder())
                .addLast(new HttpObjectAggregator(1 << 16)).addLast(new IdleConnection(probe, answered)));
        boolean all = answered.await(CONNECT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        int held = (int) (o.connections() - answered.getCount());
        // Scripts wait for this line, then sample the server's memory.
        System.out.println("holding " + held + " idle connections for " + o.durationSeconds() + " s"
                + (all ? "" : " (some did not answer)"));
        System.out.flush();
        long rssPeak = -1;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(o.durationSeconds());
        while (System.nanoTime() < end) {
            if (o.serverPid() > 0) {
                rssPeak = Math.max(rssPeak, ProcessSampler.rssBytes(o.serverPid()));
            }
            Thread.sleep(Math.min(500, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
        }
        long open = channels.stream().filter(Channel::isActive).count();
        for (Channel ch : channels) {
            ch.close();
        }
        for (Channel ch : channels) {
            ch.closeFuture().awaitUninterruptibly(1, TimeUnit.SECONDS);
        }
        LoopStats none = new LoopStats(1);
        return new BenchReport(o, o.durationSeconds(), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, o.connections() - open, 0,
                BenchReport.Latency.of(none.latencyMicros), 0, 0, 0, new long[0],
                BenchReport.Subscribers.none(),
                -1, -1, rssPeak, -1, loadStart, ProcessSampler.loadAverage(), held);
    }

    /**
     * Opens {@code count} connections from {@code base}, {@value #CONNECT_BATCH} at a time, each
     * set up by {@code init}; adds them to {@code channels}. Fails if one does not connect.
     */
    private static void connectAll(Bootstrap base, int count, List<Channel> channels, Consumer<SocketChannel> init)
            throws InterruptedException {
        for (int i = 0; i < count; i += CONNECT_BATCH) {
            List<ChannelFuture> batch = new ArrayList<>();
            for (int j = i; j < Math.min(count, i + CONNECT_BATCH); j++) {
                batch.add(base.clone().handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        init.accept(ch);
                    }
                }).connect());
            }
            awaitConnected(batch, channels);
        }
    }

    private static void awaitConnected(List<ChannelFuture> batch, List<Channel> channels) throws InterruptedException {
        for (ChannelFuture f : batch) {
            if (!f.await(CONNECT_TIMEOUT_MS, TimeUnit.MILLISECONDS) || !f.isSuccess()) {
                throw new IllegalStateException("could not connect: "
                        + (f.cause() == null ? "timed out" : f.cause().toString()));
            }
            channels.add(f.channel());
        }
    }

    /**
     * The newest committed version (etcd: revision) before the run, so the first read versions
     * are recent: a read version older than the conflict window would be answered too_old.
     * A blocking socket is fine here: it runs once, before the event loops start.
     */
    static long probeVersion(BenchOptions o) throws IOException {
        if (o.target() == BenchOptions.Target.CEILING) {
            return 0;
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(o.host(), o.port()), 10_000);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(RequestWriter.versionProbe(o));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            int n = 0;
            long version = -1;
            while (n < buf.length) {
                int r = in.read(buf, n, buf.length - n);
                if (r < 0) {
                    break;
                }
                n += r;
                ByteBuf b = Unpooled.wrappedBuffer(buf, 0, n);
                String head = new String(buf, 0, Math.min(n, 12), StandardCharsets.US_ASCII);
                int bodyAt = ResponseScan.indexOf(b, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                if (bodyAt < 0) {
                    continue;
                }
                if (!head.startsWith("HTTP/1.1 200")) {
                    throw new IOException("version probe answered " + head.trim());
                }
                b.readerIndex(bodyAt);
                version = o.target() == BenchOptions.Target.ETCD
                        ? ResponseScan.number(b, "\"revision\":\"".getBytes(StandardCharsets.US_ASCII))
                        : ResponseScan.number(b, "\"version\":".getBytes(StandardCharsets.US_ASCII));
                if (version >= 0) {
                    break;
                }
            }
            if (version < 0) {
                throw new IOException("version probe: no version in the answer");
            }
            return version;
        } catch (IOException e) {
            throw new IOException("cannot reach " + o.host() + ":" + o.port() + ": " + e.getMessage(), e);
        }
    }

    /** Counts response bytes as they come off the socket (headers included). */
    private static final class ByteCounter extends ChannelInboundHandlerAdapter {
        private final RunProxy run;
        private final LoopStats stats;

        ByteCounter(RunProxy run, LoopStats stats) {
            this.run = run;
            this.stats = stats;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf b && run.measuring()) {
                stats.responseBytes += b.readableBytes();
            }
            ctx.fireChannelRead(msg);
        }
    }

    /** Asks once, then sits idle: the connection stays open until the run closes it. */
    private static final class IdleConnection extends SimpleChannelInboundHandler<FullHttpResponse> {
        private final byte[] probe;
        private final CountDownLatch answered;
        private boolean counted;

        IdleConnection(byte[] probe, CountDownLatch answered) {
            this.probe = probe;
            this.answered = answered;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(Unpooled.wrappedBuffer(probe));
            ctx.fireChannelActive();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse msg) {
            if (!counted) {
                counted = true;
                answered.countDown();
            }
        }
    }

    /**
     * The run, once it has started: connections are created before the clock starts, so they
     * reach it through this holder; null until then (nothing is measured before it is set).
     */
    static final class RunProxy {
        private volatile Run run;

        Run run() {
            return run;
        }

        void set(Run r) {
            run = r;
        }

        /** Past the warmup (and still after the measured window, through the drain). */
        boolean pastWarmup() {
            Run r = run;
            return r != null && System.nanoTime() >= r.measureNanos();
        }

        /** Within the measured window: what is counted here is divided by its length. */
        boolean measuring() {
            Run r = run;
            if (r == null) {
                return false;
            }
            long now = System.nanoTime();
            return now >= r.measureNanos() && now < r.endNanos();
        }
    }
}
