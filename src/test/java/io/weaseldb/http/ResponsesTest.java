package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.weaseldb.pipeline.Outcome;
import io.weaseldb.testing.RawHttp;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An outcome's answer encoded by {@link Responses#encodedOutcome} is, byte for byte, what the
 * response object of {@link Responses#outcome} becomes through Netty's encoder: for every kind
 * of outcome, over HTTP/1.1 and 1.0 keep-alive, with a Retry-After, with long and non-ASCII
 * strings, and without its body for HEAD.
 */
class ResponsesTest {
    private static final List<Outcome> OUTCOMES = List.of(
            new Outcome.Committed(7, "leader-1", "request-0000000000000001", false),
            new Outcome.Committed(Long.MAX_VALUE, "leader-1", "request-0000000000000001", true),
            new Outcome.Conflict(12, "L", "r-000000000000000000001", List.of(0)),
            new Outcome.Conflict(12, "L", "r-000000000000000000001", List.of(0, 3, 9)),
            new Outcome.TooOld(99, "L", "r-000000000000000000002"),
            new Outcome.LeaderChanged(5, "L2", "r-000000000000000000003"),
            new Outcome.Rejected("operations[0].key: \"\u00e9\\\" is not base64 \u2603"),
            new Outcome.Unavailable("the commit pipeline is full; retry shortly", false, 1, null, null),
            new Outcome.Unavailable("storage timed out", true, 0, "L", "r-000000000000000000004", "http://h:1"),
            new Outcome.Unavailable("x".repeat(5000), false, 120, "L", "r-000000000000000000005"),
            new Outcome.StatusCommitted("r-000000000000000000006", 4, "L"),
            new Outcome.StatusNotCommitted("r-000000000000000000007", 4),
            new Outcome.Truncated("the log before version 10 has been deleted", 10),
            new Outcome.Healthy(0, "L"));

    private static String viaNettyEncoder(Outcome outcome, boolean http10, boolean head) {
        FullHttpResponse r = Responses.outcome(ByteBufAllocator.DEFAULT, outcome);
        Responses.keepAlive(r, true, http10);
        EmbeddedChannel channel = new EmbeddedChannel(new HttpResponseEncoder() {
            @Override
            protected boolean isContentAlwaysEmpty(io.netty.handler.codec.http.HttpResponse msg) {
                return head || super.isContentAlwaysEmpty(msg);
            }
        });
        channel.writeOutbound(r);
        StringBuilder out = new StringBuilder();
        Object o;
        while ((o = channel.readOutbound()) != null) {
            ByteBuf b = (ByteBuf) o;
            out.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        channel.finishAndReleaseAll();
        return out.toString();
    }

    private static String encoded(Outcome outcome, boolean http10, boolean head) {
        ByteBuf b = Responses.encodedOutcome(ByteBufAllocator.DEFAULT, outcome, http10, head);
        try {
            return b.toString(StandardCharsets.ISO_8859_1);
        } finally {
            b.release();
        }
    }

    /** RFC 9110 6.6.1: an origin server with a clock dates its answers, in the IMF-fixdate form, in GMT. */
    @Test
    void everyAnswerIsDatedNow() {
        long before = System.currentTimeMillis() / 1000 * 1000;
        List<String> answers = new java.util.ArrayList<>();
        for (Outcome outcome : OUTCOMES) {
            answers.add(encoded(outcome, false, false));
            answers.add(viaNettyEncoder(outcome, false, false));
        }
        FullHttpResponse error = Responses.error(ByteBufAllocator.DEFAULT, HttpResponseStatus.NOT_FOUND, "not_found", "x");
        answers.add(error.headers().get("date") == null ? "" : "date: " + error.headers().get("date") + "\r\n");
        error.release();
        long after = System.currentTimeMillis();
        java.util.regex.Pattern imf = java.util.regex.Pattern.compile(
                "(?im)^date: ((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{2} [A-Z][a-z]{2} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT)\r\n");
        for (String answer : answers) {
            java.util.regex.Matcher m = imf.matcher(answer);
            assertTrue(m.find(), "no IMF-fixdate Date header in: " + answer);
            long at = java.time.ZonedDateTime.parse(m.group(1), java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME)
                    .toInstant().toEpochMilli();
            assertTrue(at >= before && at <= after, m.group(1) + " is not now");
        }
    }

    @Test
    void everyOutcomeEncodesAsNettysEncoderWouldHaveEncodedIt() {
        for (Outcome outcome : OUTCOMES) {
            for (boolean http10 : new boolean[] {false, true}) {
                for (boolean head : new boolean[] {false, true}) {
                    assertEquals(RawHttp.sameDate(viaNettyEncoder(outcome, http10, head)),
                            RawHttp.sameDate(encoded(outcome, http10, head)), outcome + " http10=" + http10 + " head=" + head);
                }
            }
        }
    }

    @Test
    void theStatusIsTheAnswersStatus() {
        for (Outcome outcome : OUTCOMES) {
            FullHttpResponse r = Responses.outcome(ByteBufAllocator.DEFAULT, outcome);
            assertEquals(r.status(), Responses.outcomeStatus(outcome), outcome.toString());
            r.release();
        }
    }
}
