package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.config.ConfigLoader;
import io.weaseldb.config.WeaselConfig;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What a refused client is told (RFC 6750 section 3): the challenge and its error code, or a 400. */
class BearerChallengeTest extends PipelineFixture {
    static final String WRITER = "challenge-writer-0123456789";
    static final String ADMIN = "challenge-admin-01234567890";

    @Override
    @BeforeEach
    void openPipeline() {
        var writer = new WeaselConfig.Token("writer", ConfigLoader.sha256(WRITER), EnumSet.of(WeaselConfig.Role.COMMIT));
        var admin = new WeaselConfig.Token("admin", ConfigLoader.sha256(ADMIN), EnumSet.of(WeaselConfig.Role.ADMIN));
        openPipelineWith(settings(writer, admin));
    }

    private String answer(String headers) {
        send("GET /metrics HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
        List<String> answers = answers();
        assertEquals(1, answers.size(), answers.toString());
        return answers.get(0);
    }

    private static String challenge(String answer) {
        for (String line : answer.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("www-authenticate: ")) {
                return line.substring(18);
            }
        }
        return null;
    }

    @Test
    void noTokenGetsTheBareChallenge() {
        String a = answer("");
        assertEquals(401, status(a), a);
        assertEquals("Bearer realm=\"weaseldb\"", challenge(a));
    }

    @Test
    void anUnknownTokenGetsInvalidToken() {
        String a = answer("Authorization: Bearer not-a-configured-token-000\r\n");
        assertEquals(401, status(a), a);
        assertEquals("Bearer realm=\"weaseldb\", error=\"invalid_token\"", challenge(a));
    }

    @Test
    void aTokenWithoutTheRoleGetsInsufficientScope() {
        String a = answer("Authorization: Bearer " + WRITER + "\r\n");
        assertEquals(403, status(a), a);
        assertEquals("Bearer realm=\"weaseldb\", error=\"insufficient_scope\"", challenge(a));
        assertTrue(a.contains("\"error\":\"forbidden\""), a);
    }

    @Test
    void twoAuthorizationHeadersAreABadRequest() {
        // before: the first one counted, whichever it was
        for (String pair : List.of("Authorization: Bearer " + ADMIN + "\r\nAuthorization: Bearer " + WRITER + "\r\n",
                "Authorization: Bearer " + WRITER + "\r\nAuthorization: Bearer " + ADMIN + "\r\n")) {
            String a = answer(pair);
            assertEquals(400, status(a), a);
            assertTrue(a.contains("{\"error\":\"bad_request\",\"message\":\"more than one Authorization header\"}"), a);
            assertFalse(a.contains(ADMIN) || a.contains(WRITER), "tokens are never echoed");
        }
        send("GET /v1/version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN + "\r\n\r\n");
        assertEquals(List.of(200), statuses(answers()), "one header is served");
    }

    @Test
    void twoAuthorizationHeadersAreABadRequestWhenTheyAreTheFirstFieldsToo() {
        // the fast decoder's header table counts from its first field: a pair there is a pair
        send("GET /metrics HTTP/1.1\r\nAuthorization: Bearer " + ADMIN + "\r\nAuthorization: Bearer " + WRITER
                + "\r\nHost: x\r\n\r\n");
        List<String> answers = answers();
        assertEquals(List.of(400), statuses(answers), answers.toString());
        assertTrue(answers.get(0).contains("more than one Authorization header"), answers.get(0));
    }

    /** Audit 21, finding 8: tokens over plain HTTP beyond loopback are read off the wire; the server says so loudly. */
    @Test
    void aListenerOthersCanReachWarnsWithoutAuthenticationAndWithTokensOverPlainHttp() {
        org.junit.jupiter.api.Assertions.assertTrue(
                HttpServer.exposureWarning("0.0.0.0", false, false, false).contains("NO authentication"));
        String plain = HttpServer.exposureWarning("10.0.0.5", false, false, true);
        org.junit.jupiter.api.Assertions.assertNotNull(plain, "tokens over plain HTTP on a reachable address");
        org.junit.jupiter.api.Assertions.assertTrue(plain.contains("bearer tokens over plain HTTP"), plain);
        org.junit.jupiter.api.Assertions.assertNull(HttpServer.exposureWarning("10.0.0.5", false, true, true));
        org.junit.jupiter.api.Assertions.assertNull(HttpServer.exposureWarning("127.0.0.1", true, false, false));
        org.junit.jupiter.api.Assertions.assertNull(HttpServer.exposureWarning("127.0.0.1", true, false, true));
    }
}
