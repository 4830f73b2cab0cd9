package io.weaseldb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line: what it refuses before anything starts (exit 2 in {@code main}). */
class MainTest {
    @TempDir
    Path dir;

    @Test
    void aFaultRuleThatDoesNotParseIsRefusedWithTheConfiguration() throws Exception {
        Path file = dir.resolve("w.toml");
        Files.writeString(file, "[s3]\nfake_transport = \"http\"\nfake_faults = [\"op=PUT,kind=error\", \"nonsense\"]\n");
        ConfigException e = assertThrows(ConfigException.class, () -> Main.parse(new String[] {"--config", file.toString()}));
        // was exit 1 at startup, which systemd restarts every 2 s
        assertTrue(e.getMessage().startsWith("[s3].fake_faults[1]: fault spec 'nonsense'"), e.getMessage());
    }

    /** The startup log names it (audit 32: a config/weaseldb.toml picked up, or none, was invisible). */
    @Test
    void theConfigurationsSourceIsKnownWithTheOverrides() throws Exception {
        Path file = Files.writeString(dir.resolve("w.toml"), "[server]\nport = 9100\n");
        Main.Parsed p = Main.parseWithSource(new String[] {"--config", file.toString(), "--port", "0"});
        assertEquals(file + ", with --port 0", p.source());
        assertEquals(0, p.config().server().port());
    }

    @Test
    void embeddedOnlyKeysSetWithAnEndpointAreNamed() throws Exception {
        String endpoint = "[s3]\nendpoint = \"http://minio:9000\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\n";
        Path plain = Files.writeString(dir.resolve("plain.toml"), endpoint);
        assertEquals("", Main.embeddedOnlyKeysSet(Main.parse(new String[] {"--config", plain.toString()})));
        Path set = Files.writeString(dir.resolve("set.toml"), endpoint + "data_dir = \"/srv/x\"\nfsync = false\nfake_layout = \"files\"\n");
        assertEquals("data_dir, fsync, fake_layout", Main.embeddedOnlyKeysSet(Main.parse(new String[] {"--config", set.toString()})));
        assertEquals("", Main.embeddedOnlyKeysSet(Main.parse(new String[] {"--data-dir", dir.toString()})),
                "embedded: they apply");
    }

    @Test
    void anEmptyDataDirFlagIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--data-dir", ""}));
        assertEquals("--data-dir must not be empty (a directory such as ./data)", e.getMessage());
    }

    @Test
    void anEmptyHostFlagIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--host", ""}));
        assertEquals("--host must not be empty (an address such as 127.0.0.1 or 0.0.0.0)", e.getMessage());
    }
}
