package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.weaseldb.pipeline.Outcome;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The bodies and headers of answers as clients read them (docs/api.md), not only as the two
 * encoders agree on them ({@code ResponsesTest}).
 */
class ResponsesBodyTest {
    private static String body(Outcome outcome) {
        FullHttpResponse r = Responses.outcome(ByteBufAllocator.DEFAULT, outcome);
        try {
            return r.content().toString(StandardCharsets.UTF_8);
        } finally {
            r.release();
        }
    }

    @Test
    void aDuplicateCommitSaysSoAndAFirstOneDoesNot() {
        assertEquals("{\"status\":\"committed\",\"version\":7,\"leader_id\":\"L\",\"request_id\":\"r\",\"duplicate\":true}",
                body(new Outcome.Committed(7, "L", "r", true)));
        assertEquals("{\"status\":\"committed\",\"version\":7,\"leader_id\":\"L\",\"request_id\":\"r\"}",
                body(new Outcome.Committed(7, "L", "r", false)));
    }

    @Test
    void aConflictNamesItsOnePreconditionOrCountsThem() {
        assertEquals("{\"error\":\"conflict\",\"message\":\"precondition 3 failed: its keys changed after its read version\","
                + "\"status\":\"conflict\",\"version\":12,\"leader_id\":\"L\",\"request_id\":\"r\",\"conflicts\":[3]}",
                body(new Outcome.Conflict(12, "L", "r", List.of(3))));
        assertEquals("{\"error\":\"conflict\",\"message\":\"2 preconditions failed: their keys changed after the read version\","
                + "\"status\":\"conflict\",\"version\":12,\"leader_id\":\"L\",\"request_id\":\"r\",\"conflicts\":[0,3]}",
                body(new Outcome.Conflict(12, "L", "r", List.of(0, 3))));
    }

    @Test
    void anUnavailableAnswerCarriesTheLeaderOnlyWhenKnown() {
        // a standby's 503 tells the client where the leader is; a full pipeline's has no leader to name
        FullHttpResponse standby = Responses.outcome(ByteBufAllocator.DEFAULT,
                new Outcome.Unavailable("not the leader", false, 2, "L", "r", "http://leader:8080"));
        try {
            assertEquals("{\"error\":\"unavailable\",\"message\":\"not the leader\",\"outcome\":\"not_committed\","
                    + "\"request_id\":\"r\",\"leader_id\":\"L\",\"leader_url\":\"http://leader:8080\"}",
                    standby.content().toString(StandardCharsets.UTF_8));
            assertEquals("2", standby.headers().get(HttpHeaderNames.RETRY_AFTER));
            assertEquals(HttpResponseStatus.SERVICE_UNAVAILABLE, standby.status());
        } finally {
            standby.release();
        }
        assertEquals("{\"error\":\"unavailable\",\"message\":\"full\",\"outcome\":\"unknown\"}",
                body(new Outcome.Unavailable("full", true, 1, null, null)));
    }

    @Test
    void theContentLengthIsRightAcrossTheCachedSizes() {
        for (int n : new int[] {0, 1, 1023, 1024, 1025, 70_000}) {
            FullHttpResponse r = Responses.json(ByteBufAllocator.DEFAULT, HttpResponseStatus.OK, Unpooled.wrappedBuffer(new byte[n]));
            try {
                assertEquals(Integer.toString(n), r.headers().get(HttpHeaderNames.CONTENT_LENGTH));
            } finally {
                r.release();
            }
        }
    }
}
