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
        assertEquals("test.toml: unknown configuration key [server].prot", error("[server]\nprot = 1"));
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
}
