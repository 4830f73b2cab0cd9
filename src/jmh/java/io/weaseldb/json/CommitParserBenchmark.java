package io.weaseldb.json;

import io.weaseldb.jmh.ByteCounter;
import com.fasterxml.jackson.core.JsonFactory;
import io.weaseldb.txn.CommitRequest;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Parsing a {@code POST /v1/commit} body with {@link CommitParser}, as the event loop does: the
 * body fed in chunks of {@code chunkBytes} (Netty's reads), then {@code finish()}, with a reset
 * parser reused ({@code parser=reused}, what the server's {@code CommitParserPool} does) or a new
 * parser per request ({@code parser=new}, the baseline). The {@code bytes} counter is bytes/s of JSON parsed (MB/s = bytes/1e6);
 * {@code -prof gc} gives allocation per request ({@code gc.alloc.rate.norm}).
 *
 * <p>Shapes: {@code rmw} = 1 point read + 1 write (16 B key, 100 B value), the headline commit;
 * {@code txn100} = 100 writes; {@code value10k} = 1 write of 10 KiB.
 *
 * <p>Run: {@code ./mvnw -q -B -o -Pbench -Djmh.args='CommitParserBenchmark -prof gc'}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class CommitParserBenchmark {

    @Param({"rmw", "txn100", "value10k"})
    public String shape;

    /** Netty delivers bodies in reads of up to this size. */
    @Param({"65536"})
    public int chunkBytes;

    @Param({"reused", "new"})
    public String parser;

    private JsonFactory factory;
    private CommitLimits limits;
    private byte[] body;
    private CommitParser kept;

    @Setup
    public void setUp() {
        factory = CommitParser.newFactory(1 << 20);
        limits = new CommitLimits(20, 256, 10240, 10000, 10000);
        body = body(shape, new SplittableRandom(42)).getBytes(StandardCharsets.US_ASCII);
    }

    public static String body(String shape, SplittableRandom random) {
        return switch (shape) {
            case "rmw" -> {
                String k = key(random);
                yield "{\"read_version\":123456789,\"preconditions\":[{\"type\":\"point_read\",\"key\":\"" + k
                        + "\"}],\"operations\":[{\"type\":\"write\",\"key\":\"" + k + "\",\"value\":\"" + value(random, 100)
                        + "\"}]}";
            }
            case "txn100" -> {
                StringBuilder s = new StringBuilder("{\"operations\":[");
                for (int i = 0; i < 100; i++) {
                    s.append(i > 0 ? "," : "").append("{\"type\":\"write\",\"key\":\"").append(key(random))
                            .append("\",\"value\":\"").append(value(random, 100)).append("\"}");
                }
                yield s.append("]}").toString();
            }
            case "value10k" -> "{\"operations\":[{\"type\":\"write\",\"key\":\"" + key(random) + "\",\"value\":\""
                    + value(random, 10240) + "\"}]}";
            default -> throw new IllegalArgumentException(shape);
        };
    }

    private static String key(SplittableRandom random) {
        return value(random, 16);
    }

    private static String value(SplittableRandom random, int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return Base64.getEncoder().encodeToString(b);
    }

    @Benchmark
    public CommitRequest parse(ByteCounter counter) throws BadRequestException {
        CommitParser p = kept != null ? kept : new CommitParser(factory, limits);
        kept = null;
        for (int at = 0; at < body.length; at += chunkBytes) {
            p.feed(ByteBuffer.wrap(body, at, Math.min(chunkBytes, body.length - at)));
        }
        counter.bytes += body.length;
        CommitRequest r = p.finish();
        if (parser.equals("reused") && p.reset()) {
            kept = p;
        } else {
            p.close();
        }
        return r;
    }
}
