package io.weaseldb.subscribe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Audit 38: the slow-reader alert ({@code increase(weaseldb_subscribers_dropped_total{reason="slow"}[15m]) > 0})
 * could not fire for the first drop after a restart: the series did not exist until then.
 */
class SubscribeMetricsReasonsTest {
    @Test
    void everyDropReasonIsExposedAtZeroFromTheStartAndIsOneTheServerGives() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new SubscribeMetrics(registry);
        for (String reason : SubscribeMetrics.DROP_REASONS) {
            var c = registry.find("weaseldb.subscribers.dropped").tag("reason", reason).counter();
            assertNotNull(c, reason);
            assertEquals(0.0, c.count(), reason);
        }
        Set<String> given = new TreeSet<>();
        Pattern p = Pattern.compile("end\\(\"([a-z_]+)\"\\)|\"(shutdown)\"");
        try (Stream<Path> files = Files.walk(Path.of("src/main/java/io/weaseldb/subscribe"))) {
            for (Path f : files.filter(x -> x.toString().endsWith(".java")).toList()) {
                Matcher m = p.matcher(Files.readString(f));
                while (m.find()) {
                    given.add(m.group(1) != null ? m.group(1) : m.group(2));
                }
            }
        }
        assertTrue(given.containsAll(Set.of("slow", "error", "truncated", "leader_changed")), given.toString());
        assertTrue(SubscribeMetrics.DROP_REASONS.containsAll(given), given + " vs " + SubscribeMetrics.DROP_REASONS);
    }
}
