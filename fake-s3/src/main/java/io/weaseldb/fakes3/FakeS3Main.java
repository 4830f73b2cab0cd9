package io.weaseldb.fakes3;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the fake S3 server standalone until SIGTERM/SIGINT:
 * <pre>
 *   java -cp weaseldb.jar io.weaseldb.fakes3.FakeS3Main --port 9000 --data-dir ./s3-data
 *   java -jar weaseldb.jar fake-s3 --memory --bucket weaseldb --fault op=PUT,kind=error,status=503,probability=0.1
 * </pre>
 * Prints {@code fake-s3 listening on http://HOST:PORT} on stdout once it accepts connections, so
 * scripts can wait for that line (and read the port when {@code --port 0}).
 */
public final class FakeS3Main {
    static final String USAGE = """
            usage: fake-s3 [options]
              --host HOST          interface to bind (default 127.0.0.1)
              --port PORT          TCP port, 0 for any free one (default 9000)
              --data-dir DIR       store objects durably under DIR
              --memory             keep objects in memory (the default without --data-dir)
              --no-fsync           do not fsync (data may be lost on power failure)
              --layout L           how a new --data-dir stores objects: segments (an
                                   append-only log, the default) or files (a file per
                                   object); a directory with data keeps its own
              --access-key KEY     require SigV4 signatures with this key pair
              --secret-key SECRET
              --bucket NAME        create this bucket at startup (repeatable)
              --max-object-bytes N largest accepted object (default 67108864)
              --max-connections N  (default 1024)
              --io-threads N       Netty event loop threads (default 2)
              --fault SPEC         fault rule (repeatable), e.g.
                                   op=PUT,kind=error,status=503,code=SlowDown,probability=0.2,count=10
                                   op=GET,kind=latency,min_ms=5,max_ms=50
                                   kinds: error, latency, reset, timeout, lost_reply
              --seed N             seed of the fault injector's random generator
              --help               print this and exit
            """;

    private FakeS3Main() {}

    public static void main(String[] args) {
        int code = run(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    /**
     * Parses {@code args}, runs the server and returns once it stopped: 0 after a clean shutdown
     * (SIGTERM, SIGINT), 2 for bad arguments, 1 if the server could not start. The caller's
     * {@code main} may dispatch here (e.g. {@code weaseldb fake-s3 ...}).
     */
    public static int run(String[] args) {
        return run(args, System.out, System.err);
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        FakeS3Config config;
        try {
            config = parse(args);
        } catch (IllegalArgumentException e) {
            err.println("fake-s3: " + e.getMessage());
            err.print(USAGE);
            return 2;
        }
        if (config == null) {
            out.print(USAGE);
            return 0;
        }
        FakeS3Server server;
        try {
            server = FakeS3Server.start(config);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } catch (RuntimeException e) {
            err.println("fake-s3: cannot start: " + e.getMessage()
                    + (e.getCause() != null ? " (" + e.getCause().getMessage() + ")" : ""));
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "fake-s3-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.println("fake-s3 listening on " + server.endpoint());
        out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            // Interrupted by an embedding caller: stop the server ourselves.
            Runtime.getRuntime().removeShutdownHook(hook);
            server.close();
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    /** The config for {@code args}, or {@code null} for {@code --help}. */
    static FakeS3Config parse(String[] args) {
        FakeS3Config.Builder b = FakeS3Config.builder().port(9000);
        String accessKey = null;
        String secretKey = null;
        boolean memory = false;
        Path dataDir = null;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--help", "-h" -> {
                    return null;
                }
                case "--host" -> b.host(value(args, ++i, arg));
                case "--port" -> b.port(intValue(args, ++i, arg));
                case "--data-dir" -> dataDir = Path.of(value(args, ++i, arg));
                case "--memory" -> memory = true;
                case "--no-fsync" -> b.fsync(false);
                case "--layout" -> {
                    String name = value(args, ++i, arg);
                    b.layout(DataLayout.fromConfigName(name).orElseThrow(() -> new IllegalArgumentException(
                            "--layout must be segments or files, got '" + name + "'")));
                }
                case "--access-key" -> accessKey = value(args, ++i, arg);
                case "--secret-key" -> secretKey = value(args, ++i, arg);
                case "--bucket" -> b.bucket(value(args, ++i, arg));
                case "--max-object-bytes" -> b.maxObjectBytes(longValue(args, ++i, arg));
                case "--max-connections" -> b.maxConnections(intValue(args, ++i, arg));
                case "--io-threads" -> b.ioThreads(intValue(args, ++i, arg));
                case "--fault" -> b.fault(FaultRule.parse(value(args, ++i, arg)));
                case "--seed" -> b.seed(longValue(args, ++i, arg));
                default -> throw new IllegalArgumentException("unknown option '" + arg + "'");
            }
        }
        if (memory && dataDir != null) {
            throw new IllegalArgumentException("--memory and --data-dir exclude each other");
        }
        if ((accessKey == null) != (secretKey == null)) {
            throw new IllegalArgumentException("--access-key and --secret-key go together");
        }
        b.dataDir(dataDir);
        if (accessKey != null) {
            b.credentials(accessKey, secretKey);
        }
        return b.build();
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static int intValue(String[] args, int i, String option) {
        try {
            return Integer.parseInt(value(args, i, option));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " needs an integer, got '" + args[i] + "'");
        }
    }

    private static long longValue(String[] args, int i, String option) {
        try {
            return Long.parseLong(value(args, i, option));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " needs an integer, got '" + args[i] + "'");
        }
    }
}
