package io.weaseldb.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The packaged server jar as a child process (for crash and failover tests), with its log kept. */
final class ServerProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("WeaselDB listening on http://127\\.0\\.0\\.1:(\\d+)");
    private final Process process;
    private final int port;
    private final List<String> output;

    private ServerProcess(Process process, int port, List<String> output) {
        this.process = process;
        this.port = port;
        this.output = output;
    }

    static Path jar() {
        return Path.of(System.getProperty("weaseldb.jar", "target/weaseldb.jar"));
    }

    static ServerProcess start(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar().toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        List<String> output = java.util.Collections.synchronizedList(new ArrayList<>());
        CompletableFuture<Integer> port = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    output.add(line);
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        port.complete(Integer.parseInt(m.group(1)));
                    }
                }
            } catch (IOException ignored) {
                // process gone
            }
            port.completeExceptionally(new IOException("server exited before listening:\n" + String.join("\n", output)));
        }, "server-output");
        reader.setDaemon(true);
        reader.start();
        try {
            return new ServerProcess(p, port.get(90, TimeUnit.SECONDS), output);
        } catch (Exception e) {
            p.destroyForcibly();
            throw e;
        }
    }

    int port() {
        return port;
    }

    String log() {
        synchronized (output) {
            return String.join("\n", output);
        }
    }

    /** SIGKILL: no shutdown hook, no flush, nothing. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            kill();
        }
    }
}
