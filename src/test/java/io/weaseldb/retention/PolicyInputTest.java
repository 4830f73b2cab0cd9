package io.weaseldb.retention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.json.BadRequestException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What a policy PUT accepts and refuses: its id, its body, and when a policy stops pinning. */
class PolicyInputTest {
    static PolicyCodec.Request parse(String body) throws BadRequestException {
        return PolicyCodec.parseRequest(body.getBytes(StandardCharsets.UTF_8));
    }

    static String refused(String body) {
        return assertThrows(BadRequestException.class, () -> parse(body), body).getMessage();
    }

    @Test
    void idsOfEveryAllowedCharacterUpTo128AreAcceptedAndNothingElse() {
        assertTrue(Policy.validId("azAZ09._-"), "the ends of every allowed range");
        assertTrue(Policy.validId("x".repeat(128)), "128 characters is the most, and allowed");
        assertFalse(Policy.validId("x".repeat(129)));
        assertFalse(Policy.validId(null));
        // the characters right outside each range
        for (char c : new char[] {'`', '{', '@', '[', '/', ':', ' ', '~', 'é'}) {
            assertFalse(Policy.validId("ok" + c), "'" + c + "' is not allowed");
        }
    }

    @Test
    void aTtlIsParsedAndBoundedToAHundredYears() throws Exception {
        long hundredYears = 100L * 365 * 86_400;
        assertEquals(new PolicyCodec.Request(7, 86_400L), parse("{\"version\": 7, \"ttl_seconds\": 86400}"));
        assertEquals(new PolicyCodec.Request(7, 86_400L), parse("{\"ttl_seconds\": 86400, \"version\": 7}"));
        assertEquals(new PolicyCodec.Request(7, 1L), parse("{\"version\": 7, \"ttl_seconds\": 1}"));
        assertEquals(new PolicyCodec.Request(7, hundredYears), parse("{\"version\": 7, \"ttl_seconds\": " + hundredYears + "}"));
        assertEquals(new PolicyCodec.Request(7, null), parse("{\"version\": 7, \"ttl_seconds\": null}"));
        for (String ttl : new String[] {"0", "-5", String.valueOf(hundredYears + 1), "\"60\"", "1.5", "true", "[60]",
            "99999999999999999999"}) {
            String m = refused("{\"version\": 7, \"ttl_seconds\": " + ttl + "}");
            assertTrue(m.startsWith("ttl_seconds must be a positive integer"), ttl + " -> " + m);
        }
    }

    @Test
    void versionZeroIsAVersionAndOnlyNonNegativeIntegersAre() throws Exception {
        assertEquals(new PolicyCodec.Request(0, null), parse("{\"version\": 0}"));
        for (String v : new String[] {"-1", "\"7\"", "7.0", "null", "99999999999999999999"}) {
            String m = refused("{\"version\": " + v + "}");
            assertTrue(m.startsWith("version must be a non-negative integer"), v + " -> " + m);
        }
        assertEquals("version is required", refused("{\"ttl_seconds\": 60}"));
    }

    /** As in commits, a field given twice is refused rather than the last one winning. */
    @Test
    void aKnownFieldGivenTwiceIsRefused() throws Exception {
        assertEquals("duplicate field \"version\"", refused("{\"version\": 1, \"version\": 2}"));
        assertEquals("duplicate field \"ttl_seconds\"", refused("{\"version\": 1, \"ttl_seconds\": 5, \"ttl_seconds\": 6}"));
        assertEquals("duplicate field \"ttl_seconds\"",
                refused("{\"ttl_seconds\": null, \"version\": 1, \"ttl_seconds\": 6}"), "a null ttl counts as given");
        assertEquals(new PolicyCodec.Request(1, 5L), parse("{\"x\": 1, \"version\": 1, \"x\": 2, \"ttl_seconds\": 5}"),
                "unknown fields are ignored, however often");
    }

    @Test
    void aPolicyExpiresAtItsExpiryInstant() {
        Policy p = new Policy("p", 5, 60L, 61_000L, 1_000L);
        assertFalse(p.expired(60_999));
        assertTrue(p.expired(61_000), "expires_at is the first instant it no longer pins");
        assertFalse(new Policy("q", 5, null, null, 1_000L).expired(Long.MAX_VALUE), "no ttl: never");
    }
}
