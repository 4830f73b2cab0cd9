package io.weaseldb.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * S3Proxy (org.gaul:s3proxy, a third-party S3-compatible server published on Maven Central) as
 * a child process on a free loopback port, with SigV4 auth on and a filesystem backend in a temp
 * directory: the real, Docker-free S3 implementation the persistence, log-reading and retention
 * paths are tested against. Maven fetches the jar into target/s3proxy (system property
 * {@code weaseldb.s3proxy.jar}).
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String ACCESS_KEY = "weaseldb-test";
    public static final String SECRET_KEY = "weaseldb-test-secret";
    private static final Pattern PORT = Pattern.compile("127\\.0\\.0\\.1:(\\d+)}");

    private final Process process;
    private final int port;
    private final Path dir;

    private S3ProxyServer(Process process, int port, Path dir) {
        this.process = process;
        this.port = port;
        this.dir = dir;
    }

    public static Path jar() {
        String p = System.getProperty("weaseldb.s3proxy.jar", "target/s3proxy/s3proxy.jar");
        return Path.of(p);
    }

    public static boolean available() {
        return Files.isRegularFile(jar());
    }

    public static S3ProxyServer start() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("s3proxy");
        Path data = Files.createDirectories(dir.resolve("data"));
        Path props = dir.resolve("s3proxy.properties");
        Files.writeString(props, String.join("\n",
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.endpoint=http://127.0.0.1:0",
                "s3proxy.identity=" + ACCESS_KEY,
                "s3proxy.credential=" + SECRET_KEY,
                "jclouds.provider=filesystem-nio2",
                "jclouds.filesystem.basedir=" + data) + "\n");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "-Xmx192m", "-XX:+UseSerialGC", "-jar", jar().toString(),
                "--properties", props.toString())
                .redirectErrorStream(true)
                .start();
        CompletableFuture<Integer> port = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    Matcher m = PORT.matcher(line);
                    if (!port.isDone() && line.contains("ServerConnector") && m.find()) {
                        port.complete(Integer.parseInt(m.group(1)));
                    }
                }
            } catch (IOException ignored) {
                // process ended
            }
            port.completeExceptionally(new IOException("s3proxy exited before listening"));
        }, "s3proxy-output");
        reader.setDaemon(true);
        reader.start();
        try {
            return new S3ProxyServer(p, port.get(30, TimeUnit.SECONDS), dir);
        } catch (Exception e) {
            p.destroyForcibly();
            throw new IOException("s3proxy did not start: " + e, e);
        }
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }
}
