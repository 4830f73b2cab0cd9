package io.weaseldb.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.tomlj.Toml;
import org.tomlj.TomlParseResult;

/**
 * Reads the TOML configuration into a validated {@link WeaselConfig}. Every key has a default
 * (see {@code config/weaseldb.toml}); unknown sections and keys are errors naming the key.
 */
public final class ConfigLoader {
    private static final Set<String> SECTIONS =
            Set.of("server", "commit", "persistence", "s3", "subscription", "retention", "security");

    private ConfigLoader() {}

    public static WeaselConfig defaults() {
        return parse("", "built-in defaults");
    }

    public static WeaselConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException("cannot read configuration file " + file + ": " + reason(e));
        }
        return parse(text, file.toString());
    }

    /** Why a file could not be read, in words: NIO's exceptions carry only the path. */
    public static String reason(IOException e) {
        String why = switch (e) {
            case java.nio.file.NoSuchFileException n -> "no such file or directory";
            case java.nio.file.AccessDeniedException a -> "permission denied";
            case java.nio.file.FileAlreadyExistsException x -> "exists and is not a directory";
            case java.nio.file.NotDirectoryException d -> "a part of the path is not a directory";
            case java.nio.charset.CharacterCodingException c -> "not valid UTF-8";
            default -> null;
        };
        if (why == null) {
            return e.getMessage() == null ? e.toString() : e.getMessage();
        }
        String file = e instanceof java.nio.file.FileSystemException f && f.getFile() != null ? f.getFile() : null;
        return file == null ? why : why + " (" + file + ")";
    }

    public static WeaselConfig parse(String toml, String source) {
        TomlParseResult result = Toml.parse(toml);
        if (result.hasErrors()) {
            var e = result.errors().get(0);
            throw new ConfigException(source + ": TOML syntax error at line " + e.position().line()
                    + ", column " + e.position().column() + ": " + e.getMessage());
        }
        for (String k : result.keySet()) {
            if (!result.isTable(k) && !SECTIONS.contains(k)) {
                throw new ConfigException(source + ": configuration key \"" + k + "\" is outside any section;"
                        + " every key belongs under one (known: " + knownSections() + "), e.g. [server] above port = 8080");
            }
            if (!SECTIONS.contains(k)) {
                throw new ConfigException(source + ": unknown configuration section [" + k + "] (known: " + knownSections() + ")");
            }
            if (!result.isTable(k)) {
                throw new ConfigException(source + ": [" + k + "] must be a table");
            }
        }
        try {
            return build(result);
        } catch (ConfigException e) {
            throw new ConfigException(source + ": " + e.getMessage());
        }
    }

    /** The sections a file may have, sorted, for error messages. */
    private static String knownSections() {
        return String.join(", ", new java.util.TreeSet<>(SECTIONS));
    }

    /** A string key that must not be empty or blank when given. */
    private static String nonBlank(TomlSection s, String key, String def, String example) {
        String v = s.getString(key, def);
        if (v.isBlank()) {
            throw new ConfigException(s.key(key) + " must not be empty (" + example + ")");
        }
        return v;
    }

    /** Whether [s3].endpoint is empty (the embedded fake S3), which changes a few defaults. */
    private static boolean embeddedDefault(TomlParseResult r) {
        // through a section, so a value of the wrong type is the usual one-line error (not an
        // exception escaping the loader)
        return new TomlSection("s3", r.getTable("s3")).getString("endpoint", "").isEmpty();
    }

    /** {@code v} in quotes, escaped so that an error stays one line whatever the value holds. */
    static String quoted(String v) {
        StringBuilder b = new StringBuilder(v.length() + 2).append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '"', '\\' -> b.append('\\').append(c);
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    /** {@code value} parsed as an http(s) URL with a host, or a ConfigException naming {@code key}. */
    private static void requireUrl(String key, String value) {
        java.net.URI u;
        try {
            u = new java.net.URI(value);
        } catch (java.net.URISyntaxException e) {
            throw new ConfigException(key + " is not a valid URL: " + quoted(value) + " (" + e.getReason() + ")");
        }
        if (u.getHost() == null || u.getHost().isEmpty()) {
            throw new ConfigException(key + " must name a host, e.g. \"http://host:9000\", got " + quoted(value));
        }
    }

    private static WeaselConfig build(TomlParseResult r) {
        TomlSection s = new TomlSection("server", r.getTable("server"));
        var server = new WeaselConfig.Server(
                nonBlank(s, "host", "127.0.0.1", "an address such as \"127.0.0.1\" or \"0.0.0.0\""),
                s.getInt("port", 8080, 0, 65535),
                s.getInt("io_threads", 0, 0, 256),
                s.getLong("max_request_size_bytes", 1L << 20, 256, 1L << 30),
                s.getLong("max_in_flight_request_bytes", 64L << 20, 256, 1L << 40),
                s.getInt("max_connections", 10_000, 1, 1_000_000),
                s.getInt("max_header_bytes", 16 << 10, 1024, 1 << 20),
                s.getInt("max_pipelined_requests", 64, 1, 65_536),
                s.getInt("idle_timeout_seconds", 300, 0, 86_400),
                s.getInt("shutdown_grace_ms", 5_000, 0, 600_000),
                s.getString("advertise_url", ""),
                s.getInt("header_read_timeout_ms", 10_000, 0, 3_600_000),
                s.getInt("body_read_timeout_ms", 30_000, 0, 3_600_000),
                s.getInt("body_deadline_ms", 60_000, 0, 86_400_000),
                s.getBoolean("access_log", false));
        if (server.maxInFlightRequestBytes() < server.maxRequestSizeBytes()) {
            throw new ConfigException(s.key("max_in_flight_request_bytes") + " (" + server.maxInFlightRequestBytes()
                    + ") must be at least max_request_size_bytes (" + server.maxRequestSizeBytes()
                    + "), or a commit of the largest size could never be received");
        }
        if (!server.advertiseUrl().isEmpty() && !server.advertiseUrl().matches("https?://.+")) {
            throw new ConfigException(s.key("advertise_url") + " must be an http:// or https:// URL, got "
                    + quoted(server.advertiseUrl()));
        }
        if (!server.advertiseUrl().isEmpty()) {
            requireUrl(s.key("advertise_url"), server.advertiseUrl());
        }
        s.rejectUnknownKeys();

        TomlSection c = new TomlSection("commit", r.getTable("commit"));
        var commit = new WeaselConfig.Commit(
                c.getInt("min_request_id_length", 20, 1, 1024),
                c.getInt("max_request_id_length", 256, 1, 4096),
                c.getInt("max_key_bytes", 10_240, 1, 1 << 20),
                c.getInt("max_preconditions", 10_000, 0, 1_000_000),
                c.getInt("max_operations", 10_000, 0, 1_000_000),
                c.getLong("conflict_window_ms", 5_000, 1, 3_600_000),
                c.getInt("request_id_retention_hours", 24, 1, 24 * 365),
                c.getLong("request_id_retention_versions", 1_000_000, 1, 1L << 31),
                c.getInt("max_pending_commits", 65_536, 16, 1 << 24));
        if (commit.minRequestIdLength() > commit.maxRequestIdLength()) {
            throw new ConfigException(c.key("min_request_id_length") + " (" + commit.minRequestIdLength()
                    + ") must not exceed " + c.key("max_request_id_length") + " (" + commit.maxRequestIdLength() + ")");
        }
        c.rejectUnknownKeys();

        TomlSection p = new TomlSection("persistence", r.getTable("persistence"));
        var persistence = new WeaselConfig.Persistence(
                p.getLong("batch_timeout_ms", 2, 0, 60_000),
                p.getLong("batch_max_bytes", 4L << 20, 1024, 1L << 30),
                p.getInt("max_in_flight_puts", 8, 1, 1024),
                p.getLong("retry_initial_backoff_ms", 20, 1, 60_000),
                p.getLong("retry_max_backoff_ms", 2_000, 1, 600_000),
                p.getLong("retry_budget_ms", 10_000, 1, 3_600_000),
                p.getLong("leader_heartbeat_ms", embeddedDefault(r) ? 0 : 1_000, 0, 3_600_000),
                p.getLong("leader_timeout_ms", 5_000, 100, 3_600_000));
        if (persistence.leaderHeartbeatMs() > 0 && persistence.leaderTimeoutMs() < 2 * persistence.leaderHeartbeatMs()) {
            throw new ConfigException(p.key("leader_timeout_ms") + " (" + persistence.leaderTimeoutMs()
                    + ") must be at least twice " + p.key("leader_heartbeat_ms") + " (" + persistence.leaderHeartbeatMs() + ")");
        }
        if (persistence.retryInitialBackoffMs() > persistence.retryMaxBackoffMs()) {
            throw new ConfigException(p.key("retry_initial_backoff_ms") + " must not exceed " + p.key("retry_max_backoff_ms"));
        }
        p.rejectUnknownKeys();

        TomlSection s3 = new TomlSection("s3", r.getTable("s3"));
        String endpoint = s3.getString("endpoint", "");
        if (!endpoint.isEmpty() && !endpoint.startsWith("http://") && !endpoint.startsWith("https://")) {
            throw new ConfigException(s3.key("endpoint") + " must start with http:// or https://, got " + quoted(endpoint));
        }
        if (!endpoint.isEmpty()) {
            requireUrl(s3.key("endpoint"), endpoint);
        }
        String bucket = s3.getString("bucket", "weaseldb");
        if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]") || bucket.contains("..") || bucket.contains(".-")
                || bucket.contains("-.") || bucket.matches("\\d+\\.\\d+\\.\\d+\\.\\d+")) {
            throw new ConfigException(s3.key("bucket") + " is not a valid S3 bucket name: " + quoted(bucket) + " (3 to 63"
                    + " characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit, no \"..\", \".-\""
                    + " or \"-.\", not an IP address)");
        }
        String prefix = s3.getString("prefix", "");
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            prefix = prefix + "/";
        }
        if (prefix.startsWith("/")) {
            throw new ConfigException(s3.key("prefix") + " must not start with '/'");
        }
        String accessKey = s3.getString("access_key_id", "");
        String secretKey = s3.getString("secret_access_key", "");
        if (accessKey.isEmpty() != secretKey.isEmpty()) {
            throw new ConfigException(s3.key("access_key_id") + " and " + s3.key("secret_access_key")
                    + " must be set together (or both left empty for the AWS SDK default credential chain)");
        }
        List<String> fakeFaults = s3.getStringList("fake_faults", List.of());
        String transport = s3.getString("fake_transport", fakeFaults.isEmpty() ? "direct" : "http");
        if (!transport.equals("direct") && !transport.equals("http")) {
            throw new ConfigException(s3.key("fake_transport") + " must be \"direct\" or \"http\", got " + quoted(transport));
        }
        if (transport.equals("direct") && !fakeFaults.isEmpty()) {
            throw new ConfigException(s3.key("fake_faults") + " act on HTTP requests; they need "
                    + s3.key("fake_transport") + " = \"http\"");
        }
        String layout = s3.getString("fake_layout", "segments");
        if (!layout.equals("segments") && !layout.equals("files")) {
            throw new ConfigException(s3.key("fake_layout") + " must be \"segments\" or \"files\", got " + quoted(layout));
        }
        String region = s3.getString("region", "us-east-1");
        if (region.isBlank()) {
            throw new ConfigException(s3.key("region") + " must not be empty (e.g. \"us-east-1\")");
        }
        var s3c = new WeaselConfig.S3(
                endpoint,
                region,
                bucket,
                prefix,
                accessKey,
                secretKey,
                s3.getBoolean("create_bucket", endpoint.isEmpty()),
                s3.getLong("request_timeout_ms", 10_000, 100, 600_000),
                s3.getInt("max_connections", 64, 1, 4096),
                Path.of(nonBlank(s3, "data_dir", "./data", "a directory such as \"./data\"")),
                s3.getBoolean("fsync", true),
                layout,
                s3.getInt("fake_port", 0, 0, 65535),
                fakeFaults,
                transport.equals("http"));
        if (s3c.embedded() && s3c.fakePort() != 0 && s3c.fakePort() == server.port()) {
            throw new ConfigException(s3.key("fake_port") + " (" + s3c.fakePort() + ") must differ from "
                    + s.key("port") + ": the embedded fake S3 and the server cannot listen on the same port");
        }
        if (s3c.maxConnections() < persistence.maxInFlightPuts() + 2) {
            throw new ConfigException(s3.key("max_connections") + " (" + s3c.maxConnections() + ") must be at least "
                    + p.key("max_in_flight_puts") + " + 2 (" + (persistence.maxInFlightPuts() + 2) + "): every log write"
                    + " in flight needs a connection of its own, and history replays and retention share the rest");
        }
        s3.rejectUnknownKeys();

        TomlSection sub = new TomlSection("subscription", r.getTable("subscription"));
        var subscription = new WeaselConfig.Subscription(
                sub.getLong("max_buffer_size_bytes", 10L << 20, 1024, 1L << 34),
                sub.getInt("keepalive_interval_seconds", 30, 1, 3600),
                sub.getInt("max_subscribers", 10_000, 0, 1_000_000),
                sub.getInt("history_read_ahead_batches", 4, 1, 256),
                sub.getLong("memory_window_bytes", 64L << 20, 0, 1L << 36),
                sub.getLong("history_memory_bytes", 64L << 20, 1L << 20, 1L << 36));
        sub.rejectUnknownKeys();

        TomlSection ret = new TomlSection("retention", r.getTable("retention"));
        var retention = new WeaselConfig.Retention(
                ret.getInt("truncate_interval_seconds", 60, 1, 86_400),
                ret.getInt("max_deletes_per_request", 1000, 1, 1000));
        ret.rejectUnknownKeys();

        TomlSection sec = new TomlSection("security", r.getTable("security"));
        List<WeaselConfig.Token> tokens = new java.util.ArrayList<>();
        java.util.Set<String> names = new java.util.HashSet<>();
        // hex SHA-256 -> the entry that gave it: a secret given twice would count only one entry's roles
        java.util.Map<String, String> secrets = new java.util.HashMap<>();
        for (TomlSection t : sec.getTableList("tokens")) {
            String name = t.getString("name", "");
            if (name.isBlank() || !names.add(name)) {
                throw new ConfigException(t.key("name") + " must be set and unique (configuration errors name the entry by it; the token itself is never shown)");
            }
            if (name.chars().anyMatch(ch -> ch < 0x20 || ch == 0x7f)) {
                throw new ConfigException(t.key("name") + " must be printable: one line, no control characters");
            }
            String plain = t.getString("token", "");
            String hash = t.getString("token_sha256", "");
            byte[] sha256;
            if (plain.isEmpty() == hash.isEmpty()) {
                throw new ConfigException(t.key("token") + " or " + t.key("token_sha256") + ": exactly one is required");
            }
            if (!plain.isEmpty()) {
                if (plain.length() < 16) {
                    throw new ConfigException(t.key("token") + " is too short to be a secret (at least 16 characters)");
                }
                String unusable = unusableToken(plain);
                if (unusable != null) {
                    throw new ConfigException(t.key("token") + " (token \"" + name + "\") " + unusable
                            + ": no client could present it (the presented token is trimmed, and read as ASCII)."
                            + " Use printable ASCII, e.g. what openssl rand -base64 32 makes");
                }
                sha256 = sha256(plain);
            } else {
                if (!hash.matches("[0-9a-fA-F]{64}")) {
                    throw new ConfigException(t.key("token_sha256") + " must be 64 hex digits (the SHA-256 of the token)");
                }
                sha256 = java.util.HexFormat.of().parseHex(hash);
            }
            String which = t.key(plain.isEmpty() ? "token_sha256" : "token") + " (token \"" + name + "\")";
            String first = secrets.putIfAbsent(java.util.HexFormat.of().formatHex(sha256), which);
            if (first != null) {
                throw new ConfigException(which + " is the same secret as " + first
                        + ": a request with it would get only one entry's roles. Give each secret once, with all its roles");
            }
            java.util.EnumSet<WeaselConfig.Role> roles = java.util.EnumSet.noneOf(WeaselConfig.Role.class);
            for (String role : t.getStringList("roles", List.of())) {
                try {
                    roles.add(WeaselConfig.Role.valueOf(role.toUpperCase(java.util.Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(t.key("roles") + ": unknown role " + quoted(role) + " (known: commit, subscribe, admin)");
                }
            }
            if (roles.isEmpty()) {
                throw new ConfigException(t.key("roles") + " must name at least one of commit, subscribe, admin");
            }
            t.rejectUnknownKeys();
            tokens.add(new WeaselConfig.Token(name, sha256, java.util.Collections.unmodifiableSet(roles)));
        }
        String cert = sec.getString("tls_cert_file", "");
        String key = sec.getString("tls_key_file", "");
        for (String k : List.of("tls_cert_file", "tls_key_file")) {
            String v = k.equals("tls_cert_file") ? cert : key;
            if (!v.isEmpty() && v.isBlank()) {
                throw new ConfigException(sec.key(k) + " must not be blank (a PEM file's path, or leave both TLS keys out)");
            }
        }
        if (cert.isEmpty() != key.isEmpty()) {
            throw new ConfigException(sec.key("tls_cert_file") + " and " + sec.key("tls_key_file") + " must be set together");
        }
        for (String f : List.of(cert, key)) {
            if (!f.isEmpty() && !java.nio.file.Files.isReadable(Path.of(f))) {
                throw new ConfigException("[security] TLS file " + f + " is not readable");
            }
        }
        sec.rejectUnknownKeys();
        var security = new WeaselConfig.Security(List.copyOf(tokens), cert.isEmpty() ? null : Path.of(cert),
                key.isEmpty() ? null : Path.of(key));

        return new WeaselConfig(server, commit, persistence, s3c, subscription, retention, security);
    }

    /**
     * Why {@code token} can never be presented, or null if it can. The server trims the presented
     * token and reads headers as Latin-1 while the configured one is hashed as UTF-8, so
     * whitespace at either end, a control character or a non-ASCII character makes a token that
     * never authenticates. Anything else a header can carry is accepted, RFC 6750's b64token or
     * not: tokens such as {@code Tr0ub4dor&3} worked before this check and must keep working. The
     * message does not repeat the token.
     */
    static String unusableToken(String token) {
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            boolean edge = i == 0 || i == token.length() - 1;
            if (edge && (Character.isWhitespace(c) || Character.isSpaceChar(c))) {
                return "has whitespace at character " + (i + 1);
            }
            if (c < 0x20 || c == 0x7F) {
                return "has a control character at character " + (i + 1);
            }
            if (c > 0x7E) {
                return "has a non-ASCII character at character " + (i + 1);
            }
        }
        return null;
    }

    /** SHA-256 of a token's UTF-8 bytes. */
    public static byte[] sha256(String token) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }
}
