package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.services.s3.S3AsyncClient;

@org.junit.jupiter.api.Timeout(120)
class FakeS3MainTest {
    private static final Pattern LISTENING = Pattern.compile("fake-s3 listening on (http://\\S+)");

    @TempDir
    Path dir;

    @Test
    void parsesEveryOption() {
        FakeS3Config c = FakeS3Main.parse(new String[] {"--host", "0.0.0.0", "--port", "0", "--data-dir", "/tmp/x",
                "--no-fsync", "--layout", "files", "--access-key", "ak", "--secret-key", "sk", "--bucket", "one", "--bucket", "two",
                "--max-object-bytes", "1000", "--max-connections", "5", "--io-threads", "3",
                "--fault", "op=PUT,kind=error,status=503,code=SlowDown,probability=0.2,count=10",
                "--fault", "op=GET,kind=latency,min_ms=5,max_ms=50", "--seed", "9"});
        assertEquals("0.0.0.0", c.host());
        assertEquals(0, c.port());
        assertEquals(Path.of("/tmp/x"), c.dataDir());
        assertEquals(false, c.fsync());
        assertEquals(DataLayout.FILES, c.layout());
        assertEquals("ak", c.accessKey());
        assertEquals("sk", c.secretKey());
        assertEquals(List.of("one", "two"), c.buckets());
        assertEquals(1000, c.maxObjectBytes());
        assertEquals(5, c.maxConnections());
        assertEquals(3, c.ioThreads());
        assertEquals(2, c.faults().size());
        assertEquals(9, c.seed());
        FakeS3Config defaults = FakeS3Main.parse(new String[] {"--memory"});
        assertNull(defaults.dataDir());
        assertEquals(9000, defaults.port());
        assertEquals(DataLayout.SEGMENTS, defaults.layout());
        assertNull(FakeS3Main.parse(new String[] {"--help"}));
    }

    @Test
    void badArgumentsExitWithUsage() {
        for (String[] args : List.of(new String[] {"--port"}, new String[] {"--port", "x"}, new String[] {"--frobnicate"},
                new String[] {"--memory", "--data-dir", "d"}, new String[] {"--access-key", "a"},
                new String[] {"--fault", "kind=nope"}, new String[] {"--bucket", "NO"},
                new String[] {"--layout", "log"})) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code = FakeS3Main.run(args, new PrintStream(new ByteArrayOutputStream()), new PrintStream(err));
            assertEquals(2, code, String.join(" ", args));
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("usage:"));
        }
    }

    @Test
    void runsInProcessUntilInterrupted() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
        CompletableFuture<Integer> exit = new CompletableFuture<>();
        Thread runner = new Thread(() -> exit.complete(FakeS3Main.run(new String[] {"--port", "0", "--memory",
                "--bucket", "cli"}, print, print)), "fake-s3-main-test");
        runner.start();
        assertTrue(Poll.until(Duration.ofSeconds(10), () -> LISTENING.matcher(out.toString(StandardCharsets.UTF_8)).find()),
                out::toString);
        Matcher m = LISTENING.matcher(out.toString(StandardCharsets.UTF_8));
        assertTrue(m.find());
        try (S3AsyncClient s3 = S3Clients.client(URI.create(m.group(1)))) {
            s3.putObject(b -> b.bucket("cli").key("k"), AsyncRequestBody.fromString("v")).join();
        }
        runner.interrupt();
        assertEquals(0, exit.get(15, TimeUnit.SECONDS));
    }

    private static String read(Path file) {
        try {
            return java.nio.file.Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            return "";
        }
    }

    @Test
    void standaloneProcessServesAndStopsCleanlyOnSigterm() throws Exception {
        Path data = dir.resolve("data");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = dir.resolve("fake-s3.log");
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                FakeS3Main.class.getName(), "--port", "0", "--data-dir", data.toString(), "--bucket", "proc")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            // Output goes to a file: reading a pipe while the process exits races with the JDK
            // closing it.
            assertTrue(Poll.until(Duration.ofSeconds(30), () -> LISTENING.matcher(read(log)).find()
                    || !p.isAlive()), "no listening line");
            Matcher m = LISTENING.matcher(read(log));
            assertTrue(m.find(), read(log));
            try (S3AsyncClient s3 = S3Clients.client(URI.create(m.group(1)))) {
                s3.putObject(b -> b.bucket("proc").key("k"), AsyncRequestBody.fromString("persisted")).join();
            }
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), "process did not stop on SIGTERM");
            assertEquals(143, p.exitValue()); // 128 + SIGTERM, after the shutdown hook ran
            assertTrue(read(log).contains("stopped"), "no clean-stop log line in:\n" + read(log));
        } finally {
            p.destroyForcibly();
        }
        // The data directory was released and holds the object.
        try (FakeS3Server again = FakeS3Server.start(FakeS3Config.builder().dataDir(data).build());
             S3AsyncClient s3 = S3Clients.client(again.endpoint())) {
            assertArrayEquals("persisted".getBytes(StandardCharsets.UTF_8), s3.getObject(
                    b -> b.bucket("proc").key("k"), AsyncResponseTransformer.toBytes()).join().asByteArray());
        }
    }
}
