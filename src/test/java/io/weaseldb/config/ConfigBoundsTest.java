package io.weaseldb.config;

import static io.weaseldb.config.ConfigLoaderTest.error;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The edges of the configuration rules: limits that may be equal, defaults that depend on another
 * key, typos in every section, and error messages that say what was given. Each test here was
 * written against a mutant PIT found surviving the rest of the suite.
 */
class ConfigBoundsTest {
    private static final String REAL_S3 =
            "[s3]\nendpoint = \"http://127.0.0.1:9000\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\n";

    private static WeaselConfig parse(String toml) {
        return ConfigLoader.parse(toml, "t.toml");
    }

    @Test
    void theLeaderHeartbeatIsOffWithTheEmbeddedStoreAndOnWithARealOne() {
        // docs/api.md: 1000 ms with a real S3, 0 with the embedded fake S3
        WeaselConfig embedded = ConfigLoader.defaults();
        assertTrue(embedded.s3().embedded());
        assertEquals(0, embedded.persistence().leaderHeartbeatMs());
        WeaselConfig real = parse(REAL_S3);
        assertFalse(real.s3().embedded());
        assertEquals(1_000, real.persistence().leaderHeartbeatMs());
        assertEquals(5_000, real.persistence().leaderTimeoutMs());
    }

    @Test
    void limitsThatMayBeEqualAreAcceptedAndOneBeyondIsRefused() {
        // a body of the largest size fits a budget of exactly that size
        assertEquals(65_536, parse("[server]\nmax_request_size_bytes = 65536\nmax_in_flight_request_bytes = 65536")
                .server().maxInFlightRequestBytes());
        // fixed-length request ids
        assertEquals(32, parse("[commit]\nmin_request_id_length = 32\nmax_request_id_length = 32").commit().minRequestIdLength());
        assertEquals("test.toml: [commit].min_request_id_length (33) must not exceed [commit].max_request_id_length (32)",
                error("[commit]\nmin_request_id_length = 33\nmax_request_id_length = 32"));
        // a constant backoff
        assertEquals(500, parse("[persistence]\nretry_initial_backoff_ms = 500\nretry_max_backoff_ms = 500")
                .persistence().retryMaxBackoffMs());
        // the leader timeout must cover two heartbeats: exactly two is enough, one ms less is not
        assertEquals(2_000, parse(REAL_S3 + "[persistence]\nleader_heartbeat_ms = 1000\nleader_timeout_ms = 2000")
                .persistence().leaderTimeoutMs());
        assertEquals("test.toml: [persistence].leader_timeout_ms (1999) must be at least twice"
                + " [persistence].leader_heartbeat_ms (1000)",
                error(REAL_S3 + "[persistence]\nleader_heartbeat_ms = 1000\nleader_timeout_ms = 1999"));
        // no heartbeat: the smallest timeout is fine
        assertEquals(100, parse(REAL_S3 + "[persistence]\nleader_heartbeat_ms = 0\nleader_timeout_ms = 100")
                .persistence().leaderTimeoutMs());
    }

    @Test
    void aTypoIsRefusedInEverySection() {
        assertEquals("test.toml: unknown configuration key [commit].max_key_byte (did you mean max_key_bytes?)",
                error("[commit]\nmax_key_byte = 5"));
        assertEquals("test.toml: unknown configuration key [persistence].batch_timeout_m (did you mean batch_timeout_ms?)",
                error("[persistence]\nbatch_timeout_m = 5"));
        assertEquals("test.toml: unknown configuration key [subscription].max_subscriber (did you mean max_subscribers?)",
                error("[subscription]\nmax_subscriber = 5"));
        assertEquals("test.toml: unknown configuration key [retention].truncate_interval_second"
                + " (did you mean truncate_interval_seconds?)", error("[retention]\ntruncate_interval_second = 5"));
        assertTrue(error("[security]\ntls_cert = \"x\"").startsWith("test.toml: unknown configuration key [security].tls_cert"));
        assertEquals("test.toml: unknown configuration key [security.tokens[0]].role (did you mean roles?)",
                error("[[security.tokens]]\nname = \"ci\"\ntoken = \"0123456789abcdef\"\nroles = [\"commit\"]\nrole = \"admin\""));
    }

    @Test
    void thePrefixGetsItsTrailingSlash() {
        assertEquals("prod/", parse("[s3]\nprefix = \"prod\"").s3().prefix());
        assertEquals("prod/", parse("[s3]\nprefix = \"prod/\"").s3().prefix());
        assertEquals("", ConfigLoader.defaults().s3().prefix());
    }

    @Test
    void fakeFaultsNeedTheHttpTransportWhichTheyChooseByDefault() {
        assertFalse(ConfigLoader.defaults().s3().fakeOverHttp());
        assertTrue(parse("[s3]\nfake_faults = [\"put:500\"]").s3().fakeOverHttp());
        assertTrue(parse("[s3]\nfake_transport = \"http\"").s3().fakeOverHttp());
        assertEquals("test.toml: [s3].fake_faults act on HTTP requests; they need [s3].fake_transport = \"http\"",
                error("[s3]\nfake_transport = \"direct\"\nfake_faults = [\"put:500\"]"));
        assertEquals("test.toml: [s3].fake_transport must be \"direct\" or \"http\", got \"tcp\"",
                error("[s3]\nfake_transport = \"tcp\""));
    }

    @Test
    void fakeLayoutIsSegmentsOrFiles() {
        assertEquals("segments", ConfigLoader.defaults().s3().fakeLayout());
        assertEquals("files", parse("[s3]\nfake_layout = \"files\"").s3().fakeLayout());
        assertEquals("test.toml: [s3].fake_layout must be \"segments\" or \"files\", got \"log\"",
                error("[s3]\nfake_layout = \"log\""));
    }

    @Test
    void tokenNamesMayHaveSpacesAndSixteenCharactersIsLongEnough() {
        var t = parse("[[security.tokens]]\nname = \"ci writer\"\ntoken = \"0123456789abcdef\"\nroles = [\"commit\"]")
                .security();
        assertEquals("ci writer", t.tokens().get(0).name());
        assertTrue(t.authenticate());
        assertTrue(error("[[security.tokens]]\nname = \"ci\"\ntoken = \"0123456789abcde\"\nroles = [\"commit\"]")
                .contains("[security.tokens[0]].token is too short to be a secret (at least 16 characters)"));
        assertFalse(ConfigLoader.defaults().security().authenticate());
    }

    @Test
    void tlsFilesMustBeReadableAndAreKept(@TempDir Path dir) throws Exception {
        Path cert = Files.writeString(dir.resolve("cert.pem"), "x");
        Path key = Files.writeString(dir.resolve("key.pem"), "x");
        var sec = parse("[security]\ntls_cert_file = \"" + cert + "\"\ntls_key_file = \"" + key + "\"").security();
        assertTrue(sec.tls());
        assertEquals(cert, sec.tlsCertFile());
        assertEquals(key, sec.tlsKeyFile());
        Path missing = dir.resolve("missing.pem");
        assertEquals("test.toml: [security] TLS file " + missing + " is not readable",
                error("[security]\ntls_cert_file = \"" + cert + "\"\ntls_key_file = \"" + missing + "\""));
        var none = ConfigLoader.defaults().security();
        assertFalse(none.tls());
        assertNull(none.tlsCertFile());
        assertNull(none.tlsKeyFile());
    }

    @Test
    void errorsSayWhatWasGiven() {
        assertEquals("test.toml: unknown configuration section [sever]"
                + " (known: commit, persistence, retention, s3, security, server, subscription)", error("[sever]\nport = 1"));
        assertEquals("test.toml: [server].port must be an integer, got boolean true", error("[server]\nport = true"));
        assertEquals("test.toml: [server].port must be an integer, got an array", error("[server]\nport = [1]"));
        assertEquals("test.toml: [server].port must be an integer, got a table", error("[server]\nport = {a = 1}"));
        // a space is printable: only control characters are escaped
        assertEquals("\" a\\u001f\"", ConfigLoader.quoted(" a\u001f"));
        // a typo of a short key is one edit at most; two edits are another word
        assertEquals("test.toml: unknown configuration key [server].hoxx", error("[server]\nhoxx = 1"));
        assertEquals("java.io.IOException", ConfigLoader.reason(new java.io.IOException()));
    }

    @Test
    void theEditDistanceCountsInsertionsDeletionsAndSwaps() {
        for (Object[] c : List.of(new Object[] {"", "abc", 3}, new Object[] {"abc", "", 3}, new Object[] {"ab", "ba", 1},
                new Object[] {"port", "prot", 1}, new Object[] {"kitten", "sitting", 3}, new Object[] {"abc", "abc", 0})) {
            assertEquals(c[2], TomlSection.editDistance((String) c[0], (String) c[1]), c[0] + " -> " + c[1]);
        }
    }
}
