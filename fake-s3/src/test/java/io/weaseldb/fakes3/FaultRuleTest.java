package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class FaultRuleTest {
    @Test
    void parsesTheDocumentedSpecs() {
        FaultRule e = FaultRule.parse("op=PUT,kind=error,status=503,code=SlowDown,probability=0.2,count=10");
        assertEquals(new FaultRule(FaultRule.Operation.PUT, "", 0.2, 10, new FaultKind.Error(503, "SlowDown")), e);
        FaultRule l = FaultRule.parse("op=GET,kind=latency,min_ms=5,max_ms=50");
        assertEquals(new FaultRule(FaultRule.Operation.GET, "", 1.0, FaultRule.UNLIMITED,
                new FaultKind.Latency(5, 50)), l);
        assertEquals(new FaultKind.Latency(7, 7), FaultRule.parse("kind=latency,ms=7").kind());
        assertEquals(FaultRule.Operation.ANY, FaultRule.parse("kind=reset").operation());
        assertEquals(new FaultKind.Timeout(), FaultRule.parse("op=head,kind=timeout").kind());
        assertEquals("log/", FaultRule.parse("op=PUT,prefix=log/,kind=lost_reply").keyPrefix());
        assertEquals(new FaultKind.Error(500, "InternalError"), FaultRule.parse("kind=error").kind());
        assertEquals(new FaultKind.Error(429, "SlowDown"), FaultRule.parse("kind=error,status=429").kind());
    }

    @Test
    void specsRoundTrip() {
        for (String spec : List.of("op=PUT,kind=error,status=503,code=SlowDown,probability=0.2,count=10",
                "op=GET,kind=latency,min_ms=5,max_ms=50", "op=ANY,prefix=a/b,kind=reset", "op=LIST,kind=timeout",
                "op=DELETE,kind=lost_reply,count=1")) {
            FaultRule rule = FaultRule.parse(spec);
            assertEquals(rule, FaultRule.parse(rule.toSpec()), spec);
        }
    }

    @Test
    void badSpecsNameTheProblem() {
        record Bad(String spec, String mentions) {}
        for (Bad b : List.of(new Bad("op=PUT", "kind"), new Bad("kind=explode", "explode"),
                new Bad("kind=error,color=red", "color"), new Bad("kind=error,status=404", "code"),
                new Bad("kind=error,status=abc", "abc"), new Bad("kind=latency", "ms"),
                new Bad("kind=latency,min_ms=9,max_ms=3", "min_ms"), new Bad("kind=reset,probability=2", "probability"),
                new Bad("kind=reset,count=0", "count"), new Bad("op=POST,kind=reset", "POST"),
                new Bad("kind=reset,ms=4", "ms"), new Bad("kind=reset,kind=timeout", "duplicate"),
                new Bad("kind", "key=value"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FaultRule.parse(b.spec()),
                    b.spec());
            assertTrue(e.getMessage().contains(b.mentions()), b.spec() + ": " + e.getMessage());
        }
    }

    @Test
    void rulesMatchOperationAndPrefix() {
        FaultRule r = FaultRule.parse("op=PUT,prefix=log/,kind=reset");
        assertTrue(r.matches(FaultRule.Operation.PUT, "log/1"));
        assertFalse(r.matches(FaultRule.Operation.PUT, "retention/1"));
        assertFalse(r.matches(FaultRule.Operation.GET, "log/1"));
        assertFalse(r.matches(FaultRule.Operation.PUT, null));
        FaultRule any = FaultRule.parse("kind=reset");
        assertTrue(any.matches(FaultRule.Operation.LIST, null));
    }

    @Test
    void injectorCombinesLatencyWithOneTerminalFaultAndHonoursCounts() {
        FaultInjector f = FaultInjector.seeded(1);
        f.add("op=GET,kind=latency,ms=10");
        f.add("op=GET,kind=latency,ms=5");
        f.add("op=GET,kind=error,status=503,count=2");
        f.add("op=GET,kind=reset");
        assertEquals(new FaultPlan(15, Optional.of(new FaultKind.Error(503, "SlowDown"))),
                f.decide(FaultRule.Operation.GET, "k"));
        assertEquals(new FaultPlan(15, Optional.of(new FaultKind.Error(503, "SlowDown"))),
                f.decide(FaultRule.Operation.GET, "k"));
        assertEquals(new FaultPlan(15, Optional.of(new FaultKind.Reset())), f.decide(FaultRule.Operation.GET, "k"));
        assertEquals(FaultPlan.NONE, f.decide(FaultRule.Operation.PUT, "k"));
        assertEquals(2, f.injectedCount("error"));
        assertEquals(6, f.injectedCount("latency"));
        assertEquals(1, f.injectedCount("reset"));
        assertEquals(9, f.injectedCount());
        f.clear();
        assertEquals(FaultPlan.NONE, f.decide(FaultRule.Operation.GET, "k"));
        assertEquals(9, f.injectedCount(), "counters survive clear()");
    }

    @Test
    void sameSeedSameDecisions() {
        List<FaultPlan> a = decisions(7);
        assertEquals(a, decisions(7));
        assertFalse(a.equals(decisions(8)));
        long latencies = a.stream().filter(p -> p.delayMs() > 0).count();
        assertTrue(latencies > 0 && a.stream().allMatch(p -> p.delayMs() <= 50));
    }

    private static List<FaultPlan> decisions(long seed) {
        FaultInjector f = FaultInjector.seeded(seed);
        f.add("op=GET,kind=latency,min_ms=1,max_ms=50,probability=0.5");
        f.add("op=GET,kind=error,status=500,probability=0.3");
        List<FaultPlan> out = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            out.add(f.decide(FaultRule.Operation.GET, "k" + i));
        }
        return out;
    }

    @Test
    void perKeyErrorsUseOnlyPrefixedErrorRules() {
        FaultInjector f = FaultInjector.seeded(1);
        f.add("op=DELETE,kind=error,status=500");
        assertEquals(Optional.empty(), f.decideKeyError(FaultRule.Operation.DELETE, "log/1"));
        f.add("op=DELETE,prefix=log/,kind=error,status=500,count=1");
        assertEquals(Optional.of(new FaultKind.Error(500, "InternalError")),
                f.decideKeyError(FaultRule.Operation.DELETE, "log/1"));
        assertEquals(Optional.empty(), f.decideKeyError(FaultRule.Operation.DELETE, "log/2"));
    }
}
