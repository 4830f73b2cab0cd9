package io.weaseldb.e2e;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar with {@code WEASELDB_LOG_FORMAT=json} (the systemd unit's setting): every
 * line it logs is a JSON object, from the first one on. Audit 32: a class with a logger loaded
 * before the switch was read, and every line came out as text.
 */
class JsonLogIT {
    @Test
    void everyLineIsJsonWhenAsked(@TempDir Path dir) throws Exception {
        List<String> cmd = List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx256m",
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", ServerProcess.jar().toString(),
                "--config", Files.writeString(dir.resolve("empty.toml"), "").toString(), "--port", "0",
                "--data-dir", dir.resolve("data").toString());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("WEASELDB_LOG_FORMAT", "json");
        Process p = pb.start();
        List<String> lines = new ArrayList<>();
        JsonFactory json = new JsonFactory();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            String line;
            boolean listening = false;
            while (!listening && System.nanoTime() < deadline && (line = r.readLine()) != null) {
                if (line.startsWith("WARNING:")) {
                    continue; // the JVM's own notices (native access), not the server's log
                }
                lines.add(line);
                try (JsonParser parser = json.createParser(line)) { // throws on a text line
                    assertTrue(parser.nextToken() == JsonToken.START_OBJECT, line);
                    parser.skipChildren();
                    assertTrue(parser.nextToken() == null, "one object per line: " + line);
                }
                listening = line.contains("WeaselDB listening on");
            }
            assertTrue(listening, "the server started and said so, in JSON:\n" + String.join("\n", lines));
        } finally {
            p.destroy();
            p.waitFor(30, TimeUnit.SECONDS);
            p.destroyForcibly();
        }
        assertFalse(lines.isEmpty());
    }
}
