package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.micrometer.core.instrument.Timer;
import io.weaseldb.testing.RawHttp;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * GET /metrics carries request counts and latency by endpoint and status (docs/api.md): each
 * answer is counted when it is written, with the time from its request's head to then, on the
 * event loop's clock; an event stream is counted when it starts.
 */
class RequestMetricsTest extends PipelineFixture {
    private Timer requests(Endpoint endpoint, int status) {
        return registry.find("weaseldb.http.requests").tag("endpoint", endpoint.label)
                .tag("status", Integer.toString(status)).timer();
    }

    @Test
    void anAnswerIsCountedWithTheTimeItsRequestWaited() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        advance(250);
        backend.release(0);
        channel.runPendingTasks();
        assertEquals(List.of(200), statuses(answers()));
        Timer t = requests(Endpoint.COMMIT, 200);
        assertNotNull(t, "no commit 200 counted");
        assertEquals(1, t.count());
        assertEquals(250.0, t.totalTime(TimeUnit.MILLISECONDS), 1.0);
    }

    @Test
    void aStreamIsCountedWhenItStarts() {
        backend.hold = true;
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE) + RawHttp.get("/v1/subscribe?after=0"));
        advance(100);
        backend.release(0);
        channel.runPendingTasks();
        assertEquals(List.of(200, 200), statuses(answers()));
        Timer t = requests(Endpoint.SUBSCRIBE, 200);
        assertNotNull(t, "no stream counted");
        assertEquals(1, t.count());
        assertEquals(100.0, t.totalTime(TimeUnit.MILLISECONDS), 1.0);
    }

    private double commits(String outcome) {
        var c = registry.find("weaseldb.commits").tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    /** Commit outcomes count commits only: a status query's answer from the pipeline is not one. */
    @Test
    void aCommitsOutcomeIsCountedAndAStatusQuerysIsNot() {
        send(RawHttp.post("/v1/commit", HttpServerTest.WRITE));
        assertEquals(List.of(200), statuses(answers()));
        assertEquals(1.0, commits("committed"));
        send(RawHttp.get("/v1/status?request_id=" + "r".repeat(24))); // the held backend refuses every status query
        assertEquals(List.of(503), statuses(answers()));
        assertEquals(0.0, commits("unavailable"));
    }
}
