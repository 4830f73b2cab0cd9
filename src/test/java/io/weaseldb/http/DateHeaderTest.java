package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.RawHttp;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Audit 42: every answer carries {@code Date} (RFC 9110 6.6.1 requires it of an origin server
 * with a clock on 2xx, 3xx and 4xx answers), from the server's wall clock, whichever way it is
 * written: encoded by hand (pipeline outcomes), through Netty's encoder (everything else, and
 * answers that close the connection), or as a stream's head.
 */
class DateHeaderTest extends PipelineFixture {
    @Test
    void everyAnswerIsDated() {
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE) // 200, encoded by hand
                + RawHttp.get("/v1/version") // 200 through Netty's encoder
                + RawHttp.get("/v1/nothing") // 404
                + RawHttp.post("/v1/commit", "{") // 400
                + "GET /v1/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); // 200 that closes
        List<String> answers = answers();
        assertEquals(List.of(200, 200, 404, 400, 200), statuses(answers), answers.toString());
        for (String answer : answers) {
            assertTrue(answer.contains("\r\n" + EmbeddedPipeline.DATE_LINE), "no Date: " + answer);
        }
    }

    @Test
    void aStreamsHeadIsDated() {
        send(RawHttp.get("/v1/subscribe"));
        List<String> answers = answers();
        assertEquals(List.of(200), statuses(answers), answers.toString());
        assertTrue(answers.get(0).contains("\r\n" + EmbeddedPipeline.DATE_LINE), "no Date: " + answers.get(0));
    }
}
