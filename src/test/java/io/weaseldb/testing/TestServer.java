package io.weaseldb.testing;

import io.weaseldb.WeaselServer;
import io.weaseldb.config.ConfigLoader;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.time.Clock;
import io.weaseldb.time.IdSource;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * A real WeaselDB server in the test JVM: the embedded fake S3 storing under a directory, HTTP on
 * a free loopback port, and a small HTTP/1.1 client for it.
 */
public final class TestServer implements AutoCloseable {
    private final WeaselServer server;
    private final HttpClient http;
    private final Path dataDir;
    private final String extraToml;

    private TestServer(WeaselServer server, Path dataDir, String extraToml) {
        this.server = server;
        this.dataDir = dataDir;
        this.extraToml = extraToml;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    /**
     * Starts a server storing under {@code dataDir}. {@code toml} may add sections or keys;
     * [server] and [s3] get their test values (port 0, the data dir, no fsync) unless overridden.
     */
    public static TestServer start(Path dataDir, String toml) throws Exception {
        return start(dataDir, toml, Clock.SYSTEM);
    }

    /** As {@link #start(Path, String)}, on the given clock. */
    public static TestServer start(Path dataDir, String toml, Clock clock) throws Exception {
        String config = toml;
        if (!config.contains("[server]")) {
            config = "[server]\nport = 0\n" + config;
        }
        String dataDirLine = "data_dir = \"" + dataDir.toString().replace("\\", "\\\\") + "\"\n";
        if (!config.contains("[s3]") && !config.contains("endpoint")) {
            config += "\n[s3]\n" + dataDirLine + "fsync = false\n";
        } else if (config.contains("[s3]\n") && !config.contains("endpoint") && !config.contains("data_dir")) {
            // An [s3] section that only tunes the embedded fake S3 still stores under the test's directory.
            config = config.replace("[s3]\n", "[s3]\n" + dataDirLine + (config.contains("fsync") ? "" : "fsync = false\n"));
        }
        WeaselConfig c = ConfigLoader.parse(config, "test");
        if (c.s3().embedded() && !c.s3().dataDir().toAbsolutePath().normalize()
                .startsWith(dataDir.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("a test server would store outside its directory " + dataDir
                    + ": under " + c.s3().dataDir().toAbsolutePath());
        }
        WeaselServer s = new WeaselServer(c, clock, IdSource.secure());
        try {
            s.start();
        } catch (Exception e) {
            s.close();
            throw e;
        }
        return new TestServer(s, dataDir, toml);
    }

    public static TestServer start(Path dataDir) throws Exception {
        return start(dataDir, "");
    }

    /** Stops this server and starts a new one on the same data (a new leader term). */
    public TestServer restart() throws Exception {
        close();
        return start(dataDir, extraToml);
    }

    public WeaselServer server() {
        return server;
    }

    public int port() {
        return server.port();
    }

    public URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port() + path);
    }

    public record Response(int status, String body, Map<String, Object> json) {
        public long version() {
            return (Long) json.get("version");
        }

        public Object get(String field) {
            return json.get(field);
        }
    }

    public Response get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET().build());
    }

    public Response post(String path, String body) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    public Response commit(String body) throws IOException, InterruptedException {
        return post("/v1/commit", body);
    }

    /** Any method, a JSON body or none, and a bearer token or none. */
    public Response call(String method, String path, String body, String bearerToken)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (bearerToken != null) {
            b.header("Authorization", "Bearer " + bearerToken);
        }
        return send(b.build());
    }

    public Response send(HttpRequest request) throws IOException, InterruptedException {
        if (closed) {
            throw new java.net.ConnectException("server closed");
        }
        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
        Map<String, Object> json = null;
        String type = r.headers().firstValue("content-type").orElse("");
        if (type.startsWith("application/json") && !r.body().isEmpty()) {
            json = Json.object(r.body());
        }
        return new Response(r.statusCode(), r.body(), json);
    }

    private boolean closed;

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            server.close();
            http.close();
        }
    }
}
