package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.weaseldb.config.ConfigLoader;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.testing.RawHttp;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Each refusal is counted once under its reason in weaseldb_http_rejected_total, and each commit
 * refused before the pipeline under its outcome in the commit outcomes, where operators alert on
 * them (docs/operations.md): one connection per refusal, since most end it.
 */
class RejectionCountsTest extends PipelineFixture {
    private static final String WRITER = "rejection-counts-writer-0123456789";
    private static final String SUBSCRIBER = "rejection-counts-subscriber-0123456789";

    private double rejected(String reason) {
        return EmbeddedPipeline.rejected(registry, reason);
    }

    private double outcome(String name) {
        var c = registry.find("weaseldb.commits").tag("outcome", name).counter();
        return c == null ? 0 : c.count();
    }

    /** Sends {@code request} on a new connection authenticating two tokens, and returns its answers' statuses. */
    private List<Integer> refused(String request) {
        channel.finishAndReleaseAll();
        openPipelineWith(settings(
                new WeaselConfig.Token("writer", ConfigLoader.sha256(WRITER), EnumSet.of(WeaselConfig.Role.COMMIT)),
                new WeaselConfig.Token("subscriber", ConfigLoader.sha256(SUBSCRIBER), EnumSet.of(WeaselConfig.Role.SUBSCRIBE))));
        send(request);
        return statuses(answers());
    }

    private static String withToken(String method, String path, String token, String body) {
        return method + " " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
                + "\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
    }

    @Test
    void eachRefusalIsCountedUnderItsReason() {
        assertEquals(List.of(431), refused("GET /v1/version HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(2000) + "\r\n\r\n"));
        assertEquals(1.0, rejected("max_header_bytes"));

        assertEquals(List.of(414), refused("GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: x\r\n\r\n"));
        assertEquals(1.0, rejected("max_request_line"));

        assertEquals(List.of(401), refused(RawHttp.post("/v1/commit", HttpServerTest.WRITE)));
        assertEquals(1.0, rejected("unauthorized"));

        assertEquals(List.of(403), refused(withToken("POST", "/v1/commit", SUBSCRIBER, HttpServerTest.WRITE)));
        assertEquals(1.0, rejected("forbidden"));

        assertEquals(List.of(400), refused("GET /v1/version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + SUBSCRIBER
                + "\r\nAuthorization: Bearer " + SUBSCRIBER + "\r\n\r\n"));
        assertEquals(1.0, rejected("malformed_request"));

        assertEquals(List.of(413), refused(withToken("POST", "/v1/commit", WRITER, "x".repeat(5000))));
        assertEquals(1.0, rejected("max_request_size"));
        assertEquals(1.0, outcome("content_too_large"));
    }

    @Test
    void aFullPipelineIsCountedForCommitsAndStatusQueries() {
        backend.full = true;
        assertEquals(List.of(503), refused(withToken("POST", "/v1/commit", WRITER, HttpServerTest.WRITE)));
        assertEquals(1.0, rejected("pipeline_full"));
        assertEquals(List.of(503), refused("GET /v1/status?request_id=" + "r".repeat(24) + " HTTP/1.1\r\nHost: x\r\n"
                + "Authorization: Bearer " + WRITER + "\r\n\r\n"));
        assertEquals(2.0, rejected("pipeline_full"));
    }

    @Test
    void aMalformedCommitBodyIsABadRequestOutcome() {
        assertEquals(List.of(400), refused(withToken("POST", "/v1/commit", WRITER, "{\"operations\":[x]}")));
        assertEquals(1.0, outcome("bad_request"));
        assertEquals(List.of(400), refused("POST /v1/commit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + WRITER
                + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"ope\r\nzz\r\n"));
        assertEquals(2.0, outcome("bad_request"));
    }
}
