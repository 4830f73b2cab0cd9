package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * The property WeaselDB's fencing rests on: of N writers racing a conditional PUT on one key,
 * exactly one wins and the others get 412, for both backends, over real HTTP.
 */
@org.junit.jupiter.api.Timeout(120)
class ConditionalPutRaceTest {
    private static final int RACERS = 12;
    private static final int ROUNDS = 15;

    @TempDir
    Path dir;

    private FakeS3Server start(String backend) throws InterruptedException {
        FakeS3Config.Builder b = FakeS3Config.builder().bucket("race").ioThreads(2);
        if (backend.equals("directory")) {
            b.dataDir(dir.resolve("data")).fsync(true);
        }
        return FakeS3Server.start(b.build());
    }

    /** Runs one racer per thread, released together; returns how many got 200 and the winner's body. */
    private record Outcome(int wins, int preconditionFailures, List<String> winners) {}

    private Outcome race(S3AsyncClient s3, ExecutorService pool, String key,
                         java.util.function.IntFunction<java.util.function.Consumer<
                                 software.amazon.awssdk.services.s3.model.PutObjectRequest.Builder>> request)
            throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<String>> results = new ArrayList<>();
        for (int i = 0; i < RACERS; i++) {
            int racer = i;
            results.add(pool.submit(() -> {
                go.await();
                try {
                    s3.putObject(b -> request.apply(racer).accept(b.bucket("race").key(key)),
                            AsyncRequestBody.fromString("racer-" + racer)).join();
                    return "racer-" + racer;
                } catch (CompletionException e) {
                    S3Exception s3e = assertInstanceOf(S3Exception.class, e.getCause());
                    assertEquals(412, s3e.statusCode(), () -> "unexpected " + s3e);
                    assertEquals("PreconditionFailed", s3e.awsErrorDetails().errorCode());
                    return null;
                }
            }));
        }
        go.countDown();
        List<String> winners = new ArrayList<>();
        int failures = 0;
        for (Future<String> f : results) {
            String r = f.get(60, TimeUnit.SECONDS);
            if (r == null) {
                failures++;
            } else {
                winners.add(r);
            }
        }
        return new Outcome(winners.size(), failures, winners);
    }

    @ParameterizedTest
    @ValueSource(strings = {"memory", "directory"})
    void exactlyOneIfNoneMatchRacerWins(String backend) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(RACERS);
        try (FakeS3Server server = start(backend); S3AsyncClient s3 = S3Clients.client(server.endpoint())) {
            for (int round = 0; round < ROUNDS; round++) {
                String key = "log/" + String.format("%020d", round);
                Outcome o = race(s3, pool, key, racer -> b -> b.ifNoneMatch("*"));
                assertEquals(1, o.wins(), "round " + round + " winners " + o.winners());
                assertEquals(RACERS - 1, o.preconditionFailures());
                byte[] stored = s3.getObject(b -> b.bucket("race").key(key), AsyncResponseTransformer.toBytes())
                        .join().asByteArray();
                assertArrayEquals(o.winners().get(0).getBytes(StandardCharsets.UTF_8), stored,
                        "the stored object must be the winner's");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"memory", "directory"})
    void exactlyOneIfMatchRacerWins(String backend) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(RACERS);
        try (FakeS3Server server = start(backend); S3AsyncClient s3 = S3Clients.client(server.endpoint())) {
            for (int round = 0; round < ROUNDS; round++) {
                String key = "leader";
                String etag = s3.putObject(b -> b.bucket("race").key(key),
                        AsyncRequestBody.fromString("base-" + round)).join().eTag();
                Outcome o = race(s3, pool, key, racer -> b -> b.ifMatch(etag));
                assertEquals(1, o.wins(), "round " + round + " winners " + o.winners());
                assertEquals(RACERS - 1, o.preconditionFailures());
                byte[] stored = s3.getObject(b -> b.bucket("race").key(key), AsyncResponseTransformer.toBytes())
                        .join().asByteArray();
                assertArrayEquals(o.winners().get(0).getBytes(StandardCharsets.UTF_8), stored);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
