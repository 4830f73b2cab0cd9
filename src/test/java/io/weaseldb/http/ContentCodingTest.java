package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.RawHttp;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Audit 42: a request body with a content coding (RFC 9110 8.4) is refused with a message that
 * names it. Before, a gzip body got "malformed JSON: invalid UTF-8", which hides the cause, and
 * a JSON body labelled {@code br} was committed as if the label were not there.
 */
class ContentCodingTest extends PipelineFixture {
    private static String coded(String method, String path, String coding, String body) {
        return method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Encoding: " + coding + "\r\nContent-Type: application/json"
                + "\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
    }

    @Test
    void aCodedCommitBodyIsRefusedByItsCodingAndNothingIsCommitted() {
        send(coded("POST", "/v1/commit", "br", HttpServerTest.WRITE)
                + coded("POST", "/v1/commit", "identity, gzip", HttpServerTest.WRITE)
                + coded("PUT", "/v1/retention/p1", "deflate", "{\"version\":0}")
                + RawHttp.get("/v1/version"));
        List<String> answers = answers();
        assertEquals(List.of(400, 400, 400, 200), statuses(answers), answers.toString());
        assertTrue(answers.get(0).endsWith("\"message\":\"Content-Encoding br is not supported: send the body uncompressed\"}"),
                answers.get(0));
        assertTrue(answers.get(0).toLowerCase(Locale.ROOT).contains("accept-encoding: identity"), answers.get(0));
        assertTrue(answers.get(1).contains("Content-Encoding gzip is not supported"), answers.get(1));
        assertTrue(answers.get(2).contains("Content-Encoding deflate is not supported"), answers.get(2));
        assertEquals(0, backend.requests.size(), "nothing committed");
        assertEquals(3.0, EmbeddedPipeline.rejected(registry, "content_coding"));
        assertTrue(channel.isActive(), "bodies read with their heads: the connection serves on");
    }

    @Test
    void identityIsNoCoding() {
        send(coded("POST", "/v1/commit", "identity", HttpServerTest.WRITE)
                + "GET /v1/version HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n\r\n"); // no body read: not refused
        List<String> answers = answers();
        assertEquals(List.of(200, 200), statuses(answers), answers.toString());
        assertEquals(1, backend.requests.size());
    }
}
