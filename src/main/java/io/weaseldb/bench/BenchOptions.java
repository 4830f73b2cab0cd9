package io.weaseldb.bench;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Everything one load-generator run is told on its command line, validated once. Durations are
 * bounded so a run always ends by itself.
 *
 * @param target          what the requests are shaped for: WeaselDB commits, etcd Txn through
 *                        its HTTP/JSON gateway, or the HTTP-ceiling server
 * @param mode            open loop (fixed arrival rate), closed loop (fixed concurrency) or idle
 *                        (hold keep-alive connections open, for memory measurements)
 * @param rate            open loop: intended transactions per second over all connections
 * @param depth           requests one connection may have in flight (above 1 is HTTP/1.1
 *                        pipelining); the open loop queues past it, latency still counted from
 *                        the intended send time
 * @param readVersionLag  versions subtracted from the newest version seen when choosing a
 *                        read version (0: read at the newest known version)
 * @param countLimit      stop after this many measured requests in total (0: no limit); the
 *                        warmup's requests are not counted, so it cannot empty the window
 * @param subscriberThreads event-loop threads of the SSE readers, apart from the commit
 *                        connections' so reading events never delays reading commit answers
 * @param serverPid       process to sample CPU and RSS of (0: none)
 * @param reconnect       a commit connection the server closes during the run connects again
 *                        (after 100 ms, backing off to 1 s) and goes on; without it the
 *                        connection stops for the rest of the run
 */
public record BenchOptions(
        Target target,
        Mode mode,
        String host,
        int port,
        Workload workload,
        int connections,
        int depth,
        int threads,
        double rate,
        int warmupSeconds,
        int durationSeconds,
        int drainSeconds,
        long countLimit,
        boolean reconnect,
        int keys,
        int keyBytes,
        int valueBytes,
        int opsPerTxn,
        int rangeKeys,
        int readVersionLag,
        boolean requestIds,
        int subscribers,
        int subscriberThreads,
        boolean subscribersDurable,
        long seed,
        long serverPid,
        Path jsonOut,
        String label) {

    /** Longest run accepted: everything is bounded. */
    static final int MAX_SECONDS = 3600;

    /** Highest open-loop rate accepted: far above what one generator can send, still a bounded schedule. */
    static final double MAX_RATE = 1e7;

    public enum Target { WEASELDB, ETCD, CEILING }

    public enum Mode { OPEN, CLOSED, IDLE }

    public BenchOptions {
        require(port > 0 && port < 65536, "--port must be 1..65535");
        require(connections >= 0 && connections <= 60_000, "--connections must be 0..60000");
        require(depth >= 1 && depth <= 1024, "--depth must be 1..1024");
        require(threads >= 1 && threads <= 64, "--threads must be 1..64");
        require(Double.isFinite(rate) && rate >= 0 && rate <= MAX_RATE,
                "--rate must be a finite number of transactions per second, 0.." + (long) MAX_RATE);
        require(mode != Mode.OPEN || rate > 0, "--rate must be > 0 in open-loop mode");
        require(warmupSeconds >= 0 && durationSeconds >= 1 && warmupSeconds + durationSeconds <= MAX_SECONDS,
                "--warmup-s and --duration-s must be >= 0 and >= 1 and add up to at most " + MAX_SECONDS);
        require(drainSeconds >= 0 && drainSeconds <= 60, "--drain-s must be 0..60");
        require(countLimit >= 0, "--count must be >= 0");
        // In the open loop the schedule says what is due: a count would stop sending while
        // connections still owe requests that fell due, and those would vanish from the results.
        require(countLimit == 0 || mode != Mode.OPEN, "--count applies to the closed loop only (the open loop sends"
                + " what its schedule says is due; bound it with --duration-s)");
        require(keys >= 1, "--keys must be >= 1");
        require(keyBytes >= 8 && keyBytes <= 1024, "--key-bytes must be 8..1024 (the key index takes 8 bytes)");
        require(valueBytes >= 0 && valueBytes <= (1 << 20), "--value-bytes must be 0..1048576");
        require(opsPerTxn >= 1 && opsPerTxn <= 10_000, "--ops must be 1..10000");
        require(rangeKeys >= 1, "--range-keys must be >= 1");
        require(readVersionLag >= 0, "--read-lag must be >= 0");
        require(subscribers >= 0 && subscribers <= 60_000, "--subscribers must be 0..60000");
        require(subscriberThreads >= 1 && subscriberThreads <= 64, "--subscriber-threads must be 1..64");
        require(mode == Mode.IDLE || connections >= 1 || subscribers >= 1, "nothing to do: no connections and no subscribers");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    static final String USAGE = """
            Usage: java -cp weaseldb.jar io.weaseldb.bench.LoadGenerator [options]

            Target and shape
              --target weaseldb|etcd|ceiling  request format (default weaseldb)
              --host ADDR --port N            server address (default 127.0.0.1, port required)
              --mode open|closed|idle         open loop at --rate, closed loop at --depth per
                                              connection, or idle keep-alive connections (default closed)
              --rate N                        open loop: transactions per second, all connections
                                              (finite, at most 10000000)
              --connections N                 keep-alive connections (default 64)
              --depth N                       in flight per connection, >1 pipelines (default 1)
              --threads N                     generator event-loop threads (default 1)
              --warmup-s N --duration-s N     not-recorded warmup, then measured time (default 5, 20)
              --drain-s N                     wait this long for answers after the end (default 5)
              --count N                       closed loop: stop after N measured requests in total,
                                              the warmup not counted (default: no limit)
              --reconnect                     connect again when the server closes a connection
                                              (a restart, a failover behind one address) and go on

            Workload (presets; any knob below overrides the preset)
              --workload blind-write|rmw|hot-key|range-read|txn-100|big-value   (default rmw)
              --keys N          key space size          --key-bytes N    key size (default 16)
              --value-bytes N   value size (default 100) --ops N         writes per transaction
              --range-keys N    keys covered by a range read
              --read-lag N      read version = newest seen - N (default 0)
              --request-ids     send a request_id with every commit (default: server generates)
              --seed N          random seed (default 1)

            Subscribers (WeaselDB only)
              --subscribers N   SSE readers on /v1/subscribe counting events and lag (default 0)
              --durable true|false   subscribe with durable=... (default true)
              --subscriber-threads N event-loop threads for the readers, apart from the commit
                                connections' threads (default 1)

            Output
              --server-pid PID  sample the server's CPU time and RSS during the run
              --json FILE       write the results as JSON     --label TEXT   name of the run

            Latencies are those of the requests intended (closed loop: sent) in the measured
            window, answers in the drain included; rates count the answers that arrive in the
            measured window. A run with requests never answered or never sent, connections lost,
            or error or duplicate answers is reported as incomplete (a WARNING line; "complete":
            false in the JSON); its latencies count the requests never answered or sent at what
            they had waited when the run gave up on them, and no error answers.
            """;

    /** Parses a command line. Unknown options and bad values fail with a message naming the option. */
    public static BenchOptions parse(String[] args) {
        Target target = Target.WEASELDB;
        Mode mode = Mode.CLOSED;
        String host = "127.0.0.1";
        int port = -1;
        Workload workload = Workload.RMW;
        int connections = 64;
        int depth = 1;
        int threads = 1;
        double rate = 0;
        int warmup = 5;
        int duration = 20;
        int drain = 5;
        long count = 0;
        boolean reconnect = false;
        Integer keys = null;
        Integer keyBytes = null;
        Integer valueBytes = null;
        Integer ops = null;
        Integer rangeKeys = null;
        int readLag = 0;
        boolean requestIds = false;
        int subscribers = 0;
        int subscriberThreads = 1;
        boolean durable = true;
        long seed = 1;
        long serverPid = 0;
        Path json = null;
        String label = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--target" -> target = enumValue(Target.class, value(args, ++i, a), a);
                case "--mode" -> mode = enumValue(Mode.class, value(args, ++i, a), a);
                case "--host" -> host = value(args, ++i, a);
                case "--port" -> port = intValue(args, ++i, a);
                case "--workload" -> workload = Workload.byName(value(args, ++i, a));
                case "--connections" -> connections = intValue(args, ++i, a);
                case "--depth" -> depth = intValue(args, ++i, a);
                case "--threads" -> threads = intValue(args, ++i, a);
                case "--rate" -> rate = doubleValue(args, ++i, a);
                case "--warmup-s" -> warmup = intValue(args, ++i, a);
                case "--duration-s" -> duration = intValue(args, ++i, a);
                case "--drain-s" -> drain = intValue(args, ++i, a);
                case "--count" -> count = longValue(args, ++i, a);
                case "--reconnect" -> reconnect = true;
                case "--keys" -> keys = intValue(args, ++i, a);
                case "--key-bytes" -> keyBytes = intValue(args, ++i, a);
                case "--value-bytes" -> valueBytes = intValue(args, ++i, a);
                case "--ops" -> ops = intValue(args, ++i, a);
                case "--range-keys" -> rangeKeys = intValue(args, ++i, a);
                case "--read-lag" -> readLag = intValue(args, ++i, a);
                case "--request-ids" -> requestIds = true;
                case "--subscribers" -> subscribers = intValue(args, ++i, a);
                case "--durable" -> durable = booleanValue(args, ++i, a);
                case "--subscriber-threads" -> subscriberThreads = intValue(args, ++i, a);
                case "--seed" -> seed = longValue(args, ++i, a);
                case "--server-pid" -> serverPid = longValue(args, ++i, a);
                case "--json" -> json = Path.of(value(args, ++i, a));
                case "--label" -> label = value(args, ++i, a);
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        Workload.Shape s = workload.shape();
        return new BenchOptions(target, mode, host, port, workload, connections, depth, threads, rate, warmup,
                duration, drain, count, reconnect,
                keys != null ? keys : s.keys(),
                keyBytes != null ? keyBytes : s.keyBytes(),
                valueBytes != null ? valueBytes : s.valueBytes(),
                ops != null ? ops : s.opsPerTxn(),
                rangeKeys != null ? rangeKeys : s.rangeKeys(),
                readLag, requestIds, subscribers, subscriberThreads, durable, seed, serverPid, json,
                label != null ? label : target.name().toLowerCase(Locale.ROOT) + "-" + workload.label());
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static int intValue(String[] args, int i, String option) {
        long v = longValue(args, i, option);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(option + " is out of range: " + v);
        }
        return (int) v;
    }

    private static long longValue(String[] args, int i, String option) {
        String v = value(args, i, option);
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " must be an integer, got \"" + v + "\"");
        }
    }

    /** Only {@code true} or {@code false}: Boolean.parseBoolean would read a typo as false. */
    private static boolean booleanValue(String[] args, int i, String option) {
        String v = value(args, i, option);
        return switch (v) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException(option + " must be true or false, got \"" + v + "\"");
        };
    }

    private static double doubleValue(String[] args, int i, String option) {
        String v = value(args, i, option);
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " must be a number, got \"" + v + "\"");
        }
    }

    private static <E extends Enum<E>> E enumValue(Class<E> type, String v, String option) {
        try {
            return Enum.valueOf(type, v.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + ": unknown value \"" + v + "\"");
        }
    }
}
