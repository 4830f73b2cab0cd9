package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.weaseldb.pipeline.Outcome;
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

    /** Tue, 01 Dec 2026 09:00:00 GMT: a day of one digit, written with two. */
    private static final HttpDate DATE = new HttpDate(() -> 1_796_115_600_000L);

    /** As ConnectionHandler writes an answer that is not encoded by hand. */
    private static String viaNettyEncoder(Outcome outcome, boolean http10, boolean head) {
        FullHttpResponse r = Responses.outcome(ByteBufAllocator.DEFAULT, outcome);
        Responses.keepAlive(r, true, http10);
        r.headers().set(io.netty.handler.codec.http.HttpHeaderNames.DATE, DATE.value());
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
        ByteBuf b = Responses.encodedOutcome(ByteBufAllocator.DEFAULT, outcome, http10, head, DATE);
        try {
            return b.toString(StandardCharsets.ISO_8859_1);
        } finally {
            b.release();
        }
    }

    /** RFC 9110 5.6.7: IMF-fixdate, in GMT, the day of the month in two digits. */
    @Test
    void theDateIsAnImfFixdate() {
        assertEquals("Tue, 01 Dec 2026 09:00:00 GMT", DATE.value().toString());
        assertTrue(encoded(OUTCOMES.get(0), false, false).contains("\r\ndate: Tue, 01 Dec 2026 09:00:00 GMT\r\n\r\n"));
        long[] now = {784_111_777_999L};
        HttpDate ticking = new HttpDate(() -> now[0]);
        assertEquals("Sun, 06 Nov 1994 08:49:37 GMT", ticking.value().toString());
        now[0] += 1;
        assertEquals("Sun, 06 Nov 1994 08:49:38 GMT", ticking.value().toString(), "the next second");
    }

    @Test
    void everyOutcomeEncodesAsNettysEncoderWouldHaveEncodedIt() {
        for (Outcome outcome : OUTCOMES) {
            for (boolean http10 : new boolean[] {false, true}) {
                for (boolean head : new boolean[] {false, true}) {
                    assertEquals(viaNettyEncoder(outcome, http10, head), encoded(outcome, http10, head),
                            outcome + " http10=" + http10 + " head=" + head);
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
