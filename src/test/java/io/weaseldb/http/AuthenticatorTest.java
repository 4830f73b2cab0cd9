package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.weaseldb.config.ConfigLoader;
import io.weaseldb.config.WeaselConfig;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The verdicts behind 401 (and which challenge), 403 and the requests let through. */
class AuthenticatorTest {
    private static final String ADMIN = "authenticator-admin-0123456789";
    private static final String SHORT = "x"; // configured tokens are longer; a presented one is just hashed
    private final Authenticator auth = new Authenticator(List.of(
            new WeaselConfig.Token("admin", ConfigLoader.sha256(ADMIN), EnumSet.of(WeaselConfig.Role.ADMIN)),
            new WeaselConfig.Token("short", ConfigLoader.sha256(SHORT), EnumSet.of(WeaselConfig.Role.COMMIT))));

    private static HttpRequest request(String authorization) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/metrics");
        if (authorization != null) {
            r.headers().set("Authorization", authorization);
        }
        return r;
    }

    @Test
    void aTokenWithItsRoleIsLetThroughInAnyCaseOfTheScheme() {
        assertEquals(Authenticator.Decision.ALLOW, auth.check(request("Bearer " + ADMIN), Endpoint.METRICS));
        assertEquals(Authenticator.Decision.ALLOW, auth.check(request("bearer " + ADMIN + "  "), Endpoint.RETENTION_LIST));
        assertEquals(Authenticator.Decision.FORBIDDEN, auth.check(request("Bearer " + ADMIN), Endpoint.COMMIT));
    }

    @Test
    void aOneCharacterTokenIsATokenNotAMissingOne() {
        // "Bearer x" is eight characters: a token was presented, so the challenge says invalid_token (or it is valid)
        assertEquals(Authenticator.Decision.ALLOW, auth.check(request("Bearer " + SHORT), Endpoint.COMMIT));
        assertEquals(Authenticator.Decision.INVALID_TOKEN, auth.check(request("Bearer y"), Endpoint.COMMIT));
        assertEquals(Authenticator.Decision.NO_TOKEN, auth.check(request("Bearer "), Endpoint.COMMIT));
        assertEquals(Authenticator.Decision.NO_TOKEN, auth.check(request("Basic dXNlcjpwYXNz"), Endpoint.COMMIT));
        assertEquals(Authenticator.Decision.NO_TOKEN, auth.check(request(null), Endpoint.COMMIT));
    }

    @Test
    void withoutTokensEveryRequestIsLetThroughAndOkIsAlwaysOpen() {
        Authenticator open = new Authenticator(List.of());
        assertEquals(false, open.enabled());
        assertEquals(true, auth.enabled());
        assertEquals(Authenticator.Decision.ALLOW, open.check(request(null), Endpoint.METRICS));
        assertEquals(Authenticator.Decision.ALLOW, auth.check(request(null), Endpoint.OK));
    }
}
