package io.weaseldb.subscribe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weaseldb.testing.Sources;
import java.nio.file.Path;
import java.util.Set;
import java.util.regex.Pattern;
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
        Set<String> given = Sources.captured(Path.of("src/main/java/io/weaseldb/subscribe"),
                Pattern.compile("end\\(\"([a-z_]+)\"\\)|\"(shutdown)\""));
        assertTrue(given.containsAll(Set.of("slow", "error", "truncated", "leader_changed")), given.toString());
        assertTrue(SubscribeMetrics.DROP_REASONS.containsAll(given), given + " vs " + SubscribeMetrics.DROP_REASONS);
    }
}
