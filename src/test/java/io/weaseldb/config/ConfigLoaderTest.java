package io.weaseldb.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {
    @Test
    void defaultsMatchTheDocumentedValues() {
        WeaselConfig c = ConfigLoader.defaults();
        assertEquals(8080, c.server().port());
        assertEquals(1 << 20, c.server().maxRequestSizeBytes());
        assertEquals(64L << 20, c.server().maxInFlightRequestBytes());
        assertEquals(20, c.commit().minRequestIdLength());
        assertEquals(5000, c.commit().conflictWindowMs());
        assertEquals(10L << 20, c.subscription().maxBufferSizeBytes());
        assertEquals(30, c.subscription().keepaliveIntervalSeconds());
        assertTrue(c.s3().embedded());
        assertEquals(Path.of("./data"), c.s3().dataDir());
    }

    @Test
    void theShippedConfigFileParsesToTheDefaults() throws Exception {
        Path shipped = Path.of("config/weaseldb.toml");
        assertTrue(Files.exists(shipped), "config/weaseldb.toml documents every key");
        assertEquals(ConfigLoader.defaults(), ConfigLoader.load(shipped));
    }

    @Test
    void everyShippedExampleConfigIsValid() throws Exception {
        try (var files = Files.list(Path.of("config"))) {
            List<Path> shipped = files.filter(f -> f.toString().endsWith(".toml")).toList();
            // weaseldb.toml, s3.toml (production), dev.toml, bench.toml: an empty listing proves nothing
            assertTrue(shipped.size() >= 4, shipped.toString());
            for (Path p : shipped) {
                WeaselConfig c = ConfigLoader.load(p);
                assertTrue(c.server().port() >= 0 && !c.server().host().isBlank(), p.toString());
            }
        }
    }

    static String error(String toml) {
        return assertThrows(ConfigException.class, () -> ConfigLoader.parse(toml, "test.toml")).getMessage();
    }

    @Test
    void unknownKeysAndSectionsAreErrorsNamingTheKey() {
        assertEquals("test.toml: unknown configuration key [server].prot (did you mean port?)", error("[server]\nprot = 1"));
        assertEquals("test.toml: unknown configuration key [s3].fsycn (did you mean fsync?)", error("[s3]\nfsycn = true"));
        assertEquals("test.toml: unknown configuration key [commit].Conflict_Window_MS (did you mean conflict_window_ms?)",
                error("[commit]\nConflict_Window_MS = 5"));
        assertEquals("test.toml: unknown configuration key [server].colour", error("[server]\ncolour = 1"), "no guess for another word");
        assertTrue(error("[sever]\nport = 1").startsWith("test.toml: unknown configuration section [sever]"));
    }

    @Test
    void aKeyOutsideAnySectionIsNamedAsSuch() {
        String e = error("port = 8080\n[server]\nhost = \"127.0.0.1\"");
        assertTrue(e.startsWith("test.toml: configuration key \"port\" is outside any section"), e);
    }

    @Test
    void operatorMistakesThatUsedToPassAreRefusedAtLoad() {
        assertEquals("test.toml: [server].host must not be empty (an address such as \"127.0.0.1\" or \"0.0.0.0\")",
                error("[server]\nhost = \"\""));
        // 0 hours would forget every request id at once: no idempotent retries, no log floor
        assertTrue(error("[commit]\nrequest_id_retention_hours = 0").contains("[commit].request_id_retention_hours must be between 1"));
    }

    @Test
    void theDefaultAdvertisedUrlFollowsTls() {
        WeaselConfig.Server s = ConfigLoader.defaults().server();
        assertEquals("http://127.0.0.1:8181", s.url(8181, false));
        assertEquals("https://127.0.0.1:8181", s.url(8181, true));
        WeaselConfig.Server set = ConfigLoader.parse("[server]\nadvertise_url = \"https://db.example:443\"", "t").server();
        assertEquals("https://db.example:443", set.url(8181, false));
    }

    @Test
    void badValuesAreErrorsNamingTheKey() {
        assertEquals("test.toml: [server].port must be an integer, got string \"80\"", error("[server]\nport = \"80\""));
        assertEquals("test.toml: [server].port must be between 0 and 65535, got 70000", error("[server]\nport = 70000"));
        assertTrue(error("[s3]\nendpoint = \"localhost:9000\"").contains("[s3].endpoint must start with http://"));
        assertTrue(error("[s3]\naccess_key_id = \"x\"").contains("must be set together"));
        assertTrue(error("[s3]\nbucket = \"Bad_Bucket\"").contains("[s3].bucket is not a valid S3 bucket name"));
        assertTrue(error("[server]\nmax_request_size_bytes = 65536\nmax_in_flight_request_bytes = 65535")
                .contains("[server].max_in_flight_request_bytes (65535) must be at least max_request_size_bytes (65536)"));
        assertTrue(error("[server\n").startsWith("test.toml: TOML syntax error at line 1"));
        assertEquals("test.toml: [s3].region must not be empty (e.g. \"us-east-1\")",
                error("[s3]\nendpoint = \"http://127.0.0.1:9000\"\nregion = \"\""));
    }

    private static String token(String name, String key, String value, String roles) {
        return "[[security.tokens]]\nname = \"" + name + "\"\n" + key + " = \"" + value + "\"\nroles = [" + roles + "]\n";
    }

    @Test
    void aSecretGivenTwiceIsRefusedNamingBothEntries() {
        // before: both loaded, and a request with it got the last entry's roles only
        String secret = "the-same-secret-0123456789";
        String hex = java.util.HexFormat.of().formatHex(ConfigLoader.sha256(secret));
        String e = error(token("writer", "token", secret, "\"commit\"") + token("reader", "token", secret, "\"subscribe\""));
        assertEquals("test.toml: [security.tokens[1]].token (token \"reader\") is the same secret as"
                + " [security.tokens[0]].token (token \"writer\"): a request with it would get only one entry's roles."
                + " Give each secret once, with all its roles", e);
        e = error(token("writer", "token", secret, "\"commit\"") + token("ops", "token_sha256", hex.toUpperCase(), "\"admin\""));
        assertTrue(e.startsWith("test.toml: [security.tokens[1]].token_sha256 (token \"ops\") is the same secret as"
                + " [security.tokens[0]].token (token \"writer\")"), e);
        assertEquals(2, ConfigLoader.parse(token("writer", "token", secret, "\"commit\"")
                + token("reader", "token", secret + "x", "\"subscribe\""), "t").security().tokens().size());
    }

    @Test
    void aTokenNoClientCouldPresentIsRefusedNamingTheEntry() {
        // the presented token is trimmed and read as Latin-1; the configured one was hashed as UTF-8
        String rule = ": no client could present it (the presented token is trimmed, and read as ASCII)";
        for (String[] bad : new String[][] {
                {" leading-space-0123456789", "has whitespace at character 1"},
                {"trailing-space-0123456789 ", "has whitespace at character 26"},
                {"caf\u00e9-token-0123456789", "has a non-ASCII character at character 4"},
                {"tab\\tinside-token-0123456789", "has a control character at character 4"}}) {
            String e = error(token("client", "token", bad[0], "\"commit\""));
            assertTrue(e.startsWith("test.toml: [security.tokens[0]].token (token \"client\") " + bad[1] + rule), e);
        }
        // what openssl rand -base64/-hex make, and tokens outside b64token that clients present
        // fine (review 23: these loaded before the check, and must keep loading)
        for (String good : List.of("q0Jf+3kZ/8a9Lx2Vt6Yw1Rb5Nc7Hd4Ge0Mp3Ss9Uu2=", "a-b.c_d~e+f/g-0123456789==",
                "Tr0ub4dor&3-horse!battery#staple", "wdb:prod:writer:7a1c0e9f", "inner space-0123456789",
                "pad=ding-token-0123456789")) {
            assertEquals(1, ConfigLoader.parse(token("client", "token", good, "\"commit\""), "t").security().tokens().size());
        }
    }

    /**
     * Audit 32: these escaped the loader as exceptions (exit 1 and a stack trace; the systemd
     * unit restarts such a server for ever, it stops only on exit 2) or started on the wrong
     * thing.
     */
    @Test
    void mistakesThatEscapedTheLoaderAreOneLineErrorsNamingTheKey() {
        assertTrue(error("[s3]\nendpoint = 5").contains("[s3].endpoint"), error("[s3]\nendpoint = 5"));
        assertTrue(error("[s3]\nendpoint = true").contains("[s3].endpoint"));
        String empty = error("[s3]\nendpoint = \"http://\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"");
        assertTrue(empty.contains("[s3].endpoint is not a valid URL: \"http://\""), empty);
        String noHost = error("[s3]\nendpoint = \"http://:9000\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"");
        assertTrue(noHost.contains("[s3].endpoint must name a host"), noHost);
        String space = error("[s3]\nendpoint = \"http://a b\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"");
        assertTrue(space.contains("[s3].endpoint is not a valid URL"), space);
        assertTrue(error("[server]\nadvertise_url = \"http://:80\"").contains("[server].advertise_url must name a host"));
        for (String bucket : List.of("a..b", "192.168.1.1", "ab.-c", "ab-.c")) {
            String e = error("[s3]\nbucket = \"" + bucket + "\"");
            assertTrue(e.contains("[s3].bucket is not a valid S3 bucket name"), bucket + ": " + e);
        }
        // an empty data_dir was the working directory: the store's files went among the user's
        assertTrue(error("[s3]\ndata_dir = \"\"").contains("[s3].data_dir must not be empty"));
        assertTrue(error("[server]\nport = 15002\n[s3]\nfake_port = 15002").contains("[s3].fake_port (15002) must differ"));
        String pool = error("[s3]\nmax_connections = 9");
        assertTrue(pool.contains("[s3].max_connections (9) must be at least [persistence].max_in_flight_puts + 2 (10)"), pool);
        ConfigLoader.parse("[s3]\nmax_connections = 10", "ok.toml"); // the smallest pool that works
    }

    @Test
    void aMissingOrUnreadableFileSaysWhy(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        String missing = assertThrows(ConfigException.class, () -> ConfigLoader.load(dir.resolve("nope.toml"))).getMessage();
        assertTrue(missing.endsWith(": no such file or directory (" + dir.resolve("nope.toml") + ")"), missing);
        Path latin1 = Files.write(dir.resolve("latin1.toml"), new byte[] {'#', ' ', (byte) 0xe9, '\n'});
        String bad = assertThrows(ConfigException.class, () -> ConfigLoader.load(latin1)).getMessage();
        assertTrue(bad.endsWith(": not valid UTF-8"), bad);
    }

    @Test
    void theDefaultUrlOfAnIpv6HostHasBrackets() {
        WeaselConfig c = ConfigLoader.parse("[server]\nhost = \"::1\"", "v6.toml");
        assertEquals("http://[::1]:15901", c.server().url(15901, false));
        assertEquals("https://127.0.0.1:8443", ConfigLoader.defaults().server().url(8443, true));
    }

    @Test
    void aPrintedConfigurationDoesNotShowTheSecretKey() {
        WeaselConfig c = ConfigLoader.parse("[s3]\nendpoint = \"http://minio:9000\"\naccess_key_id = \"AKIDEXAMPLE\"\n"
                + "secret_access_key = \"wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY\"", "s3.toml");
        assertTrue(!c.toString().contains("wJalrXUtnFEMI") && !c.s3().toString().contains("wJalrXUtnFEMI"), c.toString());
        assertTrue(c.s3().toString().contains("secretAccessKey=(set)"), c.s3().toString());
        assertEquals("wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY", c.s3().secretAccessKey(), "the value itself is kept");
    }

    @Test
    void blankTlsPathsAndTokenNamesSayWhatIsWrong() {
        String tls = error("[security]\ntls_cert_file = \"  \"\ntls_key_file = \"/k.pem\"");
        assertTrue(tls.contains("[security].tls_cert_file must not be blank"), tls);
        String token = "token = \"0123456789abcdef0123456789abcdef\"\nroles = [\"commit\"]";
        assertTrue(error("[[security.tokens]]\nname = \"  \"\n" + token).contains("name must be set and unique"));
        assertTrue(error("[[security.tokens]]\nname = \"a\\nb\"\n" + token).contains("name must be printable"));
    }

    @Test
    void errorsDoNotShowSecretsAndStayOnOneLine() {
        String e = error("[[security.tokens]]\nname = \"ci\"\ntoken = 12345678901234567\nroles = [\"commit\"]");
        assertTrue(e.contains("token must be a string, got a value of type long") && !e.contains("12345678901234567"), e);
        String s3 = error("[s3]\nsecret_access_key = 424242424242");
        assertTrue(!s3.contains("424242424242"), s3);
        String url = error("[server]\nadvertise_url = \"ftp://x\\nINJECTED\"");
        assertTrue(!url.contains("\n") && url.contains("ftp://x\\nINJECTED"), url);
    }
}
