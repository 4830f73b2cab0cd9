package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.weaseldb.config.ConfigLoader;
import org.junit.jupiter.api.Test;

/** The HTTP layer's settings as the configuration gives them. */
class HttpSettingsTest {
    @Test
    void anOversizedBodyIsDrainedUpToFourTimesTheLimitAndAtLeastOneMebibyte() {
        // read and dropped before the close, so that the client gets to read its 413
        HttpSettings defaults = HttpSettings.from(ConfigLoader.defaults());
        assertEquals(1L << 20, defaults.maxRequestSizeBytes());
        assertEquals(4L << 20, defaults.lingerBytes());
        HttpSettings small = HttpSettings.from(ConfigLoader.parse(
                "[server]\nmax_request_size_bytes = 1024\nmax_in_flight_request_bytes = 1024", "t"));
        assertEquals(1L << 20, small.lingerBytes());
    }
}
