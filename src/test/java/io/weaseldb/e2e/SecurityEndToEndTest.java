package io.weaseldb.e2e;

import static io.weaseldb.testing.Json.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.ssl.util.SelfSignedCertificate;
import io.weaseldb.testing.RawHttp;
import io.weaseldb.testing.TestServer;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Tokens and roles, TLS, and the limits against slow or oversized requests, over real TCP. */
@Timeout(120)
class SecurityEndToEndTest {
    static final String WRITER = "writer-token-0123456789";
    static final String READER = "reader-token-0123456789";
    static final String ADMIN = "admin-token-01234567890";

    @TempDir
    Path dir;

    static String tokens() {
        return "[[security.tokens]]\nname = \"writer\"\ntoken = \"" + WRITER + "\"\nroles = [\"commit\"]\n"
                + "[[security.tokens]]\nname = \"reader\"\ntoken_sha256 = \"" + sha256Hex(READER) + "\"\nroles = [\"subscribe\"]\n"
                + "[[security.tokens]]\nname = \"admin\"\ntoken = \"" + ADMIN + "\"\nroles = [\"admin\"]\n";
    }

    static String sha256Hex(String s) {
        return java.util.HexFormat.of().formatHex(io.weaseldb.config.ConfigLoader.sha256(s));
    }

    /** One request of each endpoint, with the role it needs (null: any token; "none": no token needed). */
    record Call(String method, String path, String body, String role) {}

    static final List<Call> CALLS = List.of(
            new Call("GET", "/v1/version", null, null),
            new Call("POST", "/v1/commit", "{\"operations\":[" + write("k", "v") + "]}", "commit"),
            new Call("GET", "/v1/status?request_id=some-request-id-000000000001", null, "commit"),
            new Call("GET", "/v1/retention/", null, "admin"),
            new Call("PUT", "/v1/retention/p1", "{\"version\":0}", "admin"),
            new Call("GET", "/v1/retention/p1", null, "admin"),
            new Call("DELETE", "/v1/retention/p1", null, "admin"),
            new Call("GET", "/metrics", null, "admin"),
            new Call("GET", "/ok", null, "none"));

    static String tokenFor(String role) {
        return switch (role) {
            case "commit" -> WRITER;
            case "subscribe" -> READER;
            default -> ADMIN;
        };
    }

    static int send(TestServer s, Call c, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(s.uri(c.path())).timeout(Duration.ofSeconds(10))
                .method(c.method(), c.body() == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(c.body()));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        var r = s.send(b.build());
        if (r.status() == 401 || r.status() == 403) {
            assertEquals(r.status() == 401 ? "unauthorized" : "forbidden", r.get("error"));
            assertTrue(!r.body().contains(token == null ? "\u0000" : token), "tokens never echoed");
        }
        return r.status();
    }

    @Test
    void everyEndpointNeedsATokenWithTheRightRole() throws Exception {
        try (TestServer s = TestServer.start(dir, tokens())) {
            for (Call c : CALLS) {
                String what = c.method() + " " + c.path();
                int anonymous = send(s, c, null);
                int bogus = send(s, c, "not-a-valid-token-at-all");
                if (c.role() != null && c.role().equals("none")) {
                    assertEquals(200, anonymous, what + " stays open for health checks");
                    continue;
                }
                assertEquals(401, anonymous, what + " without a token");
                assertEquals(401, bogus, what + " with an unknown token");
                if (c.role() == null) {
                    for (String t : List.of(WRITER, READER, ADMIN)) {
                        assertEquals(200, send(s, c, t), what + " with any valid token");
                    }
                    continue;
                }
                for (String role : List.of("commit", "subscribe", "admin")) {
                    int status = send(s, c, tokenFor(role));
                    if (role.equals(c.role())) {
                        assertTrue(status >= 200 && status < 300, what + " with the " + role + " role: " + status);
                    } else {
                        assertEquals(403, status, what + " with the " + role + " role");
                    }
                }
            }
            // subscribe: the reader may, the writer may not
            try (RawHttp raw = new RawHttp(s.port())) {
                raw.send("GET /v1/subscribe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + WRITER + "\r\n\r\n");
                assertEquals(403, raw.read().status());
            }
            try (RawHttp raw = new RawHttp(s.port())) {
                raw.send("GET /v1/subscribe HTTP/1.1\r\nHost: x\r\n\r\n");
                var r = raw.read();
                assertEquals(401, r.status());
                assertEquals("Bearer realm=\"weaseldb\"", r.header("www-authenticate"));
            }
            var sub = new java.net.Socket("127.0.0.1", s.port());
            sub.getOutputStream().write(("GET /v1/subscribe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + READER
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] head = new byte[12];
            assertEquals(12, sub.getInputStream().readNBytes(head, 0, 12));
            assertEquals("HTTP/1.1 200", new String(head, StandardCharsets.US_ASCII));
            sub.close();
            String metrics = s.send(HttpRequest.newBuilder(s.uri("/metrics")).header("Authorization", "Bearer " + ADMIN)
                    .build()).body();
            assertTrue(counted(metrics, "unauthorized"), "limits are counted");
            assertTrue(counted(metrics, "forbidden"));
        }
    }

    @Test
    void commitsOverTls() throws Exception {
        SelfSignedCertificate cert = new SelfSignedCertificate("localhost");
        try (TestServer s = TestServer.start(dir.resolve("data"), tlsSection(cert))) {
            SSLContext ssl = trusting(cert);
            try (HttpClient https = HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build()) {
                var r = https.send(HttpRequest.newBuilder(URI.create("https://localhost:" + s.port() + "/v1/commit"))
                        .POST(HttpRequest.BodyPublishers.ofString("{\"operations\":[" + write("over", "tls") + "]}")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), r.body());
                assertTrue(r.body().contains("\"status\":\"committed\""));
            }
            try (RawHttp plain = new RawHttp(s.port())) { // plain HTTP to a TLS port is refused
                plain.send(RawHttp.get("/v1/version"));
                assertTrue(plain.closedByServer());
            }
            try (HttpClient https = HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build()) {
                String metrics = https.send(HttpRequest.newBuilder(URI.create("https://localhost:" + s.port() + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                assertTrue(metrics.contains("weaseldb_http_rejected_total{reason=\"tls\"} 1.0"), "counted, not logged as a WARN");
            }
        } finally {
            cert.delete();
        }
    }

    @Test
    void aTlsClientBeyondMaxConnectionsGetsThe503OverTls() throws Exception {
        SelfSignedCertificate cert = new SelfSignedCertificate("localhost");
        try (TestServer s = TestServer.start(dir.resolve("data"), "[server]\nmax_connections = 1\n" + tlsSection(cert))) {
            SSLContext ssl = trusting(cert);
            try (SSLSocket held = (SSLSocket) ssl.getSocketFactory().createSocket("localhost", s.port())) {
                held.setSoTimeout(10_000);
                held.getOutputStream().write("GET /v1/version HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                held.getOutputStream().flush();
                assertTrue(readAnswer(held.getInputStream()).startsWith("HTTP/1.1 200"));
                try (SSLSocket extra = (SSLSocket) ssl.getSocketFactory().createSocket("localhost", s.port())) {
                    extra.setSoTimeout(10_000);
                    extra.startHandshake(); // failed with "wrong version number": the 503 came in clear text
                    String answer = new String(extra.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                    assertTrue(answer.startsWith("HTTP/1.1 503 Service Unavailable"), answer);
                    assertTrue(answer.contains("too many connections (max_connections reached)"), answer);
                }
                // One that never handshakes is closed after 1 s, not SslHandler's 10 s: refused
                // connections must not pile up.
                try (Socket silent = new Socket("localhost", s.port())) {
                    silent.setSoTimeout(8_000);
                    long start = System.nanoTime();
                    assertEquals(-1, silent.getInputStream().read(), "closed, with nothing sent");
                    assertTrue(System.nanoTime() - start < 6_000_000_000L, "closed by the refused connections' timeout");
                }
                // Neither a TCP-only probe (connect, close) nor a refused connection closed
                // before its handshake is a TLS failure.
                new Socket("localhost", s.port()).close();
                held.getOutputStream().write(("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                held.getOutputStream().flush();
                String metrics = readAnswer(held.getInputStream());
                assertTrue(counted(metrics, "max_connections"), metrics);
                assertFalse(counted(metrics, "tls"), metrics);
            }
        } finally {
            cert.delete();
        }
    }

    /** The [security] section serving {@code cert} (written under the test's directory). */
    private String tlsSection(SelfSignedCertificate cert) throws Exception {
        Path certFile = dir.resolve("cert.pem");
        Path keyFile = dir.resolve("key.pem");
        Files.copy(cert.certificate().toPath(), certFile);
        Files.copy(cert.privateKey().toPath(), keyFile);
        return "[security]\ntls_cert_file = \"" + certFile + "\"\ntls_key_file = \"" + keyFile + "\"\n";
    }

    /** A client context that trusts {@code cert} only. */
    private static SSLContext trusting(SelfSignedCertificate cert) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("weaseldb", cert.cert());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return ssl;
    }

    /** One HTTP/1.1 answer with a Content-Length body, read from {@code in}. */
    private static String readAnswer(InputStream in) throws java.io.IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.append((char) b);
        }
        var m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        int length = m.find() ? Integer.parseInt(m.group(1)) : 0;
        return head + new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    @Test
    void slowAndOversizedRequestsAreCutOffWhileOthersAreServed() throws Exception {
        String limits = "[server]\nport = 0\nheader_read_timeout_ms = 500\nbody_read_timeout_ms = 500\n"
                + "body_deadline_ms = 1500\nmax_header_bytes = 4096\n";
        try (TestServer s = TestServer.start(dir, limits)) {
            // slowloris: a request line, then headers that never end
            try (Socket slow = new Socket("127.0.0.1", s.port())) {
                slow.setSoTimeout(10_000);
                slow.getOutputStream().write("GET /v1/version HTTP/1.1\r\nHost: x\r\nX-Slow: a".getBytes(StandardCharsets.US_ASCII));
                long start = System.nanoTime();
                InputStream in = slow.getInputStream();
                String answer = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                long ms = (System.nanoTime() - start) / 1_000_000;
                assertTrue(answer.startsWith("HTTP/1.1 408"), answer);
                assertTrue(ms < 5_000, "closed after " + ms + " ms");
            }
            // a body that stalls halfway
            try (Socket stall = new Socket("127.0.0.1", s.port())) {
                stall.setSoTimeout(10_000);
                stall.getOutputStream().write(("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"oper")
                        .getBytes(StandardCharsets.US_ASCII));
                String answer = new String(stall.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                assertTrue(answer.startsWith("HTTP/1.1 408"), answer);
            }
            // a body that never stalls long enough for body_read_timeout_ms, but never ends either
            try (Socket trickle = new Socket("127.0.0.1", s.port())) {
                trickle.setSoTimeout(10_000);
                var out = trickle.getOutputStream();
                out.write("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{".getBytes(StandardCharsets.US_ASCII));
                InputStream in = trickle.getInputStream();
                for (int i = 0; i < 100 && in.available() == 0; i++) { // a byte every 100 ms, for 10 s at most
                    Thread.sleep(100);
                    try {
                        out.write(' ');
                    } catch (java.io.IOException closed) {
                        break;
                    }
                }
                try {
                    String answer = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                    assertTrue(answer.startsWith("HTTP/1.1 408"), answer);
                } catch (java.net.SocketException reset) {
                    // a byte written just as the server closed can turn its close into a reset that
                    // overtakes the 408 here; the server's own count says what it did
                    try (RawHttp metrics = new RawHttp(s.port())) {
                        metrics.send(RawHttp.get("/metrics"));
                        assertTrue(metrics.read().body().contains("weaseldb_http_rejected_total{reason=\"body_deadline\"} 1.0"));
                    }
                }
            }
            // a header bomb
            try (RawHttp bomb = new RawHttp(s.port())) {
                StringBuilder headers = new StringBuilder();
                for (int i = 0; i < 500; i++) {
                    headers.append("X-H").append(i).append(": ").append("v".repeat(20)).append("\r\n");
                }
                bomb.send("GET /v1/version HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
                assertEquals(431, bomb.read().status());
                assertTrue(bomb.closedByServer());
            }
            // meanwhile a normal client is served, and a slow but steady body is fine
            assertEquals(200, s.commit("{\"operations\":[" + write("fine", "client") + "]}").status());
            try (RawHttp steady = new RawHttp(s.port())) {
                String body = "{\"operations\":[" + write("steady", "body") + "]}";
                steady.send("POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n");
                for (char ch : body.toCharArray()) {
                    steady.send(String.valueOf(ch));
                    Thread.sleep(5); // a slow client on purpose, well inside body_read_timeout_ms per byte
                }
                assertEquals(200, steady.read().status());
            }
            Map<String, Object> unused = Map.of();
            assertTrue(unused.isEmpty());
        }
    }

    /** Whether weaseldb_http_rejected_total{reason} has counted (every reason is exposed from the start, at 0). */
    static boolean counted(String metrics, String reason) {
        String series = "weaseldb_http_rejected_total{reason=\"" + reason + "\"} ";
        return metrics.lines().anyMatch(l -> l.startsWith(series) && Double.parseDouble(l.substring(series.length())) >= 1);
    }
}
