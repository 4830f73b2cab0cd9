package io.weaseldb;

import io.weaseldb.config.ConfigException;
import io.weaseldb.config.ConfigLoader;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.time.Clock;
import io.weaseldb.time.IdSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Command line entry point.
 *
 * <pre>
 * java -jar weaseldb.jar [--config FILE] [--port N] [--host ADDR] [--data-dir DIR]   run the server
 * java -jar weaseldb.jar fake-s3 [options]                                          run the fake S3 alone
 * java -jar weaseldb.jar bench [options]                                            the load generator (weaseldb-bench)
 * java -jar weaseldb.jar http-ceiling [options]                                     the HTTP-ceiling server
 * </pre>
 */
public final class Main {
    private Main() {}

    static final String USAGE = """
            Usage: java -jar weaseldb.jar [options]            run the WeaselDB server
                   java -jar weaseldb.jar fake-s3 [options]    run the fake S3 server alone (--help for its options)
                   java -jar weaseldb.jar bench [options]      the load generator, weaseldb-bench (--help for its options)
                   java -jar weaseldb.jar http-ceiling [options]  a minimal HTTP server for benchmark baselines

            Options:
              --config FILE     TOML configuration (default: config/weaseldb.toml if present, else built-in defaults)
              --port N          HTTP port, overrides [server].port (0 = any free port)
              --host ADDR       listen address, overrides [server].host
              --data-dir DIR    where the embedded fake S3 stores the log, overrides [s3].data_dir
              --help            this text
            """;

    public static void main(String[] args) {
        // First of all, before any class with a logger loads (ServerTls has one: loading it set
        // logging up as text, and WEASELDB_LOG_FORMAT=json was ignored): JSON lines when asked
        // (see logback-json.xml).
        if ("json".equalsIgnoreCase(System.getenv("WEASELDB_LOG_FORMAT"))
                && System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "logback-json.xml");
        }
        // Then this: the JDK reads it once, at the first TLS handshake (the embedded fake S3's
        // client may make one before the listener exists).
        io.weaseldb.http.ServerTls.rejectClientRenegotiation();
        if (args.length > 0 && args[0].equals("fake-s3")) {
            System.exit(io.weaseldb.fakes3.FakeS3Main.run(Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("bench")) {
            System.exit(io.weaseldb.bench.LoadGenerator.cli(Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("http-ceiling")) {
            System.exit(io.weaseldb.bench.HttpCeilingServer.cli(Arrays.copyOfRange(args, 1, args.length)));
        }
        WeaselConfig config;
        String source;
        try {
            Parsed p = parseWithSource(args);
            config = p == null ? null : p.config();
            source = p == null ? null : p.source();
        } catch (ConfigException | IllegalArgumentException e) {
            System.err.println("weaseldb: " + e.getMessage());
            System.err.println();
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        if (config == null) {
            System.out.print(USAGE);
            return;
        }
        Logger log = LoggerFactory.getLogger(Main.class);
        // which file (if any) this server runs on: a config/weaseldb.toml picked up from the
        // working directory, or none, is otherwise invisible
        log.info("configuration: {}", source);
        String ignored = embeddedOnlyKeysSet(config);
        if (!ignored.isEmpty()) {
            log.warn("[s3] {} apply to the embedded fake S3 only and are ignored with an endpoint ({})", ignored,
                    config.s3().endpoint());
        }
        WeaselServer server = new WeaselServer(config, Clock.SYSTEM, IdSource.secure());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("shutting down");
            server.close();
            stopped.countDown();
        }, "weaseldb-shutdown"));
        try {
            server.start();
        } catch (Exception e) {
            Throwable cause = startupCause(e);
            if (expected(cause)) {
                // storage, files, the port, configuration: the message says it all; the trace is for DEBUG
                log.error("startup failed: {}", cause.getMessage());
                log.debug("startup failure", e);
            } else {
                log.error("startup failed: {}", cause.getMessage(), e);
            }
            Runtime.getRuntime().halt(1);
        }
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The failure itself, out of the future or executor wrappers that carried it. */
    static Throwable startupCause(Throwable e) {
        Throwable c = e;
        while ((c instanceof java.util.concurrent.ExecutionException || c instanceof java.util.concurrent.CompletionException)
                && c.getCause() != null) {
            c = c.getCause();
        }
        return c;
    }

    /** A failure of the environment (storage, files, the port, configuration), not of the server's code. */
    static boolean expected(Throwable cause) {
        return cause.getMessage() != null && (cause instanceof io.weaseldb.s3.StorageException
                || cause instanceof java.io.IOException || cause instanceof java.io.UncheckedIOException
                || cause instanceof ConfigException || cause instanceof java.util.concurrent.TimeoutException);
    }

    /** Parses the command line into a configuration; null means --help. */
    static WeaselConfig parse(String[] args) {
        Parsed p = parseWithSource(args);
        return p == null ? null : p.config();
    }

    /**
     * The embedded store's keys given values other than their defaults while an endpoint is set
     * (they then do nothing; an operator who set them expected something), or "".
     */
    static String embeddedOnlyKeysSet(WeaselConfig c) {
        var s3 = c.s3();
        if (s3.embedded()) {
            return "";
        }
        java.util.List<String> keys = new java.util.ArrayList<>();
        if (!s3.dataDir().equals(Path.of("./data"))) {
            keys.add("data_dir");
        }
        if (!s3.fsync()) {
            keys.add("fsync");
        }
        if (!s3.fakeLayout().equals("segments")) {
            keys.add("fake_layout");
        }
        if (s3.fakePort() != 0) {
            keys.add("fake_port");
        }
        if (s3.fakeOverHttp()) {
            keys.add("fake_transport");
        }
        if (!s3.fakeFaults().isEmpty()) {
            keys.add("fake_faults");
        }
        return String.join(", ", keys);
    }

    /** A configuration and where it came from (a file, or the built-in defaults), with the command line's overrides. */
    record Parsed(WeaselConfig config, String source) {}

    /** As {@link #parse}, saying where the configuration came from; null means --help. */
    static Parsed parseWithSource(String[] args) {
        Path configFile = null;
        Integer port = null;
        String host = null;
        Path dataDir = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--help", "-h" -> {
                    return null;
                }
                case "--config" -> configFile = Path.of(value(args, ++i, a));
                case "--port" -> {
                    String v = value(args, ++i, a);
                    try {
                        port = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--port must be a number, got \"" + v + "\"");
                    }
                    if (port < 0 || port > 65535) {
                        throw new IllegalArgumentException("--port must be between 0 and 65535, got " + port);
                    }
                }
                case "--host" -> host = value(args, ++i, a);
                case "--data-dir" -> {
                    String v = value(args, ++i, a);
                    if (v.isBlank()) { // Path.of("") is the working directory
                        throw new IllegalArgumentException("--data-dir must not be empty (a directory such as ./data)");
                    }
                    dataDir = Path.of(v);
                }
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        WeaselConfig c;
        String source;
        if (configFile != null) {
            c = ConfigLoader.load(configFile);
            source = configFile.toString();
        } else if (Files.isRegularFile(Path.of("config/weaseldb.toml"))) {
            c = ConfigLoader.load(Path.of("config/weaseldb.toml"));
            source = "config/weaseldb.toml (found in the working directory; --config names another)";
        } else {
            c = ConfigLoader.defaults();
            source = "built-in defaults (no --config, and no config/weaseldb.toml in the working directory)";
        }
        if (host != null && host.isBlank()) {
            throw new IllegalArgumentException("--host must not be empty (an address such as 127.0.0.1 or 0.0.0.0)");
        }
        if (port != null || host != null) {
            var s = c.server();
            c = new WeaselConfig(new WeaselConfig.Server(host != null ? host : s.host(), port != null ? port : s.port(),
                    s.ioThreads(), s.maxRequestSizeBytes(), s.maxInFlightRequestBytes(), s.maxConnections(), s.maxHeaderBytes(),
                    s.maxPipelinedRequests(), s.idleTimeoutSeconds(), s.shutdownGraceMs(), s.advertiseUrl(),
                    s.headerReadTimeoutMs(), s.bodyReadTimeoutMs(), s.bodyDeadlineMs(), s.accessLog()),
                    c.commit(), c.persistence(), c.s3(), c.subscription(), c.retention(), c.security());
        }
        if (dataDir != null) {
            var s3 = c.s3();
            c = new WeaselConfig(c.server(), c.commit(), c.persistence(), new WeaselConfig.S3(s3.endpoint(), s3.region(),
                    s3.bucket(), s3.prefix(), s3.accessKeyId(), s3.secretAccessKey(), s3.createBucket(),
                    s3.requestTimeoutMs(), s3.maxConnections(), dataDir, s3.fsync(), s3.fakeLayout(), s3.fakePort(), s3.fakeFaults(), s3.fakeOverHttp()),
                    c.subscription(), c.retention(), c.security());
        }
        // a rule that does not parse: exit 2 now, not 1 at startup (checked with an endpoint too,
        // where the rules do nothing, so a typo does not wait for the day the embedded store is used)
        EmbeddedS3.faultRules(c.s3());
        if (c.s3().embedded() && c.s3().fakePort() != 0 && c.s3().fakePort() == c.server().port()) {
            throw new IllegalArgumentException("[s3].fake_port (" + c.s3().fakePort() + ") must differ from the server's"
                    + " port: the embedded fake S3 and the server cannot listen on the same port");
        }
        java.util.List<String> overrides = new java.util.ArrayList<>();
        if (port != null) {
            overrides.add("--port " + port);
        }
        if (host != null) {
            overrides.add("--host " + host);
        }
        if (dataDir != null) {
            overrides.add("--data-dir " + dataDir);
        }
        return new Parsed(c, overrides.isEmpty() ? source : source + ", with " + String.join(" ", overrides));
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }
}
