package io.weaseldb.http;

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
 * Audit 38: {@code weaseldb_http_rejected_total} had no series for a reason until it happened,
 * and Prometheus sees no increase in a series that first appears at 1, so an alert on the first
 * rejection after a restart could not fire. Every reason is exposed at 0 from the start.
 */
class HttpMetricsReasonsTest {
    @Test
    void everyRejectionReasonIsExposedAtZeroFromTheStart() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new HttpMetrics(registry);
        for (String reason : HttpMetrics.REJECTION_REASONS) {
            var c = registry.find("weaseldb.http.rejected").tag("reason", reason).counter();
            assertNotNull(c, reason);
            assertEquals(0.0, c.count(), reason);
        }
    }

    @Test
    void everyReasonTheServerGivesIsInTheList() throws Exception {
        Set<String> given = Sources.captured(Path.of("src/main/java/io/weaseldb/http"),
                Pattern.compile("(?:rejected|timeOut)\\(\"([a-z_]+)\"\\)|refuseUnframed\\([^\"\\n]*\"([a-z_]+)\""));
        assertTrue(given.size() >= 15, "the scan finds the reasons: " + given);
        assertTrue(HttpMetrics.REJECTION_REASONS.containsAll(given), given + " vs " + HttpMetrics.REJECTION_REASONS);
    }
}
